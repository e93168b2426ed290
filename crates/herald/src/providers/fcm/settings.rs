//! The `fcm` integration's settings: the Google service-account JSON as
//! Google hands it out, and where to send.

use crate::providers::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// Where FCM's HTTP v1 API lives.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";
/// Google's OAuth2 token endpoint, as every service-account file names it.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

fn default_token_uri() -> String {
    DEFAULT_TOKEN_URI.into()
}

/// The `fcm` settings (API.md, "Real providers").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmSettings {
    /// The service-account JSON (a secret as a whole).
    pub service_account: ServiceAccount,
    /// FCM's base URL; a setting so that tests can point it at a local peer.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// How long one send may take, token request included.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The fields of a Google service-account file that Herald uses. Google's
/// file carries more (`type`, `private_key_id`, `client_id`, `auth_uri`,
/// …): those are accepted and ignored, so the file can be pasted whole.
#[derive(Debug, Deserialize)]
pub struct ServiceAccount {
    /// The Firebase project the messages are sent in.
    pub project_id: String,
    /// The account's e-mail: the JWT's issuer.
    pub client_email: String,
    /// The RSA private key, PEM (never shown: `Debug` redacts it).
    pub private_key: SecretString,
    /// Where the JWT is exchanged for an access token.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

/// The settings, checked: URLs parsed, the timeout bounded.
#[derive(Debug)]
pub struct Checked {
    /// The parsed settings.
    pub settings: FcmSettings,
    /// `{base_url}/v1/projects/{project_id}/messages:send`.
    pub send_url: Url,
    /// The token endpoint.
    pub token_uri: Url,
    /// The per-send timeout.
    pub timeout: Duration,
}

/// Parses and checks the settings; errors name `settings.<field>` and
/// never quote the service account's values.
pub fn parse(value: &serde_json::Value) -> Result<Checked, FieldError> {
    let settings: FcmSettings = parse_settings(value, &["service_account"])?;
    let sa = &settings.service_account;
    if !is_project_id(&sa.project_id) {
        return Err(settings_error(
            "service_account.project_id",
            "invalid_value",
            "service_account.project_id must be a Firebase project id (letters, digits, '-', '.', ':')",
        ));
    }
    if sa.client_email.trim().is_empty() {
        return Err(settings_error(
            "service_account.client_email",
            "required",
            "service_account.client_email must name the service account",
        ));
    }
    let token_uri = http_url("service_account.token_uri", &sa.token_uri)?;
    let base = http_url("base_url", &settings.base_url)?;
    let send_url = format!(
        "{}/v1/projects/{}/messages:send",
        base.as_str().trim_end_matches('/'),
        sa.project_id
    );
    let send_url = Url::parse(&send_url).map_err(|_| {
        settings_error("base_url", "invalid_url", "base_url must be an http(s) URL")
    })?;
    let timeout = timeout_setting(settings.timeout_ms)?;
    Ok(Checked {
        settings,
        send_url,
        token_uri,
        timeout,
    })
}

/// Google project ids are lowercase letters, digits and hyphens; older
/// domain-scoped ones carry `example.com:`. They go into the URL path, so
/// nothing else is let through.
fn is_project_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
}

/// An http or https URL, or an error naming the field.
fn http_url(field: &str, s: &str) -> Result<Url, FieldError> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(settings_error(
            field,
            "invalid_url",
            format!("{field} must be an http(s) URL"),
        )),
    }
}
