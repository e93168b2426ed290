//! Pure tests of the `smtp` provider: settings, message, classification.
//! The wire is tested against a real SMTP server in `tests/api/providers/smtp.rs`.

use super::classify::{enhanced_code, from_reply, names_the_recipient};
use super::message::{build, message_id, Sender};
use super::settings::parse;
use super::*;
use herald_core::Rendered;
use serde_json::json;

const PASSWORD: &str = "hunter2-very-secret";

fn base() -> serde_json::Value {
    json!({"host": "smtp.salon.example", "from": "Salon One <no-reply@salon.example>"})
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut v = base();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn defaults_are_starttls_on_587() {
    let s = parse(&base()).unwrap();
    assert_eq!(s.tls, TlsMode::Starttls);
    assert_eq!(s.port, 587);
    assert!(s.login.is_none());
    assert_eq!(s.from.email.to_string(), "no-reply@salon.example");
    assert_eq!(s.from.name.as_deref(), Some("Salon One"));
    assert_eq!(s.timeout, super::super::DEFAULT_TIMEOUT);
}

#[test]
fn the_port_follows_the_tls_mode_unless_given() {
    assert_eq!(parse(&with(json!({"tls": "tls"}))).unwrap().port, 465);
    assert_eq!(parse(&with(json!({"tls": "none"}))).unwrap().port, 25);
    let s = parse(&with(json!({"tls": "tls", "port": 2465}))).unwrap();
    assert_eq!((s.tls, s.port), (TlsMode::Tls, 2465));
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            json!({"from": "not a mailbox"}),
            "settings.from",
            "invalid_mailbox",
        ),
        (
            json!({"reply_to": "x@"}),
            "settings.reply_to",
            "invalid_mailbox",
        ),
        (json!({"tls": "ssl"}), "settings.tls", "invalid_value"),
        (json!({"colour": "red"}), "settings.colour", "unknown_field"),
        (json!({"port": 70000}), "settings.port", "out_of_range"),
        (json!({"port": 0}), "settings.port", "out_of_range"),
        (json!({"host": " "}), "settings.host", "invalid_value"),
        (
            json!({"username": "salon"}),
            "settings.password",
            "required",
        ),
        (
            json!({"password": PASSWORD}),
            "settings.username",
            "required",
        ),
        (
            json!({"timeout_ms": 0}),
            "settings.timeout_ms",
            "out_of_range",
        ),
    ];
    for (extra, field, code) in cases {
        let e = parse(&with(extra.clone())).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), (field, code), "{extra}: {e}");
    }
    let e = parse(&json!({"from": "a@b.example"})).unwrap_err();
    assert_eq!((e.field.as_str(), e.code), ("settings.host", "required"));
    let e = parse(&json!({"host": "h"})).unwrap_err();
    assert_eq!((e.field.as_str(), e.code), ("settings.from", "required"));
}

#[test]
fn a_password_of_the_wrong_type_is_not_echoed() {
    let e = parse(&with(json!({"username": "salon", "password": 98765432}))).unwrap_err();
    assert_eq!(e.field, "settings.password");
    assert!(!e.message.contains("98765432"), "{e}");
}

#[test]
fn debug_of_settings_hides_the_password() {
    let s = parse(&with(json!({"username": "salon", "password": PASSWORD}))).unwrap();
    let shown = format!("{s:?} {s:#?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(
        shown.contains("salon"),
        "the user name is not secret: {shown}"
    );
}

#[test]
fn debug_of_the_client_hides_the_password() {
    let s = parse(&with(json!({"username": "salon", "password": PASSWORD}))).unwrap();
    let client = SmtpClient::new(s, None).unwrap();
    let shown = format!("{client:?} {client:#?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("smtp.salon.example:587"), "{shown}");
}

#[test]
fn message_id_is_stable_per_key_and_differs_between_keys() {
    let from: lettre::message::Mailbox = "Salon <no-reply@salon.example>".parse().unwrap();
    let a = message_id("att-1", &from);
    assert_eq!(a, message_id("att-1", &from));
    assert_ne!(a, message_id("att-2", &from));
    assert!(a.starts_with('<') && a.ends_with("@salon.example>"), "{a}");
    let left = &a[1..a.find('@').unwrap()];
    assert_eq!(left.len(), 32, "{a}");
    assert!(left.bytes().all(|b| b.is_ascii_hexdigit()), "{a}");
    let idn: lettre::message::Mailbox = "x@bücher.example".parse().unwrap();
    assert!(message_id("k", &idn).ends_with("@herald>"));
}

#[test]
fn the_message_carries_the_headers_and_a_utf8_body() {
    let from: lettre::message::Mailbox = "Salon Zoë <no-reply@salon.example>".parse().unwrap();
    let reply_to: lettre::message::Mailbox = "desk@salon.example".parse().unwrap();
    let content = Rendered {
        subject: Some("Grüße".into()),
        title: None,
        body: "Grüße, Zoë — 10:00".into(),
    };
    let id = message_id("k", &from);
    let sender = Sender {
        from: &from,
        reply_to: Some(&reply_to),
    };
    let m = build(&sender, "ana@example.com", &content, &id).unwrap();
    let env = m.envelope();
    assert_eq!(env.from().unwrap().to_string(), "no-reply@salon.example");
    assert_eq!(env.to().len(), 1);
    assert_eq!(env.to()[0].to_string(), "ana@example.com");
    let raw = String::from_utf8(m.formatted()).unwrap();
    assert!(raw.is_ascii(), "7-bit clean on the wire: {raw}");
    assert!(raw.contains(&format!("Message-ID: {id}\r\n")), "{raw}");
    assert!(raw.contains("Reply-To: desk@salon.example\r\n"), "{raw}");
    assert!(raw.contains("To: ana@example.com\r\n"), "{raw}");
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{raw}"
    );

    // No subject in the template: an empty Subject.
    let bare = Rendered {
        subject: None,
        title: None,
        body: "hi".into(),
    };
    let raw = String::from_utf8(
        build(&sender, "a@b.example", &bare, &id)
            .unwrap()
            .formatted(),
    )
    .unwrap();
    assert!(raw.contains("Subject: \r\n"), "{raw}");
}

