//! The overview: today's and this week's counts per channel and outcome,
//! the delivered share, and SMS sent against SMS the cascade avoided, as
//! a server-rendered SVG chart with the same numbers in a table.

use super::render::channel_label;
use super::{Shared, Signed};
use crate::api::views;
use crate::service::now_ms;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, Utc};
use herald_core::{Channel, Millis};
use herald_store::ListQuery;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The most notifications the week's counts read; a busier week is
/// counted from its latest ones, and the page says so.
const MAX_COUNTED: usize = 1000;
/// Log lines read per store call.
const BATCH: usize = 200;
/// Outcomes in the order the chart stacks them.
const OUTCOMES: [&str; 7] = [
    "delivered",
    "failed",
    "unreachable",
    "skipped",
    "pending",
    "expired",
    "cancelled",
];

/// Counts of one period.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Notifications.
    pub notifications: usize,
    /// Notifications that ended delivered.
    pub delivered: usize,
    /// Notifications that ended (delivered or failed).
    pub finished: usize,
    /// (channel, outcome) → channels.
    pub by_channel: BTreeMap<(String, String), usize>,
    /// SMS channels that sent something.
    pub sms_sent: usize,
    /// Fallback SMS channels not needed: the cascade avoided them.
    pub sms_avoided: usize,
}

impl Counts {
    /// Adds one notification (as the API shows it).
    pub fn add(&mut self, n: &Value) {
        self.notifications += 1;
        match n["status"].as_str() {
            Some("delivered") => {
                self.delivered += 1;
                self.finished += 1;
            }
            Some("failed") | Some("expired") => self.finished += 1,
            _ => {}
        }
        for ch in n["channels"].as_array().into_iter().flatten() {
            let channel = ch["channel"].as_str().unwrap_or_default().to_string();
            let outcome = ch["outcome"].as_str().unwrap_or_default().to_string();
            if channel == "sms" {
                let sent = ch["attempts"].as_array().is_some_and(|a| !a.is_empty());
                if sent {
                    self.sms_sent += 1;
                } else if ch["scenario"] == "fallback" && outcome == "skipped" {
                    self.sms_avoided += 1;
                }
            }
            *self.by_channel.entry((channel, outcome)).or_default() += 1;
        }
    }

    /// The delivered share of finished notifications, in whole percent.
    pub fn delivered_pct(&self) -> Option<u64> {
        (self.finished > 0).then(|| (self.delivered as u64 * 100) / self.finished as u64)
    }

    fn view(&self) -> Value {
        let channels: Vec<Value> = Channel::ALL
            .iter()
            .map(|c| {
                let cells: Vec<Value> = OUTCOMES
                    .iter()
                    .map(|o| {
                        json!(self
                            .by_channel
                            .get(&(c.as_str().to_string(), o.to_string()))
                            .copied()
                            .unwrap_or(0))
                    })
                    .collect();
                json!({"channel": c.as_str(), "label": channel_label(*c), "cells": cells})
            })
            .collect();
        json!({
            "notifications": self.notifications,
            "delivered": self.delivered,
            "finished": self.finished,
            "delivered_pct": self.delivered_pct(),
            "sms_sent": self.sms_sent,
            "sms_avoided": self.sms_avoided,
            "channels": channels,
        })
    }
}

/// A horizontal stacked bar per channel, one colour per outcome, with a
/// title and description for screen readers.
pub fn chart(counts: &Counts, title: &str) -> String {
    const W: f64 = 560.0;
    const LABEL: f64 = 110.0;
    const ROW: f64 = 28.0;
    let max = Channel::ALL
        .iter()
        .map(|c| {
            OUTCOMES
                .iter()
                .map(|o| {
                    counts
                        .by_channel
                        .get(&(c.as_str().to_string(), o.to_string()))
                        .copied()
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let h = ROW * Channel::ALL.len() as f64 + 34.0;
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {h}\" role=\"img\" aria-labelledby=\"chart-title\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"chart-title\">{}</title>",
        esc(title)
    );
    for (i, c) in Channel::ALL.iter().enumerate() {
        let y = i as f64 * ROW;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" class=\"axis\">{}</text>",
            y + 18.0,
            esc(&channel_label(*c))
        ));
        let mut x = LABEL;
        for o in OUTCOMES {
            let n = counts
                .by_channel
                .get(&(c.as_str().to_string(), o.to_string()))
                .copied()
                .unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = (W - LABEL - 10.0) * n as f64 / max as f64;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" class=\"o-{o}\"><title>{}: {n} {o}</title></rect>",
                y + 4.0,
                ROW - 8.0,
                esc(&channel_label(*c))
            ));
            x += w;
        }
    }
    // The legend.
    let mut x = 0.0;
    let ly = ROW * Channel::ALL.len() as f64 + 14.0;
    for o in OUTCOMES.iter().take(5) {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{ly}\" width=\"12\" height=\"12\" class=\"o-{o}\"/><text x=\"{}\" y=\"{}\" class=\"axis\">{o}</text>",
            x + 16.0,
            ly + 11.0
        ));
        x += 100.0;
    }
    svg.push_str("</svg>");
    svg
}

