//! The `twilio` integration's settings: the account, its auth token, the
//! sender, and the routes (API.md, "Real providers").
//!
//! The sender is a `From` number (E.164, or an alphanumeric sender ID) or a
//! Messaging Service (`MessagingServiceSid`, `MG…`): exactly one, as the
//! Messages resource takes one or the other
//! (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).

use crate::providers::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// Where Twilio's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// The routes a `twilio` integration may have.
pub const ROUTES: [&str; 2] = ["whatsapp", "sms"];
/// The settings that are secrets.
pub const SECRETS: &[&str] = &["auth_token"];

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

fn default_routes() -> Vec<String> {
    vec!["sms".into()]
}

/// The `twilio` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// The account SID (`AC` and 32 hex digits): the basic-auth user and
    /// part of the Messages URL.
    pub account_sid: String,
    /// The account's auth token: the basic-auth password and the key of
    /// `X-Twilio-Signature` (never shown: `Debug` redacts it).
    pub auth_token: SecretString,
    /// The sender: an E.164 number or an alphanumeric sender ID.
    #[serde(default)]
    pub from: Option<String>,
    /// Or a Messaging Service (`MG…`) that picks the sender.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The routes in the order tried: `["sms"]` or `["whatsapp", "sms"]`.
    #[serde(default = "default_routes")]
    pub routes: Vec<String>,
    /// The WhatsApp sender number (E.164); default `from`.
    #[serde(default)]
    pub whatsapp_from: Option<String>,
    /// Twilio's base URL; a setting so that tests can point it at a peer.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// How long one send may take.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// Who a message is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// `From=<number or alphanumeric ID>`.
    From(String),
    /// `MessagingServiceSid=MG…`.
    Service(String),
}

/// The settings, checked.
#[derive(Debug)]
pub struct Checked {
    /// The account SID.
    pub account_sid: String,
    /// The auth token.
    pub auth_token: SecretString,
    /// The SMS sender.
    pub sender: Sender,
    /// The WhatsApp sender (`From=whatsapp:<number>`, or the service).
    pub whatsapp_sender: Option<Sender>,
    /// The routes, checked.
    pub routes: Vec<String>,
    /// `{base_url}/2010-04-01/Accounts/{sid}/Messages.json`.
    pub messages_url: Url,
    /// The per-send timeout.
    pub timeout: Duration,
}

