//! Tests of `config.rs`.

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
        quiet_hours: None,
        critical: false,
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
