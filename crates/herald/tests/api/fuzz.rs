//! Hostile bodies: arbitrary JSON, and valid bodies with one value swapped
//! for arbitrary JSON, sent to every endpoint that takes a body. Whatever
//! arrives, the answer is a 2xx or a 4xx in the error shape — never a 5xx —
//! and the server keeps answering.

use crate::helpers::{seed_data, seed_type, spawn_app};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "email",
            "sms",
            "aunio",
            "always",
            "fallback",
            "off",
            "client",
            "staff",
            "delivered",
            "transient:2",
            "{{ x }}",
            "+15550001111",
            "a@b.co",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every place in `v` where a value can be swapped, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_gets_a_5xx() {
    let app = spawn_app().await;
    let key = app.create_tenant("Fuzz").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550001111"}),
    )
    .await;
    let valid: Vec<(Method, &str, Value)> = vec![
        (Method::POST, "/v1/tenants", json!({"name": "X"})),
        (
            Method::PUT,
            "/v1/integrations/sms",
            json!({"provider": "simulator", "settings": {"routes": ["whatsapp", "sms"], "outcomes": {"+1555": "late"}}, "confirm": "receipt", "window_s": 5}),
        ),
        (Method::PUT, "/v1/notification-types/fz", seed_type()),
        (
            Method::PUT,
            "/v1/clients/fz",
            json!({"name": "F", "email": "f@example.com", "phone": "+15550002222", "locale": "pt-BR", "timezone": "Europe/Lisbon", "opt_out": ["sms"], "apps": [{"app": "aunio", "token": "t1", "platform": "ios"}]}),
        ),
        (
            Method::PUT,
            "/v1/staff/fz",
            json!({"name": "S", "apps": [{"app": "admin_app", "token": "t2"}]}),
        ),
        (
            Method::POST,
            "/v1/notifications",
            json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(), "idempotency_key": "k"}),
        ),
        (
            Method::POST,
            "/v1/notifications/preview",
            json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
        ),
    ];
    let cases: Vec<(Method, String, Vec<u8>)> = {
        let mut runner = TestRunner::new(Config {
            cases: 48,
            ..Config::default()
        });
        let mut out = Vec::new();
        for (method, path, body) in &valid {
            let mut ptrs = Vec::new();
            pointers(body, String::new(), &mut ptrs);
            // HERALD_FUZZ_CASES raises the count for a longer hunt.
            let n: usize = std::env::var("HERALD_FUZZ_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(48);
            for _ in 0..n {
                let replacement = arb_json().new_tree(&mut runner).expect("a value").current();
                let idx = (out.len() * 7919) % ptrs.len();
                let mut mutated = body.clone();
                if ptrs[idx].is_empty() {
                    mutated = replacement.clone();
                } else if let Some(slot) = mutated.pointer_mut(&ptrs[idx]) {
                    *slot = replacement.clone();
                }
                out.push((
                    method.clone(),
                    path.to_string(),
                    mutated.to_string().into_bytes(),
                ));
                out.push((
                    method.clone(),
                    path.to_string(),
                    replacement.to_string().into_bytes(),
                ));
            }
        }
        out
    };
    let admin = crate::helpers::ADMIN_TOKEN;
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    for (method, path, body) in cases {
        let auth = if path == "/v1/tenants" {
            admin
        } else {
            key.as_str()
        };
        let (status, resp) = app
            .raw(
                method.clone(),
                &path,
                Some(auth),
                Some("application/json"),
                body.clone(),
            )
            .await;
        *seen.entry(status.as_u16()).or_default() += 1;
        assert!(
            status.is_success() || status.is_client_error(),
            "{method} {path} {} -> {status} {resp}",
            String::from_utf8_lossy(&body)
        );
        if status.is_client_error() {
            assert!(
                resp["error"]["code"].is_string() && resp["error"]["message"].is_string(),
                "{method} {path} {} -> {status} {resp}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    // The mix shows the generator reaches past the parser: accepted
    // bodies, type errors and rule errors all occur.
    for code in [200, 400, 422] {
        assert!(
            seen.get(&code).is_some_and(|n| *n > 0),
            "no {code} in {seen:?}"
        );
    }
    let (status, _) = app.get("/healthz", "").await;
    assert!(status.is_success());
}
