//! The `whatsapp` integration's settings: the business phone number that
//! sends, the tokens Meta gave the business, and an optional approved
//! template (API.md, "Real providers").

use crate::providers::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// The Graph API version Herald speaks unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v21.0";

/// The settings that are secrets.
pub const SECRETS: &[&str] = &["access_token", "app_secret", "verify_token"];

/// The `whatsapp` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappSettings {
    /// The sending business phone number's id (Meta's, not the number).
    pub phone_number_id: String,
    /// A system user's access token (bearer on every send).
    pub access_token: SecretString,
    /// The Meta app's secret: status webhooks are signed with it.
    pub app_secret: SecretString,
    /// The token Meta echoes in the webhook subscription handshake.
    pub verify_token: SecretString,
    /// An approved template to send instead of free text (business-initiated
    /// messages outside the 24-hour window must be templates).
    #[serde(default)]
    pub template: Option<Template>,
    /// The Graph API base, with its version.
    #[serde(default)]
    pub base_url: Option<String>,
    /// How long one send may take.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// An approved message template whose body has one text parameter, filled
/// with the rendered text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// Its language code (`en_US`).
    pub language: String,
}

/// The settings, checked.
#[derive(Debug)]
pub struct Checked {
    /// `{base}/{phone_number_id}/messages`.
    pub messages_url: Url,
    /// Bearer token.
    pub access_token: SecretString,
    /// Webhook signing key.
    pub app_secret: SecretString,
    /// Handshake token.
    pub verify_token: SecretString,
    /// Template, if any.
    pub template: Option<Template>,
    /// Per-send timeout.
    pub timeout: Duration,
}

fn not_empty(field: &str, s: &SecretString, why: &str) -> Result<(), FieldError> {
    if s.expose_secret().is_empty() {
        return Err(settings_error(
            field,
            "required",
            format!("{field} must not be empty: {why}"),
        ));
    }
    Ok(())
}

/// Parses and checks the settings; errors name `settings.<field>` and never
/// quote a secret.
pub fn parse(value: &serde_json::Value) -> Result<Checked, FieldError> {
    let s: WhatsappSettings = parse_settings(value, SECRETS)?;
    if s.phone_number_id.is_empty() || !s.phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(settings_error(
            "phone_number_id",
            "invalid",
            "phone_number_id must be the digits of Meta's phone number id",
        ));
    }
    not_empty(
        "access_token",
        &s.access_token,
        "every send is authorized with it",
    )?;
    not_empty(
        "app_secret",
        &s.app_secret,
        "status webhooks are verified with it",
    )?;
    not_empty(
        "verify_token",
        &s.verify_token,
        "Meta's webhook handshake is checked with it",
    )?;
    if let Some(t) = &s.template {
        if t.name.trim().is_empty() {
            return Err(settings_error(
                "template.name",
                "required",
                "template.name must not be empty",
            ));
        }
        if t.language.trim().is_empty() {
            return Err(settings_error(
                "template.language",
                "required",
                "template.language must be a language code such as en_US",
            ));
        }
    }
    let base = s.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
    let bad_base = || {
        settings_error(
            "base_url",
            "invalid_url",
            "base_url must be an http(s) URL such as https://graph.facebook.com/v21.0",
        )
    };
    let messages_url = match Url::parse(&format!(
        "{}/{}/messages",
        base.trim_end_matches('/'),
        s.phone_number_id
    )) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none() =>
        {
            u
        }
        _ => return Err(bad_base()),
    };
    let timeout = timeout_setting(s.timeout_ms)?;
    Ok(Checked {
        messages_url,
        access_token: s.access_token,
        app_secret: s.app_secret,
        verify_token: s.verify_token,
        template: s.template,
        timeout,
    })
}
