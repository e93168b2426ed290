//! Notification types: the list, and one type's editor: its channels in
//! order with a scenario each (only the scenarios the channel allows, in
//! the help article's words), the fallback policy, templates per channel
//! and locale, and the API's preview. A broken rule shows the service's
//! own message next to the field it names, and nothing is saved.

use super::form::Fields;
use super::render::{channel_label, scenario_words};
use super::type_draft::{parts, place, Draft, Placed, SCENARIOS};
use super::{path_segment, see_other, Console, Key, Query, Shared, Signed};
use crate::error::ServiceError;
use crate::service::TriggerInput;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use herald_core::{Audience, FallbackWhen, TypeConfig};
use serde_json::{json, Value};

/// The editor's template context.
fn editor(key: &str, is_new: bool, d: &Draft, err: Option<&Placed>, extra: Value) -> Value {
    let rows: Vec<Value> = d
        .rows
        .iter()
        .enumerate()
        .map(|(i, (c, s))| {
            let label = channel_label(*c);
            let error = err.filter(|e| e.row == Some(*c)).map(|e| e.message.clone());
            json!({
                "channel": c.as_str(),
                "label": label,
                "position": i + 1,
                "error": error,
                "scenarios": SCENARIOS.iter().filter(|x| c.allows(**x)).map(|x| json!({
                    "value": x.as_str(),
                    "words": scenario_words(*x),
                    "selected": x == s,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let templates: Vec<Value> = d
        .rows
        .iter()
        .map(|(c, _)| {
            let locales: Vec<Value> = d
                .locales
                .iter()
                .map(|l| {
                    let fields: Vec<Value> = parts(*c)
                        .iter()
                        .map(|p| {
                            let api_field = format!("templates.{c}.{l}.{p}");
                            let error = err
                                .filter(|e| e.field == api_field || e.field == format!("templates.{c}.{l}"))
                                .map(|e| e.message.clone());
                            json!({
                                "name": format!("tpl.{c}.{l}.{p}"),
                                "id": format!("tpl-{c}-{l}-{p}"),
                                "part": p,
                                "multiline": *p == "body",
                                "value": d.texts.get(&(*c, l.clone(), *p)).cloned().unwrap_or_default(),
                                "error": error,
                            })
                        })
                        .collect();
                    json!({"locale": l, "fields": fields})
                })
                .collect();
            json!({"channel": c.as_str(), "label": channel_label(*c), "locales": locales})
        })
        .collect();
    let top_error = err.map(|e| json!({"field": e.field, "message": e.message}));
    let field_error = |name: &str| err.filter(|e| e.field == name).map(|e| e.message.clone());
    let mut ctx = json!({
        "key": key,
        "key_path": path_segment(key),
        "is_new": is_new,
        "audience": d.audience.as_str(),
        "fallback_when": match d.fallback_when {
            FallbackWhen::NoneDelivered => "none_delivered",
            FallbackWhen::AnyFailed => "any_failed",
        },
        "default_locale": d.default_locale,
        "default_locale_error": field_error("default_locale"),
        "channels_error": field_error("channels"),
        "locales": d.locales.join(", "),
        "rows": rows,
        "templates": templates,
        "error": top_error,
    });
    if let (Some(obj), Some(more)) = (ctx.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    ctx
}

/// `GET /types`.
pub async fn list(State(c): State<Shared>, Signed(s): Signed) -> Response {
    let all = match c.app.store.list_types(&s.tenant.id).await {
        Ok(all) => all,
        Err(e) => return c.failure(&s, e),
    };
    let types: Vec<Value> = all
        .iter()
        .map(|t| {
            json!({
                "key": t.key,
                "path": path_segment(&t.key),
                "audience": t.config.audience.as_str(),
                "channels": t.config.channels.iter().map(|ch| json!({
                    "channel": ch.channel.as_str(),
                    "scenario": ch.scenario.as_str(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    c.page(&s, "types.html", "types", json!({ "types": types }))
}

/// `GET /types/new?key=&audience=`: the key and audience, then the editor.
pub async fn new(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Query(q): Query,
) -> Response {
    match q.get("key").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        Some(key) => {
            let audience = if q.get("audience").map(String::as_str) == Some("staff") {
                "staff"
            } else {
                "client"
            };
            see_other(&format!("/types/{}?audience={audience}", path_segment(key)))
        }
        None => c.page(
            &s,
            "types.html",
            "types",
            json!({"types": [], "only_new": true}),
        ),
    }
}

/// `GET /types/{key}`: the editor (a new type when the key is unknown).
pub async fn edit(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(key): Key,
    axum::extract::Query(q): Query,
) -> Response {
    let stored = match c.app.store.get_type(&s.tenant.id, &key).await {
        Ok(t) => t,
        Err(e) => return c.failure(&s, e),
    };
    let (draft, is_new) = match &stored {
        Some(t) => (Draft::of(&t.config), false),
        None => {
            let audience = if q.get("audience").map(String::as_str) == Some("staff") {
                Audience::Staff
            } else {
                Audience::Client
            };
            (Draft::empty(audience), true)
        }
    };
    let extra = json!({"saved": q.contains_key("saved"), "preview": preview_form(&q, None)});
    c.page(
        &s,
        "type.html",
        "types",
        editor(&key, is_new, &draft, None, extra),
    )
}

/// The preview form's fields as they were last given.
fn preview_form(q: &std::collections::HashMap<String, String>, result: Option<Value>) -> Value {
    json!({
        "recipient": q.get("preview_recipient").cloned().unwrap_or_default(),
        "data": q.get("preview_data").cloned().unwrap_or_else(|| "{}".into()),
        "result": result,
    })
}

/// `POST /types/{key}`: saves the editor, or shows the rule it broke.
pub async fn save(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(key): Key,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let draft = Draft::posted(&f);
    let (mut config, stored) = draft.config();
    keep_unshown(&c, &s, &key, &mut config).await;
    match c.app.put_type(&s.tenant, &key, config).await {
        Ok(_) => see_other(&format!("/types/{}?saved=1", path_segment(&key))),
        Err(ServiceError::Invalid(e)) => {
            let placed = place(&e, &stored);
            let is_new = matches!(c.app.store.get_type(&s.tenant.id, &key).await, Ok(None));
            let extra = json!({"preview": preview_form(&Default::default(), None)});
            c.page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &s,
                "type.html",
                "types",
                editor(&key, is_new, &draft, Some(&placed), extra),
            )
        }
        Err(e) => c.failure(&s, e),
    }
}

/// `POST /types/{key}/delete`.
pub async fn delete(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(key): Key,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    match c.app.delete_type(&s.tenant, &key).await {
        Ok(()) | Err(ServiceError::NotFound(_)) => see_other("/types"),
        Err(e) => c.failure(&s, e),
    }
}

/// What the form does not show (quiet hours, `critical`) is kept as
/// stored, never dropped: by a save, and in the preview of a draft.
async fn keep_unshown(c: &Console, s: &super::Session, key: &str, config: &mut TypeConfig) {
    if let Ok(Some(old)) = c.app.store.get_type(&s.tenant.id, key).await {
        config.quiet_hours = old.config.quiet_hours;
        config.critical = old.config.critical;
    }
}

/// What the API's preview says for a recipient and data, as the preview
/// fragment's context: of the editor's unsaved fields when they were posted
/// with it (the page's script sends both forms), else of the saved type.
async fn run_preview(c: &Console, s: &super::Session, key: &str, f: &Fields) -> Value {
    let recipient = f.text("preview_recipient").unwrap_or_default();
    let data_text = f.get("preview_data").unwrap_or("{}").trim().to_string();
    let data = if data_text.is_empty() {
        Ok(serde_json::Map::new())
    } else {
        serde_json::from_str::<serde_json::Map<String, Value>>(&data_text)
            .map_err(|e| format!("Data must be a JSON object: {e}"))
    };
    let data = match data {
        Ok(d) => d,
        Err(message) => return json!({"error": message}),
    };
    let draft = match f.get("audience") {
        Some(_) => {
            let mut config = Draft::posted(f).config().0;
            keep_unshown(c, s, key, &mut config).await;
            Some(config)
        }
        None => None,
    };
    let audience = match &draft {
        Some(config) => config.audience,
        None => match c.app.store.get_type(&s.tenant.id, key).await {
            Ok(Some(t)) => t.config.audience,
            Ok(None) => {
                return json!({"error": "Save the type first: the preview runs on the saved type."})
            }
            Err(e) => return json!({"error": e.to_string()}),
        },
    };
    let input = TriggerInput {
        type_key: key.to_string(),
        client: (audience == Audience::Client).then(|| recipient.clone()),
        staff: (audience == Audience::Staff).then(|| recipient.clone()),
        data: Some(data),
        ..Default::default()
    };
    match c.app.preview_as(&s.tenant, &input, draft).await {
        Ok((planned, items)) => match crate::api::views::preview(&planned, &items) {
            Ok(v) => json!({"plan": v}),
            Err(_) => json!({"error": "the preview could not be shown"}),
        },
        Err(ServiceError::Invalid(e)) => json!({"error": e.message, "field": e.field}),
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// `POST /types/{key}/preview`: the preview fragment for the page's
/// script (`X-Herald-Fragment: 1`), else the editor with the preview.
pub async fn preview(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(key): Key,
    headers: HeaderMap,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let result = run_preview(&c, &s, &key, &f).await;
    if headers.get("x-herald-fragment").is_some() {
        return c.pages.respond(
            StatusCode::OK,
            "preview.html",
            &json!({"preview": {"result": result}}),
        );
    }
    let stored = match c.app.store.get_type(&s.tenant.id, &key).await {
        Ok(t) => t,
        Err(e) => return c.failure(&s, e),
    };
    let draft = stored
        .as_ref()
        .map_or_else(|| Draft::empty(Audience::Client), |t| Draft::of(&t.config));
    let given: std::collections::HashMap<String, String> = f.0.iter().cloned().collect();
    let extra = json!({"preview": preview_form(&given, Some(result))});
    c.page(
        &s,
        "type.html",
        "types",
        editor(&key, stored.is_none(), &draft, None, extra),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_scenarios_are_offered() {
        let d = Draft::empty(Audience::Client);
        let ctx = editor("k", true, &d, None, json!({}));
        let email = &ctx["rows"][0];
        assert_eq!(email["label"], "E-mail");
        let words: Vec<&str> = email["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["words"].as_str().unwrap())
            .collect();
        assert_eq!(words, ["Do not send", "Always send"]);
        let sms = &ctx["rows"][3];
        assert_eq!(sms["label"], "SMS");
        assert_eq!(sms["scenarios"].as_array().unwrap().len(), 3);
    }
}
