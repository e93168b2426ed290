//! Tests of `template.rs`.

use super::*;
use crate::channel::{Audience, Scenario};
use crate::config::ChannelSetting;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

fn text(subject: Option<&str>, title: Option<&str>, body: Option<&str>) -> TemplateText {
    TemplateText {
        subject: subject.map(str::to_string),
        title: title.map(str::to_string),
        body: body.map(str::to_string),
    }
}

/// A client type with e-mail, Aunio and SMS, and the given templates.
fn cfg(templates: &[(Channel, &str, TemplateText)]) -> TypeConfig {
    let mut c = TypeConfig {
        audience: Audience::Client,
        channels: [Channel::Email, Channel::Aunio, Channel::Sms]
            .into_iter()
            .map(|channel| ChannelSetting {
                channel,
                scenario: Scenario::Always,
            })
            .collect(),
        fallback_when: Default::default(),
        default_locale: "en".into(),
        templates: Default::default(),
        quiet_hours: None,
        critical: false,
    };
    for (ch, locale, t) in templates {
        c.templates
            .entry(ch.as_str().to_string())
            .or_default()
            .insert(locale.to_string(), t.clone());
    }
    assert_eq!(c.validate(), Ok(()));
    c
}

fn data(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("data must be an object"),
    }
}

fn who(locale: Option<&str>) -> Recipient {
    Recipient {
        name: Some("Ana".into()),
        email: Some("ana@example.com".into()),
        locale: locale.map(str::to_string),
        ..Default::default()
    }
}

fn body(c: &TypeConfig, channel: Channel, locale: Option<&str>) -> String {
    render(c, "reminder", channel, &who(locale), &Map::new())
        .unwrap()
        .body
}

#[test]
fn locale_falls_back_to_the_language_then_the_default() {
    let sms = |b: &str| text(None, None, Some(b));
    let all = cfg(&[
        (Channel::Sms, "pt-BR", sms("brasil")),
        (Channel::Sms, "pt", sms("portugues")),
        (Channel::Sms, "en", sms("english")),
        (Channel::Sms, "de", sms("deutsch")),
    ]);
    assert_eq!(body(&all, Channel::Sms, Some("pt-BR")), "brasil");
    assert_eq!(
        body(&all, Channel::Sms, Some("pt-br")),
        "brasil",
        "tags match case-insensitively"
    );
    assert_eq!(body(&all, Channel::Sms, Some("pt-PT")), "portugues");
    assert_eq!(body(&all, Channel::Sms, Some("pt")), "portugues");
    assert_eq!(body(&all, Channel::Sms, Some("fr-FR")), "english");
    assert_eq!(body(&all, Channel::Sms, None), "english");
    let no_region = cfg(&[
        (Channel::Sms, "pt", sms("portugues")),
        (Channel::Sms, "en", sms("english")),
    ]);
    assert_eq!(body(&no_region, Channel::Sms, Some("pt-BR")), "portugues");
    let mut german_default = all.clone();
    german_default.default_locale = "de".into();
    assert_eq!(body(&german_default, Channel::Sms, Some("fr")), "deutsch");
    assert_eq!(
        choose(&all, Channel::Sms, Some("pt-BR")).map(|(l, _)| l),
        Some("pt-BR")
    );
    assert_eq!(choose(&all, Channel::Email, Some("pt-BR")), None);
}

#[test]
fn a_missing_variable_is_named_as_data_field() {
    let c = cfg(&[
        (
            Channel::Email,
            "en",
            text(Some("Hi {{ client_name }}"), None, Some("At {{ time }}")),
        ),
        (
            Channel::Email,
            "pt",
            text(Some("Oi"), None, Some("Às {{ hora }}")),
        ),
    ]);
    let e = render(
        &c,
        "reminder",
        Channel::Email,
        &who(None),
        &data(json!({"time": "10:00"})),
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.code),
        ("data.client_name", "missing_variable")
    );
    // Only the variables of the template chosen for the locale count.
    let ok = render(
        &c,
        "reminder",
        Channel::Email,
        &who(Some("pt-BR")),
        &data(json!({"hora": "10h"})),
    );
    assert_eq!(ok.unwrap().body, "Às 10h");
    let e = render(
        &c,
        "reminder",
        Channel::Email,
        &who(Some("pt-BR")),
        &data(json!({"time": "10:00"})),
    )
    .unwrap_err();
    assert_eq!(e.field, "data.hora");
}

