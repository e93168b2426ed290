//! Tests of `recipient.rs`.

use super::*;

#[test]
fn emails() {
    for ok in [
        "ana@example.com",
        "a.b+tag@mail.example.co.uk",
        "x@b-c.io",
        "josé@exemplo.com.br",
    ] {
        assert_eq!(parse_email(ok), Some(ok), "{ok}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("a@{}.com", "b".repeat(250));
    for bad in [
        "",
        "ana",
        "@example.com",
        "ana@",
        "ana@example",
        "ana@@example.com",
        "a@b@example.com",
        "ana b@example.com",
        "ana@exa mple.com",
        "ana@example.com\n",
        "ana@-example.com",
        "ana@example-.com",
        "ana@example..com",
        "ana@exam_ple.com",
        long_local.as_str(),
        long_total.as_str(),
    ] {
        assert_eq!(parse_email(bad), None, "{bad:?}");
    }
}

#[test]
fn phones() {
    for ok in [
        "+15550001111",
        "+4915123456789",
        "+1234567",
        "+123456789012345",
    ] {
        assert_eq!(parse_phone(ok), Some(ok), "{ok}");
    }
    for bad in [
        "",
        "+",
        "15550001111",
        "+05550001111",
        "+123456",
        "+1234567890123456",
        "+1 555 000 1111",
        "+1-555-000-1111",
        "+1555000111a",
        "++15550001111",
    ] {
        assert_eq!(parse_phone(bad), None, "{bad:?}");
    }
}

#[test]
fn locales() {
    for ok in ["en", "pt-BR", "fil", "zh-Hant-TW", "es-419", "EN-us"] {
        assert_eq!(parse_locale(ok), Some(ok), "{ok}");
    }
    for bad in [
        "",
        "e",
        "engl",
        "english",
        "pt_BR",
        "pt-",
        "-BR",
        "pt--BR",
        "p1",
        "pt-BRAZILIAN",
        "en US",
    ] {
        assert_eq!(parse_locale(bad), None, "{bad:?}");
    }
}

#[test]
fn timezones() {
    for ok in ["Europe/Lisbon", "America/Sao_Paulo", "UTC", "Asia/Kolkata"] {
        assert_eq!(parse_timezone(ok), Some(ok), "{ok}");
    }
    for bad in ["", "Mars/Olympus_Mons", "+03:00", "Europe/"] {
        assert_eq!(parse_timezone(bad), None, "{bad:?}");
    }
}

fn ana() -> Recipient {
    Recipient {
        name: Some("Ana".into()),
        email: Some("ana@example.com".into()),
        phone: Some("+15550001111".into()),
        locale: Some("pt-BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        opt_out: vec![],
        apps: vec![
            install(Channel::Aunio, "tok-a"),
            install(Channel::BrandedApp, "tok-b1"),
            install(Channel::BrandedApp, "tok-b2"),
            install(Channel::BrandedApp, "tok-b1"),
        ],
    }
}

fn install(app: Channel, token: &str) -> AppInstall {
    AppInstall {
        app,
        token: token.into(),
        platform: Some(Platform::Ios),
    }
}

fn field_of(r: &Recipient, audience: Audience) -> (String, &'static str) {
    let e = r.validate(audience).expect_err("must be rejected");
    (e.field, e.code)
}

#[test]
fn validate_names_the_field() {
    assert_eq!(ana().validate(Audience::Client), Ok(()));
    assert_eq!(Recipient::default().validate(Audience::Staff), Ok(()));

    let mut r = ana();
    r.name = Some("é".repeat(255));
    assert_eq!(
        r.validate(Audience::Client),
        Ok(()),
        "255 characters are fine"
    );
    r.name = Some("a".repeat(256));
    assert_eq!(field_of(&r, Audience::Client), ("name".into(), "too_long"));

    type Change = Box<dyn Fn(&mut Recipient)>;
    let cases: Vec<(Change, &str, &str)> = vec![
        (
            Box::new(|r| r.email = Some("ana@".into())),
            "email",
            "invalid_email",
        ),
        (
            Box::new(|r| r.phone = Some("5550001111".into())),
            "phone",
            "invalid_phone",
        ),
        (
            Box::new(|r| r.locale = Some("pt_BR".into())),
            "locale",
            "invalid_locale",
        ),
        (
            Box::new(|r| r.timezone = Some("Lisbon".into())),
            "timezone",
            "invalid_timezone",
        ),
        (
            Box::new(|r| r.apps[1].app = Channel::AdminApp),
            "apps[1].app",
            "app_not_for_audience",
        ),
        (
            Box::new(|r| r.apps[2].app = Channel::Sms),
            "apps[2].app",
            "app_not_for_audience",
        ),
        (
            Box::new(|r| r.apps[0].token = "  ".into()),
            "apps[0].token",
            "invalid_token",
        ),
        (
            Box::new(|r| r.apps[3].token = "t".repeat(4097)),
            "apps[3].token",
            "invalid_token",
        ),
    ];
    for (change, field, code) in cases {
        let mut r = ana();
        change(&mut r);
        assert_eq!(field_of(&r, Audience::Client), (field.to_string(), code));
    }

    let mut s = ana();
    s.apps = vec![install(Channel::AdminApp, "tok")];
    assert_eq!(s.validate(Audience::Staff), Ok(()));
    s.apps.push(install(Channel::Aunio, "tok2"));
    assert_eq!(
        field_of(&s, Audience::Staff),
        ("apps[1].app".into(), "app_not_for_audience")
    );
}

fn to(r: Reach) -> Vec<String> {
    match r {
        Reach::Addresses { to } => to,
        Reach::Unreachable { reason } => panic!("unreachable: {reason}"),
    }
}

fn why(r: Reach) -> String {
    match r {
        Reach::Unreachable { reason } => reason,
        Reach::Addresses { to } => panic!("reachable at {to:?}"),
    }
}

#[test]
fn reach_gives_the_addresses() {
    let a = ana();
    assert_eq!(
        to(reach(Channel::Email, Audience::Client, &a, true)),
        ["ana@example.com"]
    );
    assert_eq!(
        to(reach(Channel::Sms, Audience::Client, &a, true)),
        ["+15550001111"]
    );
    assert_eq!(
        to(reach(Channel::Aunio, Audience::Client, &a, true)),
        ["tok-a"]
    );
    // One entry per device, the repeated token once, in order.
    assert_eq!(
        to(reach(Channel::BrandedApp, Audience::Client, &a, true)),
        ["tok-b1", "tok-b2"]
    );
    assert_eq!(a.tokens(Channel::BrandedApp), ["tok-b1", "tok-b2"]);
    assert!(a.tokens(Channel::AdminApp).is_empty());
}

#[test]
fn reach_says_why_not() {
    let mut a = ana();
    a.opt_out = vec![Channel::Sms];
    assert_eq!(
        why(reach(Channel::Sms, Audience::Client, &a, true)),
        "client opted out of sms"
    );
    // The opt-out is the reason even when there is no integration either.
    assert_eq!(
        why(reach(Channel::Sms, Audience::Client, &a, false)),
        "client opted out of sms"
    );
    assert_eq!(
        why(reach(Channel::Email, Audience::Client, &a, false)),
        "the business has no email integration"
    );
    let nobody = Recipient::default();
    assert_eq!(
        why(reach(Channel::Email, Audience::Client, &nobody, true)),
        "client has no e-mail address"
    );
    assert_eq!(
        why(reach(Channel::Sms, Audience::Staff, &nobody, true)),
        "staff member has no phone number"
    );
    assert_eq!(
        why(reach(Channel::BrandedApp, Audience::Client, &nobody, true)),
        "client has no branded app installed"
    );
    assert_eq!(
        why(reach(Channel::AdminApp, Audience::Staff, &a, true)),
        "staff member has no admin app installed"
    );
    let staff = Recipient {
        opt_out: vec![Channel::AdminApp],
        apps: vec![install(Channel::AdminApp, "tok")],
        ..Default::default()
    };
    assert_eq!(
        why(reach(Channel::AdminApp, Audience::Staff, &staff, true)),
        "staff member opted out of admin_app"
    );
}

#[test]
fn null_lists_read_as_empty() {
    let r: Recipient =
        serde_json::from_str(r#"{"name": "Ana", "opt_out": null, "apps": null}"#).unwrap();
    assert!(r.opt_out.is_empty() && r.apps.is_empty());
    assert!(serde_json::from_str::<Recipient>(r#"{"nickname": "A"}"#).is_err());
}
