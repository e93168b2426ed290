//! The `apns` integration's settings (API.md "Real providers"), checked
//! once when the integration is configured.

use crate::providers::{settings_error, timeout_setting};
use herald_core::FieldError;
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// Apple's production gateway.
pub const PRODUCTION_URL: &str = "https://api.push.apple.com";
/// Apple's development gateway, for apps signed for development.
pub const SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";

/// Which APNs environment the app's tokens belong to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// App Store, TestFlight and ad hoc builds.
    #[default]
    Production,
    /// Builds signed for development.
    Sandbox,
}

/// The settings as a tenant gives them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsSettings {
    /// The `.p8` signing key Apple gives (PKCS#8 PEM, P-256). Secret.
    pub key_p8: SecretString,
    /// The key's 10-character id (the JWT's `kid`).
    pub key_id: String,
    /// The 10-character team id (the JWT's `iss`).
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// Production (default) or sandbox.
    #[serde(default)]
    pub environment: Environment,
    /// Overrides the environment's gateway (a relay, or a local peer).
    #[serde(default)]
    pub base_url: Option<String>,
    /// How long one send may take.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The settings, checked, in the form the client uses.
#[derive(Debug)]
pub struct Checked {
    /// The gateway, without a trailing `/`.
    pub base_url: String,
    /// The per-send timeout.
    pub timeout: Duration,
}

/// Apple's key and team ids are 10 letters or digits (`ABC123DEFG`).
fn check_apple_id(field: &str, value: &str) -> Result<(), FieldError> {
    if value.len() == 10 && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(settings_error(
            field,
            "invalid_value",
            format!("{field} must be the 10-letter id from the Apple developer account"),
        ))
    }
}

/// A bundle id goes into a header as it is, so only the characters bundle
/// ids and their suffixes (`.voip`) use are taken.
fn check_topic(topic: &str) -> Result<(), FieldError> {
    let ok = !topic.is_empty()
        && topic.len() <= 255
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(settings_error(
            "topic",
            "invalid_value",
            "topic must be the app's bundle id (letters, digits, '.', '-')",
        ))
    }
}

/// The gateway must be HTTPS: every request carries a bearer token signed
/// with the tenant's key.
fn check_base_url(url: &str) -> Result<String, FieldError> {
    let bad = |why: &str| settings_error("base_url", "invalid_value", format!("base_url {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(bad("must start with https://"));
    }
    if parsed.host_str().is_none() || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must be https://host[:port][/path] with no query"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

impl ApnsSettings {
    /// Checks what serde could not (ids, topic, URL, timeout); the key is
    /// checked by the token signer.
    pub fn check(&self) -> Result<Checked, FieldError> {
        check_apple_id("key_id", &self.key_id)?;
        check_apple_id("team_id", &self.team_id)?;
        check_topic(&self.topic)?;
        let base_url = match (&self.base_url, self.environment) {
            (Some(url), _) => check_base_url(url)?,
            (None, Environment::Production) => PRODUCTION_URL.to_string(),
            (None, Environment::Sandbox) => SANDBOX_URL.to_string(),
        };
        let timeout = timeout_setting(self.timeout_ms)?;
        Ok(Checked { base_url, timeout })
    }
}