#[test]
fn the_recipient_and_engine_globals_are_not_asked_of_data() {
    let c = cfg(&[(
        Channel::Sms,
        "en",
        text(
            None,
            None,
            Some("Hi {{ recipient.name }} <{{ recipient.email }}>{% for i in range(3) %} {{ loop.index }}{% endfor %}"),
        ),
    )]);
    let r = render(&c, "reminder", Channel::Sms, &who(None), &Map::new()).unwrap();
    assert_eq!(r.body, "Hi Ana <ana@example.com> 1 2 3");
    assert_eq!((r.subject, r.title), (None, None));
}

#[test]
fn an_absent_value_prints_as_nothing() {
    let c = cfg(&[(
        Channel::Sms,
        "en",
        text(
            None,
            None,
            Some("Hi {{ recipient.name }}|{{ note }}|{{ recipient.name or 'there' }}"),
        ),
    )]);
    let nameless = Recipient::default();
    let r = render(
        &c,
        "t",
        Channel::Sms,
        &nameless,
        &data(json!({"note": null})),
    )
    .unwrap();
    assert_eq!(r.body, "Hi ||there");
    let r = render(&c, "t", Channel::Sms, &who(None), &data(json!({"note": 0}))).unwrap();
    assert_eq!(r.body, "Hi Ana|0|Ana");
}

#[test]
fn nothing_is_html_escaped() {
    let c = cfg(&[(
        Channel::Email,
        "en",
        text(Some("{{ what }}"), None, Some("{{ what }} & {{ quote }}")),
    )]);
    let r = render(
        &c,
        "reminder",
        Channel::Email,
        &who(None),
        &data(json!({"what": "<b>&", "quote": "\"it's\""})),
    )
    .unwrap();
    assert_eq!(r.subject.as_deref(), Some("<b>&"));
    assert_eq!(r.body, "<b>& & \"it's\"");
}

#[test]
fn default_and_is_defined_make_a_variable_optional() {
    let c = cfg(&[(
        Channel::Sms,
        "en",
        text(
            None,
            None,
            Some("{{ room | default('the front desk') }}{% if note is defined %} ({{ note }}){% endif %}{% if vip %}!{% endif %}"),
        ),
    )]);
    let r = render(&c, "reminder", Channel::Sms, &who(None), &data(json!({}))).unwrap();
    assert_eq!(r.body, "the front desk");
    let r = render(
        &c,
        "reminder",
        Channel::Sms,
        &who(None),
        &data(json!({"room": "3", "note": "bring ID", "vip": true})),
    )
    .unwrap();
    assert_eq!(r.body, "3 (bring ID)!");
    // Printing a missing value is still an error that names it.
    let c = cfg(&[(Channel::Sms, "en", text(None, None, Some("{{ room }}")))]);
    let e = render(&c, "reminder", Channel::Sms, &who(None), &data(json!({}))).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.code),
        ("data.room", "missing_variable")
    );
}

#[test]
fn a_missing_nested_attribute_is_an_error_not_blank_text() {
    let c = cfg(&[(
        Channel::Sms,
        "en",
        text(None, None, Some("At {{ appt.time }} in {{ appt.place }}")),
    )]);
    let e = render(
        &c,
        "reminder",
        Channel::Sms,
        &who(None),
        &data(json!({"appt": {"time": "10:00"}})),
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.code),
        ("data.appt.place", "missing_variable")
    );
    let ok = render(
        &c,
        "reminder",
        Channel::Sms,
        &who(None),
        &data(json!({"appt": {"time": "10:00", "place": "Rua A"}})),
    );
    assert_eq!(ok.unwrap().body, "At 10:00 in Rua A");
}

#[test]
fn a_runaway_loop_is_stopped() {
    let src = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let c = cfg(&[(Channel::Sms, "en", text(None, None, Some(src)))]);
    let started = Instant::now();
    let e = render(&c, "reminder", Channel::Sms, &who(None), &Map::new()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(e.field, "templates.sms.en.body");
    assert!(
        matches!(e.code, "render_failed" | "render_too_large"),
        "{e:?}"
    );
}

#[test]
fn output_is_capped_while_rendering() {
    let src = |n: usize| format!("{{{{ 'x' * {n} }}}}");
    let c = cfg(&[(Channel::Sms, "en", text(None, None, Some(&src(MAX_OUTPUT))))]);
    assert_eq!(body(&c, Channel::Sms, None).len(), MAX_OUTPUT);
    let c = cfg(&[(
        Channel::Sms,
        "en",
        text(None, None, Some(&src(MAX_OUTPUT + 1))),
    )]);
    let e = render(&c, "reminder", Channel::Sms, &who(None), &Map::new()).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.code),
        ("templates.sms.en.body", "render_too_large")
    );
    // ~10 GB if the output were built before being measured: this must
    // stop at the first write past the cap.
    let huge = "{% for i in range(10000) %}{{ 'x' * 1000000 }}{% endfor %}";
    let c = cfg(&[(Channel::Sms, "en", text(None, None, Some(huge)))]);
    let e = render(&c, "reminder", Channel::Sms, &who(None), &Map::new()).unwrap_err();
    assert_eq!(e.code, "render_too_large");
}

