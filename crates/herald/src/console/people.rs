//! Clients and staff: search, contact details, opt-outs, and app
//! installations per app and platform.

use super::form::Fields;
use super::render::channel_label;
use super::{path_segment, see_other, Key, Query, Shared, Signed};
use crate::error::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use herald_core::{AppInstall, Audience, Channel, Platform, Recipient};
use herald_store::RecipientQuery;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// People per page.
const PAGE: usize = 50;

/// `clients` or `staff`: the path and the navigation entry.
fn section(kind: Audience) -> &'static str {
    match kind {
        Audience::Client => "clients",
        Audience::Staff => "staff",
    }
}

/// The apps a person of this kind can have installed.
fn apps_of(kind: Audience) -> Vec<Channel> {
    Channel::ALL
        .into_iter()
        .filter(|c| c.is_push() && c.reaches(kind))
        .collect()
}

fn platform_name(p: Option<Platform>) -> &'static str {
    match p {
        Some(Platform::Ios) => "ios",
        Some(Platform::Android) => "android",
        None => "",
    }
}

/// A device token cut short for a table (the whole one is in the form).
fn short(token: &str) -> String {
    if token.chars().count() <= 16 {
        token.to_string()
    } else {
        format!("{}…", token.chars().take(12).collect::<String>())
    }
}

/// One person as the list and the editor show them.
fn person_view(kind: Audience, id: &str, r: &Recipient) -> Value {
    // App installations counted per app and platform.
    let mut installs: BTreeMap<(String, &'static str), Vec<String>> = BTreeMap::new();
    for a in &r.apps {
        installs
            .entry((channel_label(a.app), platform_name(a.platform)))
            .or_default()
            .push(short(&a.token));
    }
    json!({
        "id": id,
        "path": format!("/{}/{}", section(kind), path_segment(id)),
        "name": r.name,
        "email": r.email,
        "phone": r.phone,
        "locale": r.locale,
        "timezone": r.timezone,
        "opt_out": r.opt_out.iter().map(|c| channel_label(*c)).collect::<Vec<_>>(),
        "installs": installs.into_iter().map(|((app, platform), tokens)| json!({
            "app": app, "platform": if platform.is_empty() { "unknown" } else { platform },
            "count": tokens.len(), "tokens": tokens,
        })).collect::<Vec<_>>(),
    })
}

/// The editor's context: the fields, the opt-out boxes, the app rows
/// (one empty row to add a device), and a refused field's message.
fn editor(
    kind: Audience,
    id: &str,
    is_new: bool,
    r: &Recipient,
    error: Option<(String, String)>,
) -> Value {
    let opt_outs: Vec<Value> = Channel::ALL
        .into_iter()
        .filter(|c| c.reaches(kind))
        .map(|c| json!({"channel": c.as_str(), "label": channel_label(c), "checked": r.opt_out.contains(&c)}))
        .collect();
    let mut rows: Vec<Value> = r
        .apps
        .iter()
        .map(|a| json!({"app": a.app.as_str(), "token": a.token, "platform": platform_name(a.platform)}))
        .collect();
    rows.push(json!({"app": "", "token": "", "platform": ""}));
    let field_error = |name: &str| {
        error
            .as_ref()
            .filter(|(f, _)| f == name || f.starts_with(&format!("{name}[")))
            .map(|(_, m)| m.clone())
    };
    json!({
        "kind": kind.as_str(),
        "section": section(kind),
        "title": if kind == Audience::Client { "Client" } else { "Staff member" },
        "id": id,
        "id_path": path_segment(id),
        "log_href": format!(
            "/log?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("recipient", id)
                .finish()
        ),
        "is_new": is_new,
        "person": person_view(kind, id, r),
        "opt_outs": opt_outs,
        "apps": apps_of(kind).iter().map(|c| json!({"value": c.as_str(), "label": channel_label(*c)})).collect::<Vec<_>>(),
        "rows": rows,
        "errors": {
            "id": field_error("id"),
            "name": field_error("name"),
            "email": field_error("email"),
            "phone": field_error("phone"),
            "locale": field_error("locale"),
            "timezone": field_error("timezone"),
            "opt_out": field_error("opt_out"),
            "apps": field_error("apps"),
        },
        "error": error.map(|(f, m)| json!({"field": f, "message": m})),
    })
}

/// `GET /clients?q=&after=` (and `/staff`).
pub async fn list(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Query(q): Query,
    kind: Audience,
) -> Response {
    let text = q
        .get("q")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let query = RecipientQuery {
        q: text.clone(),
        limit: PAGE,
        after: q.get("after").filter(|a| !a.is_empty()).cloned(),
    };
    let (page, next) = match c.app.list_recipients(&s.tenant, kind, &query).await {
        Ok(x) => x,
        Err(e) => return c.failure(&s, e),
    };
    let people: Vec<Value> = page
        .iter()
        .map(|(id, r)| person_view(kind, id, r))
        .collect();
    let ctx = json!({
        "section": section(kind),
        "heading": if kind == Audience::Client { "Clients" } else { "Staff" },
        "kind": kind.as_str(),
        "q": text.unwrap_or_default(),
        "people": people,
        "next_href": next.map(|n| {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            ser.append_pair("q", q.get("q").map_or("", |v| v.as_str()));
            ser.append_pair("after", &n);
            format!("/{}?{}", section(kind), ser.finish())
        }),
        "new": editor(kind, "", true, &Recipient::default(), None),
    });
    c.page(&s, "people.html", section(kind), ctx)
}

/// `GET /clients/{id}` (and `/staff/{id}`).
pub async fn edit(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(id): Key,
    kind: Audience,
) -> Response {
    match c.app.store.get_recipient(&s.tenant.id, kind, &id).await {
        Ok(Some(r)) => c.page(
            &s,
            "person.html",
            section(kind),
            editor(kind, &id, false, &r, None),
        ),
        Ok(None) => see_other(&format!("/{}", section(kind))),
        Err(e) => c.failure(&s, e),
    }
}

/// The person a posted editor describes. A field that is not even the
/// right kind of value (an unknown app) is refused here, naming it.
fn posted(f: &Fields, kind: Audience) -> Result<Recipient, (String, String)> {
    let opt_out = f
        .all("opt_out")
        .filter_map(Channel::parse)
        .filter(|c| c.reaches(kind))
        .collect();
    let apps_field: Vec<&str> = f.all("app").collect();
    let tokens: Vec<&str> = f.all("token").collect();
    let platforms: Vec<&str> = f.all("platform").collect();
    let mut apps = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        let app_name = apps_field.get(i).copied().unwrap_or("");
        let app = Channel::parse(app_name).ok_or_else(|| {
            (
                format!("apps[{i}].app"),
                "choose the app this device token belongs to".to_string(),
            )
        })?;
        let platform = match platforms.get(i).copied().unwrap_or("") {
            "ios" => Some(Platform::Ios),
            "android" => Some(Platform::Android),
            _ => None,
        };
        apps.push(AppInstall {
            app,
            token: token.to_string(),
            platform,
        });
    }
    Ok(Recipient {
        name: f.text("name"),
        email: f.text("email"),
        phone: f.text("phone"),
        locale: f.text("locale"),
        timezone: f.text("timezone"),
        opt_out,
        apps,
    })
}

