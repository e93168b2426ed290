//! Tests of the simulator provider.

use super::settings::parse_settings;
use super::*;

#[test]
fn outcomes_parse() {
    assert_eq!(
        SimOutcome::parse("transient:3"),
        Some(SimOutcome::Transient(3))
    );
    assert_eq!(SimOutcome::parse("late"), Some(SimOutcome::Late));
    assert_eq!(SimOutcome::parse("transient:x"), None);
    assert_eq!(SimOutcome::parse("bounced"), None);
}

#[test]
fn route_prefixed_key_applies_to_that_route_only() {
    let s = parse_settings(&serde_json::json!({
        "outcomes": {"whatsapp:+15550001111": "unregistered", "+15550002222": "failed"}
    }))
    .unwrap();
    assert_eq!(
        s.outcome_for("whatsapp", "+15550001111"),
        SimOutcome::Unregistered
    );
    assert_eq!(s.outcome_for("sms", "+15550001111"), SimOutcome::Delivered);
    assert_eq!(s.outcome_for("sms", "+15550002222"), SimOutcome::Failed);
    assert_eq!(
        s.outcome_for("whatsapp", "+15550002222"),
        SimOutcome::Failed
    );
}

#[test]
fn unknown_setting_is_named() {
    let e = parse_settings(&serde_json::json!({"colour": 1})).unwrap_err();
    assert_eq!(e.field, "settings.colour");
}

#[test]
fn without_a_sim_store_no_integration_is_configured() {
    let sim = Simulator::new(None);
    let settings = serde_json::json!({});
    let tls = Default::default();
    let cfg = Configure {
        channel: Channel::Email,
        settings: &settings,
        hook_id: "h",
        webhook_url: "http://127.0.0.1/v1/hooks/h",
        tls: &tls,
        receipts: None,
    };
    match sim.configure(&cfg) {
        Err(e) => assert!(e.message.contains("has none"), "{}", e.message),
        Ok(_) => panic!("a simulator without its store was configured"),
    }
}
