//! Notification type configuration and its validation (SPEC.md "The order").

use crate::channel::{Audience, Channel, FallbackWhen, Scenario};
use crate::error::FieldError;
use crate::recipient::parse_locale;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One channel of a type, with its scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSetting {
    /// The channel.
    pub channel: Channel,
    /// When it is sent.
    pub scenario: Scenario,
}

/// The text of one channel in one locale. E-mail uses `subject` and `body`,
/// push `title` and `body`, SMS `body`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Texts per channel and locale.
    #[serde(default)]
    pub templates: Templates,
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
mod tests {
    use super::*;
    use crate::channel::Channel::{AdminApp, Aunio, BrandedApp, Email, Sms};
    use crate::channel::Scenario::{Always, Fallback, Off};

    fn cfg(audience: Audience, channels: &[(Channel, Scenario)]) -> TypeConfig {
        TypeConfig {
            audience,
            channels: channels
                .iter()
                .map(|&(channel, scenario)| ChannelSetting { channel, scenario })
                .collect(),
            fallback_when: FallbackWhen::NoneDelivered,
            default_locale: "en".into(),
            templates: Templates::new(),
        }
    }

    fn client(channels: &[(Channel, Scenario)]) -> TypeConfig {
        cfg(Audience::Client, channels)
    }

    fn staff(channels: &[(Channel, Scenario)]) -> TypeConfig {
        cfg(Audience::Staff, channels)
    }

    fn with_template(
        mut c: TypeConfig,
        channel: Channel,
        locale: &str,
        text: TemplateText,
    ) -> TypeConfig {
        c.templates
            .entry(channel.as_str().to_string())
            .or_default()
            .insert(locale.into(), text);
        c
    }

    fn email_text(subject: &str, body: &str) -> TemplateText {
        TemplateText {
            subject: Some(subject.into()),
            title: None,
            body: Some(body.into()),
        }
    }

