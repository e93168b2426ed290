//! Integrations: per channel the provider and its settings, secrets
//! write-only (shown as set / not set, never echoed into a page), a test
//! send, and the webhook URL to paste into the provider's dashboard.

use super::form::Fields;
use super::render::channel_label;
use super::{see_other, Key, Session, Shared, Signed};
use crate::error::ServiceError;
use crate::service::{parse_channel, IntegrationInput};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use herald_core::Channel;
use herald_store::Owner;
use serde_json::{json, Map, Value};

/// The chain provider's name (an SMS integration given as routes).
const CHAIN: &str = "chain";

/// What to show under one channel after a post: a broken rule, or the
/// answer of a test send.
#[derive(Debug, Default)]
struct Notice {
    channel: Option<Channel>,
    error: Option<(String, String)>,
    test: Option<Value>,
    /// The settings text as posted, secrets taken out.
    settings_text: Option<String>,
    provider: Option<String>,
}

/// Settings without the provider's secrets, as pretty JSON.
fn plain_settings(settings: &Value, secrets: &[&str]) -> String {
    let mut m = settings.as_object().cloned().unwrap_or_default();
    for s in secrets {
        m.remove(*s);
    }
    serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_else(|_| "{}".into())
}

async fn render(c: &super::Console, s: &Session, status: StatusCode, notice: Notice) -> Response {
    let all = match c.app.integrations(&s.tenant.id).await {
        Ok(a) => a,
        Err(e) => return c.failure(s, e),
    };
    let channels: Vec<Value> = Channel::ALL
        .iter()
        .map(|ch| {
            let current = all.get(ch);
            let view = current.map(|i| c.app.integration_view(i));
            let provider = current.map(|i| i.provider.clone());
            let providers: Vec<Value> = c
                .app
                .providers
                .iter()
                .filter(|(_, p)| p.supports(*ch))
                .map(|(name, p)| {
                    let shown = view
                        .as_ref()
                        .filter(|_| provider.as_deref() == Some(name))
                        .map(|v| v["settings"].clone())
                        .unwrap_or(Value::Null);
                    json!({
                        "name": name,
                        "secrets": p.secrets().iter().map(|sec| json!({
                            "name": sec,
                            "state": shown.get(*sec).and_then(Value::as_str).unwrap_or("not set"),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let here = notice.channel == Some(*ch);
            let chosen = here
                .then(|| notice.provider.clone())
                .flatten()
                .or_else(|| provider.clone())
                .unwrap_or_else(|| "simulator".into());
            let secrets: Vec<&str> = c
                .app
                .providers
                .get(&chosen)
                .map(|p| p.secrets().to_vec())
                .unwrap_or_default();
            let settings_text = match (here, &notice.settings_text, current) {
                (true, Some(t), _) => t.clone(),
                (_, _, Some(i)) if i.provider != CHAIN => plain_settings(&i.settings, &secrets),
                _ => "{}".into(),
            };
            json!({
                "channel": ch.as_str(),
                "label": channel_label(*ch),
                "view": view,
                "is_chain": provider.as_deref() == Some(CHAIN),
                "routes_text": view.as_ref().and_then(|v| v.get("routes")).map(|r| serde_json::to_string_pretty(r).unwrap_or_default()),
                "chosen": chosen,
                "providers": providers,
                "settings_text": settings_text,
                "error": here.then(|| notice.error.clone()).flatten().map(|(f, m)| json!({"field": f, "message": m})),
                "test": here.then(|| notice.test.clone()).flatten(),
            })
        })
        .collect();
    c.page_with(
        status,
        s,
        "integrations.html",
        "integrations",
        json!({"channels": channels}),
    )
}

/// `GET /integrations`.
pub async fn page(State(c): State<Shared>, Signed(s): Signed) -> Response {
    render(&c, &s, StatusCode::OK, Notice::default()).await
}

/// The integration a posted form describes; the second value is the
/// settings text to show again if the service refuses it.
fn input_of(f: &Fields, secrets: &[&str]) -> Result<(IntegrationInput, String), (String, String)> {
    let provider = f.text("provider").unwrap_or_default();
    let text = f.get("settings").unwrap_or("").trim();
    let mut settings: Map<String, Value> = if text.is_empty() {
        Map::new()
    } else {
        serde_json::from_str(text).map_err(|e| {
            (
                "settings".to_string(),
                format!("settings must be a JSON object: {e}"),
            )
        })?
    };
    // Secrets typed into the JSON are taken like the secret fields, and
    // never shown again.
    let echo = plain_settings(&Value::Object(settings.clone()), secrets);
    for name in secrets {
        if let Some(v) = f.get(&format!("secret.{provider}.{name}")) {
            if !v.is_empty() {
                settings.insert((*name).to_string(), Value::String(v.to_string()));
            }
        }
    }
    let mut body = json!({"provider": provider, "settings": settings});
    if let Some(confirm) = f.text("confirm") {
        body["confirm"] = json!(confirm);
    }
    if let Some(w) = f.text("window_s") {
        let n: u32 = w.parse().map_err(|_| {
            (
                "window_s".to_string(),
                "window_s must be a whole number of seconds".to_string(),
            )
        })?;
        body["window_s"] = json!(n);
    }
    let input: IntegrationInput =
        serde_json::from_value(body).map_err(|e| ("settings".to_string(), e.to_string()))?;
    Ok((input, echo))
}

/// `POST /integrations/{channel}`: creates or replaces the tenant's own.
pub async fn save(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(name): Key,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let Ok(channel) = parse_channel(&name) else {
        return see_other("/integrations");
    };
    let provider = f.text("provider");
    let secrets: Vec<&str> = provider
        .as_deref()
        .and_then(|p| c.app.providers.get(p))
        .map(|p| p.secrets().to_vec())
        .unwrap_or_default();
    let refused = |error: (String, String), echo: Option<String>| Notice {
        channel: Some(channel),
        error: Some(error),
        test: None,
        settings_text: echo,
        provider: provider.clone(),
    };
    let (input, echo) = match input_of(&f, &secrets) {
        Ok(x) => x,
        Err(e) => {
            let notice = refused(e, None);
            return render(&c, &s, StatusCode::UNPROCESSABLE_ENTITY, notice).await;
        }
    };
    match c
        .app
        .put_integration(Owner::Tenant(&s.tenant.id), channel, input)
        .await
    {
        Ok(_) => see_other(&format!("/integrations#{channel}")),
        Err(ServiceError::Invalid(e)) => {
            let notice = refused((e.field, e.message), Some(echo));
            render(&c, &s, StatusCode::UNPROCESSABLE_ENTITY, notice).await
        }
        Err(e) => c.failure(&s, e),
    }
}

/// `POST /integrations/{channel}/test`: one test message now.
pub async fn test(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(name): Key,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let Ok(channel) = parse_channel(&name) else {
        return see_other("/integrations");
    };
    let to = f.text("to").unwrap_or_default();
    let test = match c.app.test_integration(&s.tenant.id, channel, &to).await {
        Ok(reply) => {
            // The API's own answer type, so the page reads as the API does.
            let mut view = json!(crate::api::model::TestResult::from(&reply));
            view["to"] = json!(to);
            view
        }
        Err(ServiceError::Invalid(e)) => json!({"to": to, "result": "refused", "error": e.message}),
        Err(ServiceError::NotFound(what)) => {
            json!({"to": to, "result": "refused", "error": format!("{what} not found")})
        }
        Err(e) => return c.failure(&s, e),
    };
    let notice = Notice {
        channel: Some(channel),
        test: Some(test),
        ..Notice::default()
    };
    render(&c, &s, StatusCode::OK, notice).await
}

/// `POST /integrations/{channel}/delete`: removes the tenant's own (the
/// operator's, if any, applies again). People's addresses and device
/// tokens are not touched.
pub async fn delete(
    State(c): State<Shared>,
    Signed(s): Signed,
    axum::extract::Path(name): Key,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let Ok(channel) = parse_channel(&name) else {
        return see_other("/integrations");
    };
    match c
        .app
        .delete_integration(Owner::Tenant(&s.tenant.id), channel)
        .await
    {
        Ok(()) | Err(ServiceError::NotFound(_)) => see_other("/integrations"),
        Err(e) => c.failure(&s, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_into_the_settings_and_never_into_the_echo() {
        let f = Fields::parse(
            b"provider=smtp&settings=%7B%22host%22%3A%22mx%22%2C%22password%22%3A%22typed%22%7D\
              &secret.smtp.password=from-field&confirm=&window_s=120",
        );
        let (input, echo) = input_of(&f, &["password"]).expect("valid");
        let settings = input.settings.expect("settings");
        assert_eq!(settings["password"], "from-field");
        assert_eq!(settings["host"], "mx");
        assert!(
            !echo.contains("typed") && !echo.contains("from-field"),
            "{echo}"
        );
        assert_eq!(input.window_s, Some(120));
        assert_eq!(input.confirm, None);
    }

    #[test]
    fn bad_settings_text_names_the_field() {
        let f = Fields::parse(b"provider=smtp&settings=%7Bnope");
        let (field, _) = input_of(&f, &[]).expect_err("not JSON");
        assert_eq!(field, "settings");
    }
}
