//! The `smpp` integration's settings (API.md "Real providers"), checked once.

use super::super::{parse_settings, settings_error, timeout_setting};
use herald_core::FieldError;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// The settings as they come.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    host: String,
    #[serde(default)]
    port: Option<u64>,
    system_id: String,
    #[serde(deserialize_with = "secret")]
    password: SecretString,
    #[serde(default)]
    system_type: String,
    source_addr: String,
    #[serde(default)]
    source_addr_ton: Option<u8>,
    #[serde(default)]
    source_addr_npi: Option<u8>,
    #[serde(default)]
    tls: bool,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// Reads a secret string without ever echoing the value.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    use serde::de::{Error, Unexpected};
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(SecretString::from(s)),
        _ => Err(D::Error::invalid_type(
            Unexpected::Other("a value that is not a string"),
            &"a string",
        )),
    }
}

/// The `smpp` settings, checked.
#[derive(Clone)]
pub struct SmppSettings {
    /// The SMSC's host name.
    pub host: String,
    /// Its port (2775 unless told).
    pub port: u16,
    /// The ESME's account at the SMSC.
    pub system_id: String,
    /// Its password (at most 8 characters in SMPP 3.4).
    pub password: SecretString,
    /// The account's system type, often empty.
    pub system_type: String,
    /// The sender shown to recipients (a number or an alphanumeric name).
    pub source_addr: String,
    /// Its type of number (5 alphanumeric, 1 international).
    pub source_addr_ton: u8,
    /// Its numbering plan (0 unknown, 1 E.164).
    pub source_addr_npi: u8,
    /// TLS from the first byte.
    pub tls: bool,
    /// How long one send may take.
    pub timeout: Duration,
}

impl fmt::Debug for SmppSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("system_id", &self.system_id)
            .field("password", &"set")
            .field("system_type", &self.system_type)
            .field("source_addr", &self.source_addr)
            .field("source_addr_ton", &self.source_addr_ton)
            .field("source_addr_npi", &self.source_addr_npi)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Parses and checks `smpp` settings; every error names `settings.<field>`.
pub fn parse(settings: &serde_json::Value) -> Result<SmppSettings, FieldError> {
    let raw: RawSettings = parse_settings(settings, &["password"])?;
    let host = raw.host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
        return Err(settings_error(
            "host",
            "invalid_value",
            "host must be the SMSC's host name or IP address",
        ));
    }
    let port = match raw.port {
        None => 2775,
        Some(p) => u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
            settings_error("port", "out_of_range", "port must be between 1 and 65535")
        })?,
    };
    // SMPP 3.4 §4.1: system_id C-Octet String of at most 16, password 9,
    // system_type 13 (with the NUL), source_addr 21.
    let bounded = |field: &str, v: &str, max: usize, empty_ok: bool| {
        if (!empty_ok && v.is_empty()) || v.len() > max || !v.is_ascii() || v.contains('\0') {
            let what = if empty_ok { "at most" } else { "1 to" };
            Err(settings_error(
                field,
                "invalid_value",
                format!("{field} must be {what} {max} ASCII characters"),
            ))
        } else {
            Ok(())
        }
    };
    bounded("system_id", &raw.system_id, 15, false)?;
    bounded("system_type", &raw.system_type, 12, true)?;
    bounded("source_addr", &raw.source_addr, 20, false)?;
    {
        use secrecy::ExposeSecret;
        let p = raw.password.expose_secret();
        if p.len() > 8 || !p.is_ascii() || p.contains('\0') {
            return Err(settings_error(
                "password",
                "invalid_value",
                "password must be at most 8 ASCII characters (not shown: it is a secret)",
            ));
        }
    }
    let numeric = raw
        .source_addr
        .strip_prefix('+')
        .unwrap_or(&raw.source_addr)
        .chars()
        .all(|c| c.is_ascii_digit());
    let ton = raw.source_addr_ton.unwrap_or(if numeric { 1 } else { 5 });
    let npi = raw.source_addr_npi.unwrap_or(if numeric { 1 } else { 0 });
    if ton > 6 {
        return Err(settings_error(
            "source_addr_ton",
            "out_of_range",
            "source_addr_ton must be 0 to 6 (1 international, 5 alphanumeric)",
        ));
    }
    if ![0u8, 1, 3, 4, 6, 8, 9, 10, 13, 18].contains(&npi) {
        return Err(settings_error(
            "source_addr_npi",
            "invalid_value",
            "source_addr_npi must be an SMPP numbering plan (0 unknown, 1 E.164, …)",
        ));
    }
    Ok(SmppSettings {
        host: host.to_string(),
        port,
        system_id: raw.system_id,
        password: raw.password,
        system_type: raw.system_type,
        source_addr: raw.source_addr.trim_start_matches('+').to_string(),
        source_addr_ton: ton,
        source_addr_npi: npi,
        tls: raw.tls,
        timeout: timeout_setting(raw.timeout_ms)?,
    })
}
