//! The commands that talk to a running Herald over its HTTP API, as any
//! integration would: `send` a trigger and `show` a notification's
//! timeline.

use super::{ClientArgs, SendArgs, ShowArgs};
use anyhow::{bail, Context};
use herald::api::model::{ErrorBody, NotificationView, Timestamp, TriggerAccepted};
use herald::api::views::outcome_str;
use herald::service::TriggerInput;
use herald_core::Status;
use serde_json::Value;

/// One request to a running Herald; an error answer becomes an error
/// naming its status, message and field (read as `ErrorBody`).
async fn call(
    c: &ClientArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let url = format!("{}{path}", c.url.trim_end_matches('/'));
    let mut req = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(&c.api_key);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.with_context(|| {
        format!(
            "cannot reach Herald at {} (is `herald serve` running?)",
            c.url
        )
    })?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        let (message, field) = match serde_json::from_value::<ErrorBody>(body) {
            Ok(e) => (e.error.message, e.error.field),
            Err(_) => ("request failed".to_string(), None),
        };
        let field = field.map(|f| format!(" (field {f})")).unwrap_or_default();
        bail!("{status} {message}{field}");
    }
    Ok((status, body))
}

/// Reads an answer as the API's type for it.
fn read<T: serde::de::DeserializeOwned>(what: &str, body: Value) -> anyhow::Result<T> {
    serde_json::from_value(body)
        .with_context(|| format!("Herald's answer to {what} is not what the API describes"))
}

/// `herald send`: one trigger; its id, and with `--wait` its timeline once
/// it has an outcome.
pub(super) async fn send(a: SendArgs) -> anyhow::Result<()> {
    let data: Value = serde_json::from_str(&a.data).context("--data must be a JSON object")?;
    let Value::Object(data) = data else {
        bail!("--data must be a JSON object, e.g. '{{\"client_name\":\"Ana\"}}'");
    };
    let input = TriggerInput {
        type_key: a.type_key,
        client: a.client,
        staff: a.staff,
        data: Some(data),
        idempotency_key: a.idempotency_key,
        ..Default::default()
    };
    let body = serde_json::to_value(&input)?;
    let (status, resp) = call(
        &a.client_args,
        reqwest::Method::POST,
        "/v1/notifications",
        Some(&body),
    )
    .await?;
    // 202 answers `{"id", "status"}`, 200 (a repeated key) the whole
    // notification: both have these two.
    let accepted: TriggerAccepted = read("the trigger", resp)?;
    let id = accepted.id;
    if status == 200 {
        println!("{id} (already sent with this idempotency key)");
    } else {
        println!("{id}");
    }
    if a.wait {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
        loop {
            let n = notification(&a.client_args, &id).await?;
            if n.status != Status::Pending || std::time::Instant::now() > deadline {
                print!("{}", timeline(&n));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// `GET /v1/notifications/{id}`, read as a `NotificationView`.
async fn notification(c: &ClientArgs, id: &str) -> anyhow::Result<NotificationView> {
    let (_, body) = call(
        c,
        reqwest::Method::GET,
        &format!("/v1/notifications/{id}"),
        None,
    )
    .await?;
    read("GET /v1/notifications/{id}", body)
}

/// `herald show`: a notification's timeline (or its JSON).
pub(super) async fn show(a: ShowArgs) -> anyhow::Result<()> {
    if a.json {
        let (_, n) = call(
            &a.client_args,
            reqwest::Method::GET,
            &format!("/v1/notifications/{}", a.id),
            None,
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&n)?);
    } else {
        print!("{}", timeline(&notification(&a.client_args, &a.id).await?));
    }
    Ok(())
}

/// A time as the timeline shows it.
fn at(t: &Timestamp) -> &str {
    t.as_deref().unwrap_or("-")
}

/// The cascade as a terminal timeline.
pub fn timeline(n: &NotificationView) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let who = match (&n.client, &n.staff) {
        (Some(c), _) => format!("client {c}"),
        (None, s) => format!("staff {}", s.as_deref().unwrap_or("-")),
    };
    let _ = writeln!(
        out,
        "{}  {}  to {who}  {}\ncreated {}",
        n.id,
        n.type_key,
        n.status.as_str().to_uppercase(),
        at(&n.created_at)
    );
    if let Some(b) = &n.booking {
        let _ = writeln!(out, "booking {} starts {}", b.id, at(&b.starts_at));
    }
    if n.send_at.0.is_some() || n.deliver_before.0.is_some() {
        let _ = writeln!(
            out,
            "send at {}  deliver before {}",
            at(&n.send_at),
            at(&n.deliver_before)
        );
    }
    for (i, ch) in n.channels.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. {:<12} {:<9} {:<12} {}",
            i + 1,
            ch.channel.as_str(),
            ch.scenario.as_str(),
            outcome_str(ch.outcome),
            ch.reason
        );
        if ch.attempts.is_empty() && ch.planned_at.0.is_some() {
            let _ = writeln!(out, "      planned at {}", at(&ch.planned_at));
        }
        for a in &ch.attempts {
            let err = a
                .error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "      -> {} via {}: {}, {} request(s), sent {}{err}",
                a.to,
                a.route,
                a.status.as_str(),
                a.requests,
                at(&a.sent_at)
            );
            for r in &a.receipts {
                let late = if r.late { " (late)" } else { "" };
                let _ = writeln!(
                    out,
                    "         receipt {} at {}{late}",
                    r.status.as_str(),
                    at(&r.at)
                );
            }
        }
    }
    out
}
