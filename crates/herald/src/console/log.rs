//! The log: notifications filtered by status, type, channel, date and
//! recipient; each one's cascade timeline (per channel the scenario,
//! routes, attempts, provider, receipts, outcome and the human reason);
//! and a dry run of what a trigger would do for a chosen person.

use super::form::Fields;
use super::{path_segment, Key, Query, Session, Shared, Signed};
use crate::api::views;
use crate::error::ServiceError;
use crate::service::TriggerInput;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use herald_core::{Audience, Channel, Millis, Status};
use herald_store::ListQuery;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Rows per page of the log.
const SHOW: usize = 50;

/// The filters of the log page, as given.
#[derive(Debug, Default, Clone)]
struct Filters {
    status: Option<Status>,
    type_key: Option<String>,
    channel: Option<Channel>,
    /// Created on or after (epoch ms, from a date, UTC).
    from: Option<Millis>,
    /// Created before (the day after the date given).
    until: Option<Millis>,
    recipient: Option<String>,
}

fn day_start(d: &str) -> Option<Millis> {
    let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

impl Filters {
    fn of(q: &HashMap<String, String>) -> Filters {
        let text = |k: &str| {
            q.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Filters {
            status: text("status").and_then(|s| Status::parse(&s)),
            type_key: text("type"),
            channel: text("channel").and_then(|c| Channel::parse(&c)),
            from: text("from").and_then(|d| day_start(&d)),
            until: text("to")
                .and_then(|d| day_start(&d))
                .map(|t| t + 86_400_000),
            recipient: text("recipient"),
        }
    }
}

/// A notification as a log row: its summary and each channel's outcome.
fn row(n: &Value) -> Value {
    let who = n
        .get("client")
        .map(|c| format!("client {}", c.as_str().unwrap_or_default()))
        .or_else(|| {
            n.get("staff")
                .map(|c| format!("staff {}", c.as_str().unwrap_or_default()))
        })
        .unwrap_or_default();
    json!({
        "id": n["id"],
        "path": format!("/log/{}", path_segment(n["id"].as_str().unwrap_or_default())),
        "type": n["type"],
        "status": n["status"],
        "created_at": n["created_at"],
        "who": who,
        "channels": n["channels"].as_array().map(|chs| chs.iter().map(|ch| json!({
            "channel": ch["channel"], "outcome": ch["outcome"],
        })).collect::<Vec<_>>()).unwrap_or_default(),
    })
}

/// `GET /log?status=&type=&channel=&from=&to=&recipient=&before=`.
pub async fn list(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Query(q): Query,
) -> Response {
    let f = Filters::of(&q);
    // The store applies every filter; one row more than a page tells
    // whether there is an older page.
    let query = ListQuery {
        status: f.status,
        type_key: f.type_key.clone(),
        limit: SHOW + 1,
        before: q.get("before").filter(|b| !b.is_empty()).cloned(),
        channel: f.channel,
        created_from: f.from,
        created_before: f.until,
        recipient_contains: f.recipient.clone(),
    };
    let mut page = match c.app.store.list_notifications(&s.tenant.id, &query).await {
        Ok(p) => p,
        Err(e) => return c.failure(&s, e),
    };
    let next = (page.len() > SHOW).then(|| {
        page.truncate(SHOW);
        page.last().map(|sm| sm.id.clone())
    });
    let next = next.flatten();
    let mut rows = Vec::with_capacity(page.len());
    for sm in page {
        match c.app.store.get_notification(&s.tenant.id, &sm.id).await {
            Ok(Some(record)) => rows.push(row(&views::notification(&record))),
            Ok(None) => continue,
            Err(e) => return c.failure(&s, e),
        }
    }
    let types = match c.app.store.list_types(&s.tenant.id).await {
        Ok(t) => t.into_iter().map(|t| t.key).collect::<Vec<_>>(),
        Err(e) => return c.failure(&s, e),
    };
    // The filters again, for the form and the "older" link.
    let given: Vec<(String, String)> = ["status", "type", "channel", "from", "to", "recipient"]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect();
    let next_href = next.map(|n| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &given {
            ser.append_pair(k, v);
        }
        ser.append_pair("before", &n);
        format!("/log?{}", ser.finish())
    });
    let ctx = json!({
        "rows": rows,
        "next": next_href,
        "types": types,
        "channels": Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "f": given.into_iter().collect::<HashMap<_, _>>(),
    });
    c.page(&s, "log.html", "log", ctx)
}

/// `GET /log/{id}`: one notification's cascade, channel by channel.
pub async fn timeline(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(id): Key,
) -> Response {
    let record = match c.app.store.get_notification(&s.tenant.id, &id).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return c.page_with(
                StatusCode::NOT_FOUND,
                &s,
                "refused.html",
                "log",
                json!({"message": format!("There is no notification {id} in this log.")}),
            )
        }
        Err(e) => return c.failure(&s, e),
    };
    let integrations = match c.app.integrations(&s.tenant.id).await {
        Ok(i) => i,
        Err(e) => return c.failure(&s, e),
    };
    let mut view = views::notification(&record);
    // The provider each channel goes out through now (the log keeps the
    // attempts, not the integration they were sent with).
    if let Some(chs) = view["channels"].as_array_mut() {
        for ch in chs {
            let provider = ch["channel"]
                .as_str()
                .and_then(Channel::parse)
                .and_then(|c| integrations.get(&c))
                .map(|i| i.provider.clone());
            ch["provider"] = json!(provider);
            // The reason starts with the outcome the page already shows.
            let outcome = ch["outcome"].as_str().unwrap_or_default().to_string();
            let reason = ch["reason"].as_str().unwrap_or_default().to_string();
            let why = reason
                .strip_prefix(&format!("{outcome}: "))
                .unwrap_or(&reason)
                .to_string();
            ch["why"] = json!(why);
        }
    }
    let who = match record.audience {
        Audience::Client => format!("client {}", record.recipient_id),
        Audience::Staff => format!("staff {}", record.recipient_id),
    };
    let ctx = json!({
        "n": view,
        "who": who,
        "data": serde_json::to_string_pretty(&record.data).unwrap_or_default(),
    });
    c.page(&s, "timeline.html", "log", ctx)
}