/// Midnight UTC today, and Monday midnight UTC this week.
fn period_starts(now: Millis) -> (Millis, Millis) {
    let t: DateTime<Utc> = DateTime::from_timestamp_millis(now).unwrap_or_default();
    let today = t
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or(now);
    let back = i64::from(t.weekday().num_days_from_monday());
    (today, today - Duration::days(back).num_milliseconds())
}

/// `GET /`.
pub async fn page(State(c): State<Shared>, Signed(s): Signed) -> Response {
    let (today_start, week_start) = period_starts(now_ms());
    let mut today = Counts::default();
    let mut week = Counts::default();
    let mut before = None;
    let mut capped = false;
    'pages: loop {
        let q = ListQuery {
            limit: BATCH,
            before: before.clone(),
            created_from: Some(week_start),
            ..ListQuery::default()
        };
        let page = match c.app.store.list_notifications(&s.tenant.id, &q).await {
            Ok(p) => p,
            Err(e) => return c.failure(&s, e),
        };
        let full = page.len() >= BATCH;
        for sm in page {
            before = Some(sm.id.clone());
            if sm.created_at < week_start {
                break 'pages;
            }
            if week.notifications >= MAX_COUNTED {
                capped = true;
                break 'pages;
            }
            let Ok(Some(n)) = c.app.store.get_notification(&s.tenant.id, &sm.id).await else {
                continue;
            };
            let v = views::notification(&n);
            week.add(&v);
            if sm.created_at >= today_start {
                today.add(&v);
            }
        }
        if !full {
            break;
        }
    }
    let ctx = json!({
        "today": today.view(),
        "week": week.view(),
        "outcomes": OUTCOMES,
        "chart_today": chart(&today, "Today: channels by outcome"),
        "chart_week": chart(&week, "This week: channels by outcome"),
        "capped": capped,
        "max_counted": MAX_COUNTED,
    });
    c.page(&s, "overview.html", "overview", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(status: &str, sms_scenario: &str, sms_outcome: &str, sms_attempts: usize) -> Value {
        json!({"status": status, "channels": [
            {"channel": "email", "scenario": "always", "outcome": "unreachable", "attempts": []},
            {"channel": "sms", "scenario": sms_scenario, "outcome": sms_outcome,
             "attempts": vec![json!({}); sms_attempts]},
        ]})
    }

    #[test]
    fn counts_and_the_sms_the_cascade_avoided() {
        let mut c = Counts::default();
        c.add(&n("delivered", "fallback", "delivered", 1));
        c.add(&n("delivered", "fallback", "skipped", 0));
        c.add(&n("failed", "always", "failed", 2));
        c.add(&n("pending", "fallback", "pending", 0));
        assert_eq!(c.notifications, 4);
        assert_eq!(c.finished, 3);
        assert_eq!(c.delivered_pct(), Some(66));
        assert_eq!(c.sms_sent, 2);
        assert_eq!(c.sms_avoided, 1);
        assert_eq!(
            c.by_channel[&("email".to_string(), "unreachable".to_string())],
            4
        );
        let svg = chart(&c, "Week <all>");
        assert!(
            svg.starts_with("<svg") && svg.contains("Week &lt;all>"),
            "{svg}"
        );
        assert!(svg.contains("SMS: 1 delivered"), "{svg}");
    }

    #[test]
    fn the_week_starts_on_monday() {
        // 2026-12-02 is a Wednesday.
        let wed = DateTime::parse_from_rfc3339("2026-12-02T15:30:00Z")
            .unwrap()
            .timestamp_millis();
        let (today, week) = period_starts(wed);
        assert_eq!(views::timestamp(today), json!("2026-12-02T00:00:00.000Z"));
        assert_eq!(views::timestamp(week), json!("2026-11-30T00:00:00.000Z"));
    }
}
