//! Notification types: the list, and one type's editor: its channels in
//! order with a scenario each (only the scenarios the channel allows, in
//! the help article's words), the fallback policy, templates per channel
//! and locale, and the API's preview. A broken rule shows the service's
//! own message next to the field it names, and nothing is saved.

use super::form::Fields;
use super::render::{channel_label, scenario_words};
use super::{path_segment, see_other, Console, Key, Query, Shared, Signed};
use crate::error::ServiceError;
use crate::service::TriggerInput;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use herald_core::{
    Audience, Channel, ChannelSetting, FallbackWhen, FieldError, Scenario, TemplateText, TypeConfig,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SCENARIOS: [Scenario; 3] = [Scenario::Off, Scenario::Always, Scenario::Fallback];

/// The parts of a channel's template: e-mail has a subject, push a title.
fn parts(c: Channel) -> &'static [&'static str] {
    match c {
        Channel::Email => &["subject", "body"],
        Channel::Sms => &["body"],
        _ => &["title", "body"],
    }
}

/// The editor's state: what is stored, or what was just posted.
#[derive(Debug, Clone)]
struct Draft {
    audience: Audience,
    /// Every channel the audience can reach, in the order shown.
    rows: Vec<(Channel, Scenario)>,
    fallback_when: FallbackWhen,
    default_locale: String,
    locales: Vec<String>,
    /// (channel, locale, part) → text.
    texts: BTreeMap<(Channel, String, &'static str), String>,
}

fn reachable(audience: Audience) -> impl Iterator<Item = Channel> {
    Channel::ALL
        .into_iter()
        .filter(move |c| c.reaches(audience))
}

impl Draft {
    /// A new type: every channel the audience reaches, not sent.
    fn empty(audience: Audience) -> Draft {
        Draft {
            audience,
            rows: reachable(audience).map(|c| (c, Scenario::Off)).collect(),
            fallback_when: FallbackWhen::NoneDelivered,
            default_locale: "en".into(),
            locales: vec!["en".into()],
            texts: BTreeMap::new(),
        }
    }

    /// A stored type: its channels in order, then the others as off.
    fn of(config: &TypeConfig) -> Draft {
        let mut rows: Vec<(Channel, Scenario)> = config
            .channels
            .iter()
            .map(|s| (s.channel, s.scenario))
            .collect();
        for c in reachable(config.audience) {
            if !rows.iter().any(|(r, _)| *r == c) {
                rows.push((c, Scenario::Off));
            }
        }
        let mut locales = vec![config.default_locale.clone()];
        let mut texts = BTreeMap::new();
        for (name, by_locale) in &config.templates {
            let Some(c) = Channel::parse(name) else {
                continue;
            };
            for (locale, t) in by_locale {
                if !locales.contains(locale) {
                    locales.push(locale.clone());
                }
                for part in parts(c) {
                    let v = match *part {
                        "subject" => &t.subject,
                        "title" => &t.title,
                        _ => &t.body,
                    };
                    if let Some(v) = v {
                        texts.insert((c, locale.clone(), *part), v.clone());
                    }
                }
            }
        }
        Draft {
            audience: config.audience,
            rows,
            fallback_when: config.fallback_when,
            default_locale: config.default_locale.clone(),
            locales,
            texts,
        }
    }