/// The dry-run page's context; the error is a finished failure page.
async fn dry_run_ctx(
    c: &super::Console,
    s: &Session,
    f: Option<&Fields>,
) -> Result<Value, Box<Response>> {
    let types = c
        .app
        .store
        .list_types(&s.tenant.id)
        .await
        .map_err(|e| Box::new(c.failure(s, e)))?;
    let chosen = f.and_then(|f| f.text("type"));
    let person = f.and_then(|f| f.text("person")).unwrap_or_default();
    let data_text = f
        .and_then(|f| f.get("data"))
        .map(str::to_string)
        .unwrap_or_else(|| "{}".into());
    let mut result = Value::Null;
    if let (Some(key), Some(_)) = (&chosen, f) {
        let audience = types
            .iter()
            .find(|t| &t.key == key)
            .map(|t| t.config.audience)
            .unwrap_or(Audience::Client);
        result = match serde_json::from_str::<serde_json::Map<String, Value>>(data_text.trim()) {
            Err(e) => json!({"error": format!("Data must be a JSON object: {e}")}),
            Ok(data) => {
                let input = TriggerInput {
                    type_key: key.clone(),
                    client: (audience == Audience::Client).then(|| person.clone()),
                    staff: (audience == Audience::Staff).then(|| person.clone()),
                    data: Some(data),
                    ..Default::default()
                };
                match c.app.preview(&s.tenant, &input).await {
                    Ok((planned, items)) => views::preview(&planned, &items)
                        .map(|v| json!({"plan": v}))
                        .unwrap_or_else(|_| json!({"error": "the plan could not be shown"})),
                    Err(ServiceError::Invalid(e)) => json!({"error": e.message, "field": e.field}),
                    Err(ServiceError::NotFound(what)) => {
                        json!({"error": format!("{what} not found")})
                    }
                    Err(e) => return Err(Box::new(c.failure(s, e))),
                }
            }
        };
    }
    Ok(json!({
        "types": types.iter().map(|t| json!({
            "key": t.key, "audience": t.config.audience.as_str(),
            "selected": chosen.as_deref() == Some(t.key.as_str()),
        })).collect::<Vec<_>>(),
        "person": person,
        "data": data_text,
        "preview": {"result": result},
    }))
}

/// `GET /dry-run`.
pub async fn dry_run_page(State(c): State<Shared>, Signed(s): Signed) -> Response {
    match dry_run_ctx(&c, &s, None).await {
        Ok(ctx) => c.page(&s, "dry_run.html", "dry-run", ctx),
        Err(r) => *r,
    }
}

/// `POST /dry-run`: what a trigger would do for the chosen person;
/// nothing is stored or sent.
pub async fn dry_run(State(c): State<Shared>, Signed(s): Signed, f: Fields) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    match dry_run_ctx(&c, &s, Some(&f)).await {
        Ok(ctx) => c.page(&s, "dry_run.html", "dry-run", ctx),
        Err(r) => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_filters_cover_whole_days() {
        let q: HashMap<String, String> = [
            ("from".to_string(), "2026-12-01".to_string()),
            ("to".to_string(), "2026-12-01".to_string()),
            ("status".to_string(), "bogus".to_string()),
            ("channel".to_string(), "sms".to_string()),
        ]
        .into();
        let f = Filters::of(&q);
        assert_eq!(f.until.zip(f.from).map(|(u, s)| u - s), Some(86_400_000));
        assert_eq!(f.status, None);
        assert_eq!(f.channel, Some(Channel::Sms));
        assert_eq!(day_start("nope"), None);
    }
}
