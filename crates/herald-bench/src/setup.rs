//! The server's configuration for the run, made through the public API:
//! one tenant per kind of notification, so each kind has its own
//! simulators and its own log to count.

use crate::client::Http;
use crate::error::BenchError;
use crate::load::{drive, Stop};
use crate::server::ADMIN_TOKEN;
use reqwest::Method;
use serde_json::{json, Value};

/// Clients per tenant; triggers rotate over them.
pub const CLIENTS: u64 = 1_000;

/// The notification type every tenant has.
pub const TYPE_KEY: &str = "reminder";

/// The longest confirmation window the API takes (3 days).
const LONG_WINDOW_S: u64 = 259_200;

/// The kinds of notification the bench sends, each a tenant of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// E-mail always, delivered.
    OneStep,
    /// E-mail always and rejected, SMS fallback delivered by receipt.
    TwoStep,
    /// E-mail sent to a simulator that never sends its receipt.
    Pending,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::OneStep => "Bench one-step",
            Kind::TwoStep => "Bench two-step",
            Kind::Pending => "Bench pending",
        }
    }
}

/// A simulator that answers at once and keeps no outbox.
fn simulator(default: &str) -> Value {
    json!({"default": default, "latency_ms": 0, "receipt_ms": 0, "record": false})
}

/// The integrations of a kind, by channel.
fn integrations(kind: Kind) -> Vec<(&'static str, Value)> {
    match kind {
        Kind::OneStep => vec![(
            "email",
            json!({"provider": "simulator", "settings": simulator("delivered")}),
        )],
        Kind::TwoStep => vec![
            (
                "email",
                json!({"provider": "simulator", "settings": simulator("rejected")}),
            ),
            (
                "sms",
                json!({"provider": "simulator", "settings": simulator("delivered"), "confirm": "receipt"}),
            ),
        ],
        Kind::Pending => vec![(
            "email",
            json!({"provider": "simulator", "settings": simulator("silent"),
                   "confirm": "receipt", "window_s": LONG_WINDOW_S}),
        )],
    }
}

/// The notification type of a kind.
fn notification_type(kind: Kind) -> Value {
    let email = json!({"subject": "Your appointment at {{ time }}",
                       "body": "Hello {{ recipient.name }}, see you at {{ time }}."});
    match kind {
        Kind::OneStep | Kind::Pending => json!({
            "audience": "client",
            "channels": [{"channel": "email", "scenario": "always"}],
            "templates": {"email": {"en": email}},
        }),
        Kind::TwoStep => json!({
            "audience": "client",
            "channels": [{"channel": "email", "scenario": "always"},
                         {"channel": "sms", "scenario": "fallback"}],
            "templates": {"email": {"en": email},
                          "sms": {"en": {"body": "Appointment at {{ time }}"}}},
        }),
    }
}

/// Creates the tenant of a kind with its integrations, type and clients;
/// returns its API key.
pub async fn tenant(http: &Http, kind: Kind, connections: usize) -> Result<String, BenchError> {
    let created = http
        .expect_ok(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&json!({"name": kind.name()})),
        )
        .await?;
    let Some(key) = created["api_key"].as_str().map(str::to_string) else {
        return Err(BenchError::Status {
            what: "POST /v1/tenants".into(),
            status: 201,
            body: format!("no api_key in {created}"),
        });
    };
    for (channel, body) in integrations(kind) {
        http.put(&format!("/v1/integrations/{channel}"), &key, &body)
            .await?;
    }
    http.put(
        &format!("/v1/notification-types/{TYPE_KEY}"),
        &key,
        &notification_type(kind),
    )
    .await?;
    let tally = {
        let http = http.clone();
        let key = key.clone();
        drive(
            &format!("clients of {}", kind.name()),
            connections,
            Stop::Count(CLIENTS),
            move |i| {
                let http = http.clone();
                let key = key.clone();
                async move {
                    let body = json!({"name": format!("Client {i}"),
                                      "email": format!("c{i}@example.com"),
                                      "phone": format!("+1555{i:07}")});
                    http.put(&format!("/v1/clients/c{i}"), &key, &body)
                        .await
                        .map(|_| None)
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await
    };
    if let Some(why) = tally.first_failure {
        return Err(BenchError::Status {
            what: "PUT /v1/clients".into(),
            status: 0,
            body: why,
        });
    }
    Ok(key)
}

/// A trigger of the bench's type for client number `n` (mod the clients).
pub fn trigger_body(n: u64) -> String {
    format!(
        r#"{{"type":"{TYPE_KEY}","client":"c{}","data":{{"time":"10:00"}}}}"#,
        n % CLIENTS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_rotate_over_the_clients_and_are_json() {
        let v: Value = serde_json::from_str(&trigger_body(CLIENTS + 7)).expect("JSON");
        assert_eq!(v["client"], "c7");
        assert_eq!(v["type"], TYPE_KEY);
        assert_eq!(v["data"]["time"], "10:00");
    }
}