/// `POST /clients` (and `/staff`): creates or replaces the person the
/// form names.
pub async fn save(
    State(c): State<Shared>,
    Signed(s): Signed,
    f: Fields,
    kind: Audience,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let id = f.text("id").unwrap_or_default();
    let is_new = f.get("is_new") == Some("1");
    let shown = |r: &Recipient, e: (String, String)| {
        c.page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &s,
            "person.html",
            section(kind),
            editor(kind, &id, is_new, r, Some(e)),
        )
    };
    let r = match posted(&f, kind) {
        Ok(r) => r,
        Err(e) => return shown(&Recipient::default(), e),
    };
    match c.app.put_recipient(&s.tenant, kind, &id, r.clone()).await {
        Ok(_) => see_other(&format!("/{}/{}", section(kind), path_segment(&id))),
        Err(ServiceError::Invalid(e)) => shown(&r, (e.field, e.message)),
        Err(e) => c.failure(&s, e),
    }
}

/// `POST /clients/{id}/delete` (and `/staff/{id}/delete`).
pub async fn delete(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(id): Key,
    f: Fields,
    kind: Audience,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    match c.app.delete_recipient(&s.tenant, kind, &id).await {
        Ok(()) | Err(ServiceError::NotFound(_)) => see_other(&format!("/{}", section(kind))),
        Err(e) => c.failure(&s, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_person_with_devices() {
        let f = Fields::parse(
            b"id=ana&name=Ana&phone=%2B15550001111&email=&opt_out=sms&opt_out=admin_app\
              &app=aunio&token=tok1&platform=ios&app=branded_app&token=tok2&platform=android&app=&token=&platform=",
        );
        let r = posted(&f, Audience::Client).expect("valid");
        assert_eq!(r.phone.as_deref(), Some("+15550001111"));
        assert_eq!(r.email, None);
        // admin_app cannot reach a client: not an opt-out of theirs.
        assert_eq!(r.opt_out, [Channel::Sms]);
        assert_eq!(r.apps.len(), 2);
        assert_eq!(r.apps[1].platform, Some(Platform::Android));
        let v = person_view(Audience::Client, "ana", &r);
        assert_eq!(v["installs"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_token_without_an_app_is_refused_by_name() {
        let f = Fields::parse(b"id=ana&app=&token=tok1&platform=");
        let (field, _) = posted(&f, Audience::Client).expect_err("no app");
        assert_eq!(field, "apps[0].app");
    }
}