#[test]
fn a_channel_without_template_gets_the_default_rendering() {
    let d = data(json!({"client_name": "Ana", "seats": 2, "time": "10:00"}));
    let c = cfg(&[]);
    let r = render(&c, "appointment_reminder", Channel::Email, &who(None), &d).unwrap();
    assert_eq!(r.subject.as_deref(), Some("Appointment reminder"));
    assert_eq!(r.title, None);
    assert_eq!(r.body, "Client name: Ana\nSeats: 2\nTime: 10:00");
    let r = render(&c, "appointment_reminder", Channel::Aunio, &who(None), &d).unwrap();
    assert_eq!(r.title.as_deref(), Some("Appointment reminder"));
    assert_eq!(r.body, "Client name: Ana, Seats: 2, Time: 10:00");
    let r = render(&c, "appointment_reminder", Channel::Sms, &who(None), &d).unwrap();
    assert_eq!(
        r.body,
        "Appointment reminder: Client name: Ana, Seats: 2, Time: 10:00"
    );
    let r = render(
        &c,
        "appointment_reminder",
        Channel::Sms,
        &who(None),
        &Map::new(),
    )
    .unwrap();
    assert_eq!(r.body, "Appointment reminder");
    // A template only in another language, and no default: plain too.
    let fr = cfg(&[(Channel::Sms, "fr", text(None, None, Some("Bonjour")))]);
    let r = render(
        &fr,
        "appointment_reminder",
        Channel::Sms,
        &who(Some("de")),
        &d,
    )
    .unwrap();
    assert!(r.body.starts_with("Appointment reminder: "), "{}", r.body);
}

#[test]
fn missing_parts_come_from_the_default_rendering() {
    let d = data(json!({"time": "10:00"}));
    let c = cfg(&[
        (
            Channel::Email,
            "en",
            text(None, None, Some("See you at {{ time }}")),
        ),
        (
            Channel::Aunio,
            "en",
            text(None, Some("Reminder {{ time }}"), None),
        ),
    ]);
    let r = render(&c, "appointment_reminder", Channel::Email, &who(None), &d).unwrap();
    assert_eq!(r.subject.as_deref(), Some("Appointment reminder"));
    assert_eq!(r.body, "See you at 10:00");
    let r = render(&c, "appointment_reminder", Channel::Aunio, &who(None), &d).unwrap();
    assert_eq!(r.title.as_deref(), Some("Reminder 10:00"));
    assert_eq!(r.body, "Time: 10:00");
}

#[test]
fn rendering_is_deterministic() {
    let c = cfg(&[(
        Channel::Email,
        "en",
        text(
            Some("{{ client_name }}"),
            None,
            Some(
                "{% for k, v in extra|dictsort %}{{ k }}={{ v }};{% endfor %}{{ recipient.name }}",
            ),
        ),
    )]);
    let d = data(json!({"client_name": "Ana", "extra": {"b": 2, "a": 1, "c": [1, 2]}}));
    let first = render(&c, "t", Channel::Email, &who(None), &d).unwrap();
    for _ in 0..20 {
        assert_eq!(
            render(&c, "t", Channel::Email, &who(None), &d).unwrap(),
            first
        );
    }
    assert_eq!(first.body, "a=1;b=2;c=[1, 2];Ana");
    let plain = cfg(&[]);
    assert_eq!(
        render(&plain, "t", Channel::Sms, &who(None), &d).unwrap(),
        render(&plain, "t", Channel::Sms, &who(None), &d).unwrap()
    );
}

#[test]
fn check_text_refuses_parts_a_channel_does_not_have() {
    let e = check_text(
        Channel::Sms,
        &text(None, Some("t"), Some("b")),
        "templates.sms.en",
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.code),
        ("templates.sms.en.title", "unknown_part")
    );
    let e = check_text(
        Channel::Aunio,
        &text(Some("s"), None, None),
        "templates.aunio.en",
    )
    .unwrap_err();
    assert_eq!(e.field, "templates.aunio.en.subject");
    let e = check_text(
        Channel::Email,
        &text(Some("ok"), None, Some("{% endfor %}")),
        "x",
    )
    .unwrap_err();
    assert_eq!((e.field.as_str(), e.code), ("x.body", "template_syntax"));
    assert_eq!(
        check_text(
            Channel::AdminApp,
            &text(None, Some("{{ a }}"), Some("b")),
            "x"
        ),
        Ok(())
    );
}
