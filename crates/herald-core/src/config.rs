//! Notification type configuration and its validation (SPEC.md "The order").

use crate::channel::{Audience, Channel, FallbackWhen, Scenario};
use crate::error::FieldError;
use crate::recipient::parse_locale;
use crate::schedule::{parse_hhmm, QuietHours, QuietMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One channel of a type, with its scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSetting {
    /// The channel.
    pub channel: Channel,
    /// When it is sent.
    pub scenario: Scenario,
}

/// The text of one channel in one locale. E-mail uses `subject` and `body`,
/// push `title` and `body`, SMS `body`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateText {
    /// E-mail subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Push title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The message body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Templates by channel name, then by locale. Keys stay strings so that a
/// request's error paths can name them (`templates.fax`); `validate` checks
/// each is a channel of the type.
pub type Templates = BTreeMap<String, BTreeMap<String, TemplateText>>;

fn default_locale() -> String {
    "en".into()
}

/// A notification type as the business configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeConfig {
    /// Clients or staff.
    pub audience: Audience,
    /// The channels in the order tried.
    pub channels: Vec<ChannelSetting>,
    /// When `fallback` channels go out.
    #[serde(default)]
    pub fallback_when: FallbackWhen,
    /// The locale used when the recipient's has no template.
    #[serde(default = "default_locale")]
    pub default_locale: String,
    /// Texts per channel and locale (`null` for a channel or a locale is
    /// the same as leaving it out).
    #[serde(default, deserialize_with = "templates_without_nulls")]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, TemplateText>>)]
    pub templates: Templates,
    /// Hours in the recipient's time zone when listed channels do not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursConfig>,
    /// A critical type ignores quiet hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
}

/// A type's quiet hours as the business sets them (API.md "Quiet hours").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursConfig {
    /// Start, `HH:MM` local time (`21:00`).
    pub from: String,
    /// End, `HH:MM` local time (`08:00`); before `from` spans midnight.
    pub until: String,
    /// The channels it applies to.
    pub channels: Vec<Channel>,
    /// `defer` (wait for the end) or `skip` (the channel is unreachable).
    pub mode: QuietMode,
}

impl QuietHoursConfig {
    /// The window in time zone `tz`, for a recipient of this type.
    pub fn resolve(&self, tz: &str) -> Option<QuietHours> {
        Some(QuietHours {
            from_min: parse_hhmm(&self.from)?,
            until_min: parse_hhmm(&self.until)?,
            tz: tz.to_string(),
            channels: self.channels.clone(),
            mode: self.mode,
        })
    }
}

/// Templates as a request gives them, where `null` for the whole map, a
/// channel's or a locale's is the same as leaving it out.
fn templates_without_nulls<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Templates, D::Error> {
    type Given = Option<BTreeMap<String, Option<BTreeMap<String, Option<TemplateText>>>>>;
    let given: Given = Deserialize::deserialize(d)?;
    Ok(given
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(channel, locales)| {
            let locales: BTreeMap<String, TemplateText> = locales?
                .into_iter()
                .filter_map(|(locale, text)| Some((locale, text?)))
                .collect();
            Some((channel, locales))
        })
        .collect())
}

impl TypeConfig {
    /// Checks every rule of SPEC.md; the first broken one is returned with
    /// the field that breaks it. Templates are parsed too.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.channels.is_empty() {
            return Err(FieldError::new(
                "channels",
                "required",
                "a notification type needs at least one channel",
            ));
        }
        let mut seen: Vec<Channel> = Vec::new();
        let mut last_group = 0u8;
        let mut first_enabled = true;
        for (i, s) in self.channels.iter().enumerate() {
            let field = format!("channels[{i}]");
            if seen.contains(&s.channel) {
                return Err(FieldError::new(
                    format!("{field}.channel"),
                    "duplicate_channel",
                    format!("channel {} is listed twice", s.channel),
                ));
            }
            seen.push(s.channel);
            if !s.channel.reaches(self.audience) {
                return Err(FieldError::new(
                    format!("{field}.channel"),
                    "channel_not_for_audience",
                    format!(
                        "channel {} cannot reach a {} audience",
                        s.channel,
                        self.audience.as_str()
                    ),
                ));
            }
            if !s.channel.allows(s.scenario) {
                return Err(FieldError::new(
                    format!("{field}.scenario"),
                    "scenario_not_allowed",
                    format!(
                        "channel {} allows only off and always, not {}",
                        s.channel,
                        s.scenario.as_str()
                    ),
                ));
            }
            let group = s.channel.priority_group();
            if group < last_group {
                let (code, rule) = match s.channel {
                    Channel::Email => (
                        "email_not_first",
                        "email, when present, must be the first channel",
                    ),
                    _ => (
                        "push_after_fallback_channel",
                        "admin_app and aunio must come before branded_app and sms",
                    ),
                };
                return Err(FieldError::new(format!("{field}.channel"), code, rule));
            }
            last_group = group;
            if s.scenario != Scenario::Off {
                if first_enabled && s.scenario == Scenario::Fallback {
                    return Err(FieldError::new(
                        format!("{field}.scenario"),
                        "leading_fallback",
                        "the first enabled channel cannot be fallback: there is nothing to fall back from",
                    ));
                }
                first_enabled = false;
            }
        }
        // A fallback SMS is always last.
        if let Some(pos) = self
            .channels
            .iter()
            .position(|s| s.channel == Channel::Sms && s.scenario == Scenario::Fallback)
        {
            if pos + 1 != self.channels.len() {
                return Err(FieldError::new(
                    format!("channels[{pos}].channel"),
                    "fallback_sms_not_last",
                    "a fallback sms must be the last channel",
                ));
            }
        }
        if parse_locale(&self.default_locale).is_none() {
            return Err(FieldError::new(
                "default_locale",
                "invalid_locale",
                "default_locale must be a language tag such as en or pt-BR",
            ));
        }
        if let Some(q) = &self.quiet_hours {
            for (field, value) in [("from", &q.from), ("until", &q.until)] {
                if parse_hhmm(value).is_none() {
                    return Err(FieldError::new(
                        format!("quiet_hours.{field}"),
                        "invalid_time",
                        format!("quiet_hours.{field} must be a 24-hour time HH:MM, not {value:?}"),
                    ));
                }
            }
            // A listed channel the type does not send is allowed (a form
            // that turns a channel off keeps the quiet hours as they are).
        }
        for (name, by_locale) in &self.templates {
            let field = format!("templates.{name}");
            let Some(channel) = Channel::parse(name) else {
                return Err(FieldError::new(
                    field,
                    "unknown_channel",
                    format!(
                        "{name:?} is not a channel (email, admin_app, aunio, branded_app, sms)"
                    ),
                ));
            };
            for (locale, text) in by_locale {
                let field = format!("templates.{channel}.{locale}");
                if parse_locale(locale).is_none() {
                    return Err(FieldError::new(
                        field,
                        "invalid_locale",
                        "template locales must be language tags such as en or pt-BR",
                    ));
                }
                crate::template::check_text(channel, text, &field)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