    /// Asserts the config is rejected on `field` with `code`; returns the code.
    fn rejected(c: &TypeConfig, field: &str, code: &'static str) -> &'static str {
        let e = c
            .validate()
            .expect_err("the configuration must be rejected");
        assert_eq!((e.field.as_str(), e.code), (field, code), "{e}");
        assert!(!e.message.is_empty());
        code
    }

    fn seed() -> TypeConfig {
        client(&[
            (Email, Always),
            (Aunio, Always),
            (BrandedApp, Fallback),
            (Sms, Fallback),
        ])
    }

    #[test]
    fn the_seed_example_and_other_good_types_are_valid() {
        assert_eq!(seed().validate(), Ok(()));
        let good = [
            staff(&[(Email, Always), (AdminApp, Always), (Sms, Fallback)]),
            staff(&[(Sms, Always)]),
            client(&[(Aunio, Always), (Sms, Always), (BrandedApp, Fallback)]),
            client(&[(Email, Off), (Aunio, Always), (BrandedApp, Fallback)]),
            client(&[(Email, Always), (BrandedApp, Always), (Sms, Always)]),
            client(&[(Email, Off)]),
        ];
        for c in good {
            assert_eq!(c.validate(), Ok(()), "{:?}", c.channels);
        }
        let with_texts = with_template(
            with_template(
                seed(),
                Email,
                "en",
                email_text("Hi {{ client_name }}", "See you at {{ time }}"),
            ),
            Sms,
            "pt-BR",
            TemplateText {
                body: Some("{% if vip %}VIP {% endif %}{{ time }}".into()),
                ..Default::default()
            },
        );
        assert_eq!(with_texts.validate(), Ok(()));
    }

    #[test]
    fn each_rule_names_its_field_and_has_its_own_code() {
        let mut codes = vec![
            rejected(&client(&[]), "channels", "required"),
            rejected(
                &client(&[(Email, Always), (Aunio, Fallback)]),
                "channels[1].scenario",
                "scenario_not_allowed",
            ),
            rejected(
                &client(&[(Email, Always), (Sms, Always), (Sms, Fallback)]),
                "channels[2].channel",
                "duplicate_channel",
            ),
            rejected(
                &staff(&[(Email, Always), (Aunio, Always)]),
                "channels[1].channel",
                "channel_not_for_audience",
            ),
            rejected(
                &client(&[(Aunio, Always), (Email, Always)]),
                "channels[1].channel",
                "email_not_first",
            ),
            rejected(
                &client(&[(BrandedApp, Always), (Aunio, Always)]),
                "channels[1].channel",
                "push_after_fallback_channel",
            ),
            rejected(
                &client(&[(Email, Always), (Sms, Fallback), (BrandedApp, Fallback)]),
                "channels[1].channel",
                "fallback_sms_not_last",
            ),
            rejected(
                &client(&[(BrandedApp, Fallback), (Sms, Always)]),
                "channels[0].scenario",
                "leading_fallback",
            ),
            rejected(
                &with_template(seed(), Email, "en", email_text("Hi {{ name", "body")),
                "templates.email.en.subject",
                "template_syntax",
            ),
        ];
        let mut bad_locale = seed();
        bad_locale.default_locale = "english".into();
        codes.push(rejected(&bad_locale, "default_locale", "invalid_locale"));
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(
            codes.len(),
            n,
            "every rule has a code of its own: {codes:?}"
        );
    }

    #[test]
    fn fallback_is_allowed_only_on_branded_app_and_sms() {
        rejected(
            &client(&[(Email, Fallback)]),
            "channels[0].scenario",
            "scenario_not_allowed",
        );
        rejected(
            &client(&[(Email, Always), (Aunio, Fallback)]),
            "channels[1].scenario",
            "scenario_not_allowed",
        );
        rejected(
            &staff(&[(Email, Always), (AdminApp, Fallback)]),
            "channels[1].scenario",
            "scenario_not_allowed",
        );
        let e = client(&[(Email, Always), (Aunio, Fallback)])
            .validate()
            .unwrap_err();
        assert!(e.message.contains("aunio"), "{}", e.message);
        assert_eq!(
            client(&[(Email, Always), (BrandedApp, Fallback)]).validate(),
            Ok(())
        );
        assert_eq!(
            client(&[(Email, Always), (Sms, Fallback)]).validate(),
            Ok(())
        );
        assert_eq!(
            staff(&[(Email, Always), (Sms, Fallback)]).validate(),
            Ok(())
        );
    }

    #[test]
    fn channels_must_fit_the_audience() {
        rejected(
            &staff(&[(Aunio, Always)]),
            "channels[0].channel",
            "channel_not_for_audience",
        );
        rejected(
            &staff(&[(Email, Always), (BrandedApp, Always)]),
            "channels[1].channel",
            "channel_not_for_audience",
        );
        rejected(
            &client(&[(Email, Always), (AdminApp, Always)]),
            "channels[1].channel",
            "channel_not_for_audience",
        );
        // Even an off channel has to fit.
        rejected(
            &client(&[(AdminApp, Off)]),
            "channels[0].channel",
            "channel_not_for_audience",
        );
    }

    #[test]
    fn a_channel_is_listed_once() {
        rejected(
            &client(&[(Email, Always), (Email, Off)]),
            "channels[1].channel",
            "duplicate_channel",
        );
        rejected(
            &client(&[(Email, Always), (Sms, Always), (Sms, Fallback)]),
            "channels[2].channel",
            "duplicate_channel",
        );
    }

    #[test]
    fn the_priority_order_is_enforced() {
        rejected(
            &client(&[(Sms, Always), (Email, Always)]),
            "channels[1].channel",
            "email_not_first",
        );
        // Even behind an off channel, e-mail must be first.
        rejected(
            &client(&[(Aunio, Off), (Email, Always)]),
            "channels[1].channel",
            "email_not_first",
        );
        rejected(
            &staff(&[(Email, Always), (Sms, Always), (AdminApp, Always)]),
            "channels[2].channel",
            "push_after_fallback_channel",
        );
        rejected(
            &client(&[(Email, Always), (Sms, Always), (Aunio, Always)]),
            "channels[2].channel",
            "push_after_fallback_channel",
        );
        rejected(
            &client(&[(Email, Always), (Sms, Fallback), (BrandedApp, Fallback)]),
            "channels[1].channel",
            "fallback_sms_not_last",
        );
        rejected(
            &client(&[(Email, Always), (Sms, Fallback), (BrandedApp, Off)]),
            "channels[1].channel",
            "fallback_sms_not_last",
        );
        // An SMS that always goes may come before the branded app.
        assert_eq!(
            client(&[(Email, Always), (Sms, Always), (BrandedApp, Fallback)]).validate(),
            Ok(())
        );
    }

    #[test]
    fn a_type_cannot_start_with_a_fallback() {
        rejected(
            &client(&[(Sms, Fallback)]),
            "channels[0].scenario",
            "leading_fallback",
        );
        rejected(
            &client(&[
                (Email, Off),
                (Aunio, Off),
                (BrandedApp, Fallback),
                (Sms, Always),
            ]),
            "channels[2].scenario",
            "leading_fallback",
        );
        rejected(
            &staff(&[(Email, Off), (AdminApp, Off), (Sms, Fallback)]),
            "channels[2].scenario",
            "leading_fallback",
        );
    }

    #[test]
    fn templates_and_locales_are_checked() {
        rejected(
            &with_template(seed(), Email, "en", email_text("Hi", "{% if x %}open")),
            "templates.email.en.body",
            "template_syntax",
        );
        rejected(
            &with_template(
                seed(),
                Aunio,
                "pt-BR",
                TemplateText {
                    title: Some("{{ }}".into()),
                    ..Default::default()
                },
            ),
            "templates.aunio.pt-BR.title",
            "template_syntax",
        );
        // Texts may be kept for a channel the type does not use (yet).
        assert_eq!(
            with_template(
                client(&[(Email, Always)]),
                Sms,
                "en",
                TemplateText::default(),
            )
            .validate(),
            Ok(())
        );
        rejected(
            &with_template(seed(), Email, "pt_BR", email_text("a", "b")),
            "templates.email.pt_BR",
            "invalid_locale",
        );
        rejected(
            &with_template(
                seed(),
                Email,
                "en",
                TemplateText {
                    title: Some("t".into()),
                    ..Default::default()
                },
            ),
            "templates.email.en.title",
            "unknown_part",
        );
        for bad in ["", "e", "english", "pt_BR", "pt-"] {
            let mut c = seed();
            c.default_locale = bad.into();
            rejected(&c, "default_locale", "invalid_locale");
        }
    }

    #[test]
    fn json_defaults_and_unknown_fields() {
        let c: TypeConfig = serde_json::from_str(
            r#"{"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}"#,
        )
        .unwrap();
        assert_eq!(c.fallback_when, FallbackWhen::NoneDelivered);
        assert_eq!(c.default_locale, "en");
        assert!(c.templates.is_empty());
        let unknown = serde_json::from_str::<TypeConfig>(
            r#"{"audience": "client", "channels": [], "colour": "red"}"#,
        );
        assert!(unknown.is_err());
        let bad_scenario = serde_json::from_str::<TypeConfig>(
            r#"{"audience": "client", "channels": [{"channel": "email", "scenario": "sometimes"}]}"#,
        );
        assert!(bad_scenario.is_err());
    }
}
