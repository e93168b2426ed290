//! The `webhook` integration's settings: where the business's gateway is,
//! and the secret both sides sign with.

use crate::providers::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// A gateway has this long to answer unless `timeout_ms` says otherwise:
/// shorter than the framework's default, as a gateway only has to queue.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `webhook` settings (API.md, "Real providers").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The gateway's URL (http or https).
    pub url: String,
    /// The shared signing secret (never shown: `Debug` redacts it).
    pub secret: SecretString,
    /// How long one send may take.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The settings, checked.
#[derive(Debug)]
pub struct Checked {
    /// The gateway's URL, parsed.
    pub url: Url,
    /// The secret.
    pub secret: SecretString,
    /// The per-send timeout.
    pub timeout: Duration,
}

/// Parses and checks the settings; errors name `settings.<field>` and
/// never quote the secret.
pub fn parse(value: &serde_json::Value) -> Result<Checked, FieldError> {
    let s: WebhookSettings = parse_settings(value, &["secret"])?;
    let url = match Url::parse(&s.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return Err(settings_error(
                "url",
                "invalid_url",
                "url must be an http(s) URL",
            ))
        }
    };
    if s.secret.expose_secret().is_empty() {
        return Err(settings_error(
            "secret",
            "required",
            "secret must not be empty: the gateway checks Herald's signature with it",
        ));
    }
    let timeout = match s.timeout_ms {
        None => DEFAULT_TIMEOUT,
        some => timeout_setting(some)?,
    };
    Ok(Checked {
        url,
        secret: s.secret,
        timeout,
    })
}
