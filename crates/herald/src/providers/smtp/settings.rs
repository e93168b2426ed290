//! The `smtp` integration's settings (API.md "Real providers"): parsed once
//! into types, so the client never sees a raw string again.

use super::super::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (a trusted local relay only).
    None,
    /// Plain text upgraded with STARTTLS (RFC 3207); refused when the server
    /// does not offer it, so nothing goes out in the clear.
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", RFC 8314).
    Tls,
}

impl TlsMode {
    /// The port a mode is usually served on.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// The settings as they come, before the rules between fields are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    host: String,
    /// Wider than a port, so that 70000 gets the range in its error.
    #[serde(default)]
    port: Option<u64>,
    #[serde(default)]
    tls: TlsMode,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, deserialize_with = "secret")]
    password: Option<SecretString>,
    from: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// Reads a secret string without ever echoing the value: serde's own
/// "invalid type" message quotes what it was given, which for a password
/// sent as a number would put the secret in the error.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    use serde::de::{Error, Unexpected};
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(SecretString::from(s))),
        Some(_) => Err(D::Error::invalid_type(
            Unexpected::Other("a value that is not a string"),
            &"a string",
        )),
    }
}

/// A user name and password for SMTP AUTH.
#[derive(Clone)]
pub struct Login {
    /// The user name (not secret).
    pub username: String,
    /// The password.
    pub password: SecretString,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only whether there is a password, never its value.
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"set")
            .finish()
    }
}

/// The `smtp` settings, checked.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The server's host name (also the name its certificate must carry).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// AUTH credentials, when the server wants them.
    pub login: Option<Login>,
    /// The `From` of every message.
    pub from: Mailbox,
    /// The `Reply-To`, if any.
    pub reply_to: Option<Mailbox>,
    /// How long one send may take.
    pub timeout: Duration,
}

/// Parses and checks `smtp` settings; every error names `settings.<field>`.
pub fn parse(settings: &serde_json::Value) -> Result<SmtpSettings, FieldError> {
    let raw: RawSettings = parse_settings(settings, &["password"])?;
    let host = raw.host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(settings_error(
            "host",
            "invalid_value",
            "host must be the server's host name or IP address",
        ));
    }
    let port = match raw.port {
        None => raw.tls.default_port(),
        Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
            settings_error("port", "out_of_range", "port must be between 1 and 65535")
        })?,
    };
    let login = match (raw.username, raw.password) {
        (None, None) => None,
        (Some(u), _) if u.is_empty() => {
            return Err(settings_error(
                "username",
                "invalid_value",
                "username must not be empty (leave it out for a server without AUTH)",
            ))
        }
        (Some(username), Some(password)) => Some(Login { username, password }),
        (Some(_), None) => {
            return Err(settings_error(
                "password",
                "required",
                "password is required when username is set",
            ))
        }
        (None, Some(_)) => {
            return Err(settings_error(
                "username",
                "required",
                "username is required when password is set",
            ))
        }
    };
    let from = mailbox("from", &raw.from)?;
    let reply_to = raw
        .reply_to
        .as_deref()
        .map(|r| mailbox("reply_to", r))
        .transpose()?;
    Ok(SmtpSettings {
        host: host.to_string(),
        port,
        tls: raw.tls,
        login,
        from,
        reply_to,
        timeout: timeout_setting(raw.timeout_ms)?,
    })
}

/// Parses a mailbox setting (`"Salon One <no-reply@salon.example>"` or a
/// bare address).
fn mailbox(field: &str, value: &str) -> Result<Mailbox, FieldError> {
    value.trim().parse::<Mailbox>().map_err(|e| {
        settings_error(
            field,
            "invalid_mailbox",
            format!(
                "{field} must be an address or \"Name <address>\", such as \
                 \"Salon One <no-reply@salon.example>\": {e}"
            ),
        )
    })
}