/// `+` and 8 to 15 digits, the first not 0 (E.164).
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// An alphanumeric sender ID: up to 11 letters, digits and spaces, at
/// least one letter (https://help.twilio.com/articles/223133767).
fn is_alphanumeric_sender(s: &str) -> bool {
    (1..=11).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

/// A Twilio SID: the two-letter prefix and 32 hex digits.
fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks the `routes` list: known names, distinct, at least one.
pub fn check_routes(routes: &[String]) -> Result<(), FieldError> {
    if routes.is_empty() {
        return Err(settings_error(
            "routes",
            "required",
            "routes must name at least one route: [\"sms\"] or [\"whatsapp\", \"sms\"]",
        ));
    }
    for (i, r) in routes.iter().enumerate() {
        if !ROUTES.contains(&r.as_str()) {
            return Err(settings_error(
                &format!("routes[{i}]"),
                "invalid_value",
                "a twilio route is \"whatsapp\" or \"sms\"",
            ));
        }
        if routes[..i].contains(r) {
            return Err(settings_error(
                &format!("routes[{i}]"),
                "duplicate",
                format!("route {r} is named twice"),
            ));
        }
    }
    Ok(())
}

/// Parses and checks the settings; errors name `settings.<field>` and never
/// quote the auth token.
pub fn parse(value: &serde_json::Value) -> Result<Checked, FieldError> {
    let s: TwilioSettings = parse_settings(value, SECRETS)?;
    if !is_sid(&s.account_sid, "AC") {
        return Err(settings_error(
            "account_sid",
            "invalid_value",
            "account_sid must be a Twilio account SID: AC and 32 hex digits",
        ));
    }
    if s.auth_token.expose_secret().is_empty() {
        return Err(settings_error(
            "auth_token",
            "required",
            "auth_token must not be empty: Twilio's basic auth and callback signatures use it",
        ));
    }
    let sender = match (&s.from, &s.messaging_service_sid) {
        (Some(_), Some(_)) => {
            return Err(settings_error(
                "messaging_service_sid",
                "conflict",
                "give from or messaging_service_sid, not both",
            ))
        }
        (None, None) => {
            return Err(settings_error(
                "from",
                "required",
                "from (a number or alphanumeric sender ID) or messaging_service_sid is required",
            ))
        }
        (Some(from), None) => {
            if !is_e164(from) && !is_alphanumeric_sender(from) {
                return Err(settings_error(
                    "from",
                    "invalid_value",
                    "from must be an E.164 number (+15550001111) or an alphanumeric sender ID (up to 11 letters, digits, spaces)",
                ));
            }
            Sender::From(from.clone())
        }
        (None, Some(mg)) => {
            if !is_sid(mg, "MG") {
                return Err(settings_error(
                    "messaging_service_sid",
                    "invalid_value",
                    "messaging_service_sid must be MG and 32 hex digits",
                ));
            }
            Sender::Service(mg.clone())
        }
    };
    check_routes(&s.routes)?;
    let whatsapp_sender = match &s.whatsapp_from {
        Some(n) => {
            let n = n.strip_prefix("whatsapp:").unwrap_or(n);
            if !is_e164(n) {
                return Err(settings_error(
                    "whatsapp_from",
                    "invalid_value",
                    "whatsapp_from must be the WhatsApp sender's E.164 number",
                ));
            }
            Some(Sender::From(format!("whatsapp:{n}")))
        }
        None => match &sender {
            Sender::From(n) if is_e164(n) => Some(Sender::From(format!("whatsapp:{n}"))),
            Sender::From(_) => None,
            Sender::Service(mg) => Some(Sender::Service(mg.clone())),
        },
    };
    if whatsapp_sender.is_none() && s.routes.iter().any(|r| r == "whatsapp") {
        return Err(settings_error(
            "whatsapp_from",
            "required",
            "the whatsapp route needs a number: an alphanumeric from cannot send WhatsApp, give whatsapp_from",
        ));
    }
    let base = match Url::parse(&s.base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return Err(settings_error(
                "base_url",
                "invalid_url",
                "base_url must be an http(s) URL",
            ))
        }
    };
    let messages_url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        base.as_str().trim_end_matches('/'),
        s.account_sid
    );
    let messages_url = Url::parse(&messages_url).map_err(|_| {
        settings_error("base_url", "invalid_url", "base_url must be an http(s) URL")
    })?;
    let timeout = timeout_setting(s.timeout_ms)?;
    Ok(Checked {
        account_sid: s.account_sid,
        auth_token: s.auth_token,
        sender,
        whatsapp_sender,
        routes: s.routes,
        messages_url,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn err(v: serde_json::Value) -> FieldError {
        parse(&v).expect_err("refused")
    }

    #[test]
    fn defaults_and_senders() {
        let c = parse(&json!({"account_sid": SID, "auth_token": "t", "from": "+15550001111"}))
            .expect("ok");
        assert_eq!(c.routes, vec!["sms"]);
        assert_eq!(c.sender, Sender::From("+15550001111".into()));
        assert_eq!(
            c.whatsapp_sender,
            Some(Sender::From("whatsapp:+15550001111".into()))
        );
        assert_eq!(
            c.messages_url.as_str(),
            format!("https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json")
        );
        let c = parse(&json!({"account_sid": SID, "auth_token": "t", "from": "Salon One"}))
            .expect("alphanumeric");
        assert_eq!(c.whatsapp_sender, None);
    }

    #[test]
    fn errors_name_the_field() {
        let base =
            || json!({"account_sid": SID, "auth_token": "tok-secret-1", "from": "+15550001111"});
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        assert_eq!(
            err(with("account_sid", json!("XX1"))).field,
            "settings.account_sid"
        );
        assert_eq!(err(with("from", json!("+0123"))).field, "settings.from");
        assert_eq!(
            err(with(
                "messaging_service_sid",
                json!("MG0123456789abcdef0123456789abcdef")
            ))
            .field,
            "settings.messaging_service_sid"
        );
        assert_eq!(
            err(json!({"account_sid": SID, "auth_token": "t"})).field,
            "settings.from"
        );
        assert_eq!(
            err(with("routes", json!(["sms", "sms"]))).field,
            "settings.routes[1]"
        );
        assert_eq!(
            err(with("routes", json!(["mms"]))).field,
            "settings.routes[0]"
        );
        assert_eq!(err(with("routes", json!([]))).field, "settings.routes");
        assert_eq!(err(with("extra", json!(1))).field, "settings.extra");
        assert_eq!(
            err(with("base_url", json!("ftp://x"))).field,
            "settings.base_url"
        );
        let e = err(with("auth_token", json!(12345)));
        assert_eq!(e.field, "settings.auth_token");
        assert!(!e.message.contains("12345"), "{e:?}");
        let mut b = with("from", json!("Salon"));
        b["routes"] = json!(["whatsapp", "sms"]);
        assert_eq!(err(b).field, "settings.whatsapp_from");
    }
}