    /// What the editor posted.
    fn posted(f: &Fields) -> Draft {
        let audience = match f.get("audience") {
            Some("staff") => Audience::Staff,
            _ => Audience::Client,
        };
        // Rows in the order of their position numbers; ties keep the
        // order of the page.
        let mut rows: Vec<(f64, usize, Channel, Scenario)> = reachable(audience)
            .enumerate()
            .map(|(i, c)| {
                let pos = f
                    .get(&format!("position.{c}"))
                    .and_then(|p| p.trim().parse::<f64>().ok())
                    .unwrap_or(i as f64 + 1.0);
                let shown = f.all("channel").position(|n| n == c.as_str()).unwrap_or(i);
                let scenario = match f.get(&format!("scenario.{c}")) {
                    Some("always") => Scenario::Always,
                    Some("fallback") => Scenario::Fallback,
                    _ => Scenario::Off,
                };
                (pos, shown, c, scenario)
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let default_locale = f.text("default_locale").unwrap_or_else(|| "en".into());
        let mut locales = vec![default_locale.clone()];
        for l in f.get("locales").unwrap_or("").split([',', ' ']) {
            let l = l.trim();
            if !l.is_empty() && !locales.iter().any(|x| x == l) {
                locales.push(l.to_string());
            }
        }
        let mut texts = BTreeMap::new();
        for c in reachable(audience) {
            for locale in &locales {
                for part in parts(c) {
                    if let Some(v) = f.get(&format!("tpl.{c}.{locale}.{part}")) {
                        if !v.trim().is_empty() {
                            texts.insert((c, locale.clone(), *part), v.replace("\r\n", "\n"));
                        }
                    }
                }
            }
        }
        Draft {
            audience,
            rows: rows.into_iter().map(|(_, _, c, s)| (c, s)).collect(),
            fallback_when: match f.get("fallback_when") {
                Some("any_failed") => FallbackWhen::AnyFailed,
                _ => FallbackWhen::NoneDelivered,
            },
            default_locale,
            locales,
            texts,
        }
    }

    /// The type to store. Channels set to "Do not send" are left out (they
    /// would be skipped anyway); the second value maps each stored
    /// channel's index back to its row, so an error naming
    /// `channels[i]` lands next to the right select.
    fn config(&self) -> (TypeConfig, Vec<Channel>) {
        let kept: Vec<(Channel, Scenario)> = self
            .rows
            .iter()
            .copied()
            .filter(|(_, s)| *s != Scenario::Off)
            .collect();
        let mut templates: BTreeMap<String, BTreeMap<String, TemplateText>> = BTreeMap::new();
        for ((c, locale, part), text) in &self.texts {
            let t = templates
                .entry(c.as_str().to_string())
                .or_default()
                .entry(locale.clone())
                .or_default();
            let slot = match *part {
                "subject" => &mut t.subject,
                "title" => &mut t.title,
                _ => &mut t.body,
            };
            *slot = Some(text.clone());
        }
        let config = TypeConfig {
            audience: self.audience,
            channels: kept
                .iter()
                .map(|(channel, scenario)| ChannelSetting {
                    channel: *channel,
                    scenario: *scenario,
                })
                .collect(),
            fallback_when: self.fallback_when,
            default_locale: self.default_locale.clone(),
            templates,
            // The form has no fields for these; `save` keeps the stored ones.
            quiet_hours: None,
            critical: false,
        };
        (config, kept.into_iter().map(|(c, _)| c).collect())
    }
}

/// Where a broken rule is shown: the row of a channel, a template field,
/// or the top of the form.
#[derive(Debug, Default)]
struct Placed {
    field: String,
    message: String,
    /// The channel row the error belongs to.
    row: Option<Channel>,
}

fn place(e: &FieldError, stored: &[Channel]) -> Placed {
    let row = e
        .field
        .strip_prefix("channels[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| stored.get(i).copied());
    Placed {
        field: e.field.clone(),
        message: e.message.clone(),
        row,
    }
}

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
    // What the form does not show is kept as stored, never dropped.
    if let Ok(Some(old)) = c.app.store.get_type(&s.tenant.id, &key).await {
        config.quiet_hours = old.config.quiet_hours;
        config.critical = old.config.critical;
    }
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
    let draft = f
        .get("audience")
        .is_some()
        .then(|| Draft::posted(f).config().0);
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

    fn seed_form() -> Fields {
        Fields::parse(
            b"audience=client&channel=email&position.email=1&scenario.email=always\
              &channel=aunio&position.aunio=2&scenario.aunio=always\
              &channel=branded_app&position.branded_app=3&scenario.branded_app=fallback\
              &channel=sms&position.sms=4&scenario.sms=fallback\
              &default_locale=en&locales=en%2C+de&tpl.sms.en.body=Hi+%7B%7B+client_name+%7D%7D\
              &tpl.email.de.subject=Termin&tpl.email.de.body=",
        )
    }

    #[test]
    fn a_posted_form_becomes_the_type() {
        let (config, stored) = Draft::posted(&seed_form()).config();
        let got: Vec<(Channel, Scenario)> = config
            .channels
            .iter()
            .map(|c| (c.channel, c.scenario))
            .collect();
        assert_eq!(
            got,
            [
                (Channel::Email, Scenario::Always),
                (Channel::Aunio, Scenario::Always),
                (Channel::BrandedApp, Scenario::Fallback),
                (Channel::Sms, Scenario::Fallback),
            ]
        );
        assert_eq!(stored.len(), 4);
        assert_eq!(
            config.templates["sms"]["en"].body.as_deref(),
            Some("Hi {{ client_name }}")
        );
        // An empty text is no template part.
        assert_eq!(config.templates["email"]["de"].body, None);
        assert!(config.validate().is_ok());
        // Stored and shown again: the same rows and texts.
        let again = Draft::of(&config);
        assert_eq!(again.rows, Draft::posted(&seed_form()).rows);
        assert_eq!(again.locales, ["en", "de"]);
    }

    #[test]
    fn positions_order_the_rows_and_off_rows_are_left_out() {
        let f = Fields::parse(
            b"audience=client&position.email=1&scenario.email=off&position.aunio=2&scenario.aunio=off\
              &position.branded_app=4&scenario.branded_app=fallback&position.sms=3&scenario.sms=always",
        );
        let d = Draft::posted(&f);
        assert_eq!(d.rows[2], (Channel::Sms, Scenario::Always));
        let (config, stored) = d.config();
        assert_eq!(stored, [Channel::Sms, Channel::BrandedApp]);
        assert!(config.validate().is_ok(), "{config:?}");
    }

    #[test]
    fn a_broken_rule_is_placed_on_its_row() {
        // Nothing enabled before a fallback: the first stored channel is
        // the branded app, whose scenario the rule names.
        let f = Fields::parse(
            b"audience=client&scenario.email=off&scenario.aunio=off&scenario.branded_app=fallback&scenario.sms=off",
        );
        let (config, stored) = Draft::posted(&f).config();
        let e = config.validate().expect_err("leading fallback");
        let placed = place(&e, &stored);
        assert_eq!(placed.row, Some(Channel::BrandedApp));
        assert_eq!(placed.field, "channels[0].scenario");
    }

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