#[test]
fn a_bad_recipient_address_is_refused_before_sending() {
    let from: lettre::message::Mailbox = "a@b.example".parse().unwrap();
    let content = Rendered {
        subject: None,
        title: None,
        body: "x".into(),
    };
    let sender = Sender {
        from: &from,
        reply_to: None,
    };
    assert!(matches!(
        build(&sender, "not-an-address", &content, "<i@b.example>"),
        Err(message::BuildError::Address(_))
    ));
}

#[test]
fn enhanced_codes_parse() {
    assert_eq!(enhanced_code("5.1.1 no such user"), Some((5, 1, 1)));
    assert_eq!(enhanced_code("5.1.10 RESOLVER"), Some((5, 1, 10)));
    assert_eq!(enhanced_code("4.3.0"), Some((4, 3, 0)));
    assert_eq!(enhanced_code("No such user here"), None);
    assert_eq!(enhanced_code("5.1 x"), None);
    assert_eq!(enhanced_code("3.1.1 x"), None);
    assert_eq!(enhanced_code("5.1.1.1 x"), None);
    assert_eq!(enhanced_code(""), None);
}

#[test]
fn replies_classify_as_rfc_5321_and_3463_say() {
    use session::Stage::{Data, Mail, Open, Rcpt};
    let kind = |stage, code, text| from_reply(stage, code, text, "mx:25").kind();
    let cases = [
        (Rcpt, 451, "4.3.0 try later", "transient"),
        (Data, 451, "4.3.0 try later", "transient"),
        (Open, 421, "4.7.0 closing", "transient"),
        (Rcpt, 550, "5.1.1 no such user", "recipient_invalid"),
        (Rcpt, 550, "No such user here", "recipient_invalid"),
        (Rcpt, 551, "User not local", "recipient_invalid"),
        (Rcpt, 553, "5.1.3 bad address syntax", "recipient_invalid"),
        (
            Rcpt,
            550,
            "5.1.10 RESOLVER.ADR.RecipientNotFound",
            "recipient_invalid",
        ),
        (Rcpt, 550, "5.2.1 mailbox disabled", "recipient_invalid"),
        (Rcpt, 550, "5.2.2 mailbox full", "permanent"),
        (Rcpt, 550, "5.7.1 relaying denied", "permanent"),
        (Rcpt, 553, "5.1.8 sender address rejected", "permanent"),
        (Rcpt, 552, "5.3.4 too many recipients", "permanent"),
        (Mail, 553, "5.1.8 sender domain unknown", "permanent"),
        (Mail, 550, "No such user here", "permanent"),
        (Data, 550, "5.1.1 no such user", "permanent"),
        (Data, 554, "5.7.1 message rejected as spam", "permanent"),
        (Open, 535, "5.7.8 bad credentials", "permanent"),
    ];
    for (stage, code, text, want) in cases {
        assert_eq!(kind(stage, code, text), want, "{stage:?} {code} {text}");
    }
    assert!(names_the_recipient("5.1.1 x") && !names_the_recipient("5.7.1 x"));
}

#[test]
fn error_text_names_the_server_code_and_reply() {
    match from_reply(
        session::Stage::Rcpt,
        550,
        "5.1.1 no such user",
        "mx.example:25",
    ) {
        SendReply::RecipientInvalid { error } => {
            assert_eq!(error, "mx.example:25 answered 550 5.1.1 no such user")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_email_is_supported_and_the_password_is_secret() {
    assert!(Smtp.supports(Channel::Email));
    assert!(!Smtp.supports(Channel::Sms));
    assert_eq!(Smtp.secrets(), &["password"]);
    assert_eq!(Smtp.name(), "smtp");
}
