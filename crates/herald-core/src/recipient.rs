//! Recipients (clients and staff), their addresses, and whether a channel
//! can reach them.

use crate::channel::{Audience, Channel};
use crate::engine::Reach;
use crate::error::FieldError;
use serde::{Deserialize, Deserializer, Serialize};
use std::str::FromStr;

/// The platform of an app installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Platform {
    /// Apple devices (APNs).
    Ios,
    /// Android devices (FCM).
    Android,
}

/// One device with one app installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppInstall {
    /// `aunio` or `branded_app` for clients, `admin_app` for staff.
    pub app: Channel,
    /// The push device token.
    pub token: String,
    /// The device's platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A client or a staff member, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone in E.164.
    #[serde(default)]
    pub phone: Option<String>,
    /// Language tag such as `pt-BR`.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Channels the person opted out of.
    #[serde(default, deserialize_with = "null_as_default")]
    pub opt_out: Vec<Channel>,
    /// App installations, one per device.
    #[serde(default, deserialize_with = "null_as_default")]
    pub apps: Vec<AppInstall>,
}

/// The longest string field accepted.
const MAX_FIELD: usize = 255;
/// The longest device token accepted.
const MAX_TOKEN: usize = 4096;

/// Checks an e-mail address: one `@`, a non-empty local part, a dotted
/// domain, no spaces or control characters.
pub fn parse_email(s: &str) -> Option<&str> {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return None;
    }
    Some(s)
}

/// Checks an E.164 phone number: `+`, a non-zero digit, 7 to 15 digits in all.
pub fn parse_phone(s: &str) -> Option<&str> {
    let digits = s.strip_prefix('+')?;
    let ok = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(s)
}

/// Checks a BCP 47 language tag in its common shapes: a 2–3 letter
/// language, then optional subtags of 1–8 letters or digits (`pt-BR`,
/// `zh-Hant-TW`, `es-419`).
pub fn parse_locale(s: &str) -> Option<&str> {
    let mut parts = s.split('-');
    let lang = parts.next()?;
    if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    for p in parts {
        if p.is_empty() || p.len() > 8 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
    }
    Some(s)
}

/// Checks an IANA time zone name.
pub fn parse_timezone(s: &str) -> Option<&str> {
    chrono_tz::Tz::from_str(s).ok().map(|_| s)
}

impl Recipient {
    /// Checks every field; `audience` decides which apps are allowed.
    pub fn validate(&self, audience: Audience) -> Result<(), FieldError> {
        if let Some(name) = &self.name {
            if name.chars().count() > MAX_FIELD {
                return Err(FieldError::new(
                    "name",
                    "too_long",
                    "name is longer than 255 characters",
                ));
            }
        }
        if let Some(email) = &self.email {
            if parse_email(email).is_none() {
                return Err(FieldError::new(
                    "email",
                    "invalid_email",
                    "email must be an e-mail address such as ana@example.com",
                ));
            }
        }
        if let Some(phone) = &self.phone {
            if parse_phone(phone).is_none() {
                return Err(FieldError::new(
                    "phone",
                    "invalid_phone",
                    "phone must be in E.164 form such as +15550001111",
                ));
            }
        }
        if let Some(locale) = &self.locale {
            if parse_locale(locale).is_none() {
                return Err(FieldError::new(
                    "locale",
                    "invalid_locale",
                    "locale must be a language tag such as en or pt-BR",
                ));
            }
        }
        if let Some(tz) = &self.timezone {
            if parse_timezone(tz).is_none() {
                return Err(FieldError::new(
                    "timezone",
                    "invalid_timezone",
                    "timezone must be an IANA time zone such as Europe/Lisbon",
                ));
            }
        }
        for (i, app) in self.apps.iter().enumerate() {
            if !app.app.is_push() || !app.app.reaches(audience) {
                let allowed = match audience {
                    Audience::Client => "aunio or branded_app",
                    Audience::Staff => "admin_app",
                };
                return Err(FieldError::new(
                    format!("apps[{i}].app"),
                    "app_not_for_audience",
                    format!("app must be {allowed} for a {}", audience.as_str()),
                ));
            }
            if app.token.trim().is_empty() || app.token.len() > MAX_TOKEN {
                return Err(FieldError::new(
                    format!("apps[{i}].token"),
                    "invalid_token",
                    "token must be a non-empty device token of at most 4096 characters",
                ));
            }
        }
        Ok(())
    }

    /// The device tokens this person has for a push app, without repeats.
    pub fn tokens(&self, app: Channel) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in self.apps.iter().filter(|a| a.app == app) {
            if !out.contains(&a.token) {
                out.push(a.token.clone());
            }
        }
        out
    }
}

/// Whether `channel` can reach `who` of `audience`. `has_integration` says
/// whether the tenant has connected a provider for the channel.
pub fn reach(
    channel: Channel,
    audience: Audience,
    who: &Recipient,
    has_integration: bool,
) -> Reach {
    let person = match audience {
        Audience::Client => "client",
        Audience::Staff => "staff member",
    };
    let unreachable = |reason: String| Reach::Unreachable { reason };
    if who.opt_out.contains(&channel) {
        return unreachable(format!("{person} opted out of {}", channel.as_str()));
    }
    if !has_integration {
        return unreachable(format!(
            "the business has no {} integration",
            channel.as_str()
        ));
    }
    let to = match channel {
        Channel::Email => match &who.email {
            Some(e) => vec![e.clone()],
            None => return unreachable(format!("{person} has no e-mail address")),
        },
        Channel::Sms => match &who.phone {
            Some(p) => vec![p.clone()],
            None => return unreachable(format!("{person} has no phone number")),
        },
        app => {
            let tokens = who.tokens(app);
            if tokens.is_empty() {
                return unreachable(format!("{person} has no {} installed", app.human()));
            }
            tokens
        }
    };
    Reach::Addresses { to }
}

#[cfg(test)]
#[path = "recipient_tests.rs"]
mod tests;

crate::channel::string_enum!(Platform);
