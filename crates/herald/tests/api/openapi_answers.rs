//! Real answers of a scenario (tenant, integrations, type, client,
//! preview, trigger, the cascade's end, the log, the outbox, and errors
//! 400, 401, 403, 404, 409, 413, 415, 422) validate against the schemas
//! `/openapi.json` gives for their path, method and status; and the
//! validator does refuse an answer with one thing wrong.

use crate::helpers::{seed_data, seed_type, spawn_app, ADMIN_TOKEN};
use crate::openapi::document;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Validates answers against the document's schemas.
struct Schemas {
    doc: Value,
}

impl Schemas {
    /// The JSON schema the document gives for `(path, method, status)`.
    fn response_schema(&self, path: &str, method: &str, status: StatusCode) -> Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let response = &op["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not list: {}",
            op["responses"]
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} has no JSON schema: {response}"
        );
        schema.clone()
    }

    /// A validator for `schema`, its `$ref`s resolved in the document's
    /// components (OpenAPI 3.1 schemas are JSON Schema 2020-12).
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc["components"],
        });
        jsonschema::validator_for(&root).expect("the document's schemas compile")
    }

    /// The component schema `name`, as a validator.
    fn component(&self, name: &str) -> jsonschema::Validator {
        assert!(
            self.doc["components"]["schemas"][name].is_object(),
            "no component schema {name}"
        );
        self.validator(&json!({"$ref": format!("#/components/schemas/{name}")}))
    }

    /// Asserts that an answer validates against the schema its status has.
    fn check(&self, what: &str, path: &str, method: &str, status: StatusCode, body: &Value) {
        let schema = self.response_schema(path, method, status);
        let v = self.validator(&schema);
        let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{what}: {method} {path} {status} does not match its schema: {errors:?}\n{body:#}"
        );
    }
}

#[tokio::test]
async fn real_answers_validate_against_the_document() {
    let app = spawn_app().await;
    let s = Schemas {
        doc: document(&app).await,
    };

    let (st, health) = app.call(Method::GET, "/healthz", None, None).await;
    s.check("health", "/healthz", "get", st, &health);

    // The operator creates a tenant.
    let (st, tenant) = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&json!({"name": "Salon One"})),
        )
        .await;
    s.check("tenant", "/v1/tenants", "post", st, &tenant);
    let key = tenant["api_key"].as_str().expect("api_key").to_string();
    let key = key.as_str();

    // Integrations: a simulator per channel; SMS waits for a receipt.
    for channel in ["email", "aunio", "branded_app"] {
        let (st, body) = app
            .put(
                &format!("/v1/integrations/{channel}"),
                key,
                &json!({"provider": "simulator", "settings": {"default": "unregistered"}}),
            )
            .await;
        s.check(channel, "/v1/integrations/{channel}", "put", st, &body);
    }
    let sms = json!({"provider": "simulator", "settings": {"default": "delivered", "receipt_ms": 10},
                     "confirm": "receipt", "window_s": 60, "price_per_segment": 0.05});
    let (st, body) = app.put("/v1/integrations/sms", key, &sms).await;
    s.check("sms", "/v1/integrations/{channel}", "put", st, &body);
    let (st, body) = app.get("/v1/integrations/sms", key).await;
    s.check("get sms", "/v1/integrations/{channel}", "get", st, &body);
    let (st, body) = app.get("/v1/integrations", key).await;
    s.check("integrations", "/v1/integrations", "get", st, &body);
    let (st, body) = app
        .post(
            "/v1/integrations/sms/test",
            key,
            &json!({"to": "+15550001111"}),
        )
        .await;
    s.check(
        "test send",
        "/v1/integrations/{channel}/test",
        "post",
        st,
        &body,
    );

    // The help article's type, and a client with every field.
    let (st, body) = app
        .put("/v1/notification-types/reminder", key, &seed_type())
        .await;
    s.check("type", "/v1/notification-types/{key}", "put", st, &body);
    let (st, body) = app.get("/v1/notification-types", key).await;
    s.check("types", "/v1/notification-types", "get", st, &body);
    let client = json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550001111",
                        "locale": "en", "timezone": "Europe/Berlin", "opt_out": [],
                        "apps": [{"app": "aunio", "token": "tok-1", "platform": "ios"}]});
    let (st, body) = app.put("/v1/clients/c1", key, &client).await;
    s.check("client", "/v1/clients/{id}", "put", st, &body);
    let (st, body) = app.get("/v1/clients?q=ana", key).await;
    s.check("clients", "/v1/clients", "get", st, &body);

    // Preview, trigger, the cascade's end, the log and the outbox.
    let trigger =
        json!({"type": "reminder", "client": "c1", "data": seed_data(), "idempotency_key": "k1"});
    let (st, body) = app.post("/v1/notifications/preview", key, &trigger).await;
    s.check("preview", "/v1/notifications/preview", "post", st, &body);
    let (st, accepted) = app.post("/v1/notifications", key, &trigger).await;
    s.check("trigger", "/v1/notifications", "post", st, &accepted);
    assert_eq!(st, StatusCode::ACCEPTED);
    let id = accepted["id"].as_str().expect("id").to_string();
    let pending = app.notification(key, &id).await;
    s.check(
        "pending",
        "/v1/notifications/{id}",
        "get",
        StatusCode::OK,
        &pending,
    );
    let done = app.wait_final(key, &id).await;
    s.check(
        "final",
        "/v1/notifications/{id}",
        "get",
        StatusCode::OK,
        &done,
    );
    let sms_attempts = done["channels"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["channel"] == "sms"))
        .map(|c| c["attempts"].clone())
        .unwrap_or_default();
    assert!(
        sms_attempts[0]["receipts"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "the scenario should reach an SMS receipt: {done:#}"
    );
    let (st, again) = app.post("/v1/notifications", key, &trigger).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    s.check("repeat", "/v1/notifications", "post", st, &again);
    let (st, body) = app.get("/v1/notifications?limit=1", key).await;
    s.check("log", "/v1/notifications", "get", st, &body);
    let (st, body) = app
        .get(&format!("/v1/simulator/outbox?notification={id}"), key)
        .await;
    s.check("outbox", "/v1/simulator/outbox", "get", st, &body);

    // Errors: 400, 401, 404, 409, 415, 422.
    let (st, body) = app
        .raw(
            Method::POST,
            "/v1/notifications",
            Some(key),
            Some("application/json"),
            b"{".to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    s.check("malformed", "/v1/notifications", "post", st, &body);
    let (st, body) = app
        .put(
            "/v1/notification-types/bad",
            key,
            &json!({"audience": "client", "channels": [{"channel": {"x": 1}, "scenario": "always"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    s.check(
        "wrong type",
        "/v1/notification-types/{key}",
        "put",
        st,
        &body,
    );
    let (st, body) = app.get("/v1/notifications", "hk_nope").await;
    s.check("no key", "/v1/notifications", "get", st, &body);
    let (st, body) = app.get("/v1/notifications/nope", key).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    s.check("unknown", "/v1/notifications/{id}", "get", st, &body);
    let (st, body) = app
        .post(
            "/v1/notifications",
            key,
            &json!({"type": "reminder", "client": "c1", "data": {"client_name": "Bo", "time": "9"}, "idempotency_key": "k1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    s.check("conflict", "/v1/notifications", "post", st, &body);
    let (st, body) = app
        .raw(
            Method::PUT,
            "/v1/clients/c2",
            Some(key),
            Some("text/plain"),
            b"{}".to_vec(),
        )
        .await;
    s.check("media type", "/v1/clients/{id}", "put", st, &body);
    let mut broken = seed_type();
    broken["channels"][0]["scenario"] = json!("fallback");
    let (st, body) = app.put("/v1/notification-types/bad", key, &broken).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "channels[0].scenario");
    s.check("rule", "/v1/notification-types/{key}", "put", st, &body);
    let (st, body) = app
        .call(Method::DELETE, "/v1/clients/c1", Some(key), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert!(
        s.doc["paths"]["/v1/clients/{id}"]["delete"]["responses"]["204"].is_object(),
        "DELETE answers 204, the document should say so"
    );

    let (st, body) = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(key),
            Some(&json!({"name": "X"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    s.check(
        "tenant key for the operator",
        "/v1/tenants",
        "post",
        st,
        &body,
    );
    let big = format!("{{\"to\": \"{}\"}}", "x".repeat(1_100_000));
    let (st, body) = app
        .raw(
            Method::POST,
            "/v1/integrations/sms/test",
            Some(key),
            Some("application/json"),
            big.into_bytes(),
        )
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    s.check(
        "too large",
        "/v1/integrations/{channel}/test",
        "post",
        st,
        &body,
    );

    // Every schema of the document compiles as JSON Schema 2020-12.
    for name in s.doc["components"]["schemas"]
        .as_object()
        .expect("component schemas")
        .keys()
    {
        s.component(name);
    }

    // The validator can fail: the same answers with one thing wrong.
    let notification = s.component("NotificationView");
    assert!(notification.is_valid(&done));
    let mut wrong = done.clone();
    wrong["channels"][0]["outcome"] = json!(42);
    assert!(!notification.is_valid(&wrong), "a number for an outcome");
    let mut wrong = done.clone();
    wrong["status"] = json!("lost");
    assert!(!notification.is_valid(&wrong), "a status outside its set");
    let mut wrong = done.clone();
    if let Some(o) = wrong.as_object_mut() {
        o.remove("channels");
    }
    assert!(!notification.is_valid(&wrong), "a required field missing");
    let error = s.component("ErrorBody");
    assert!(!error.is_valid(&json!({"error": {"code": "x", "message": 5, "field": null}})));
    assert!(!error.is_valid(&json!({"message": "no envelope"})));

    // Request schemas say what the parser takes: the scenario's bodies
    // validate, a body with an unknown field does not (422 on the wire).
    let type_config = s.component("TypeConfig");
    assert!(type_config.is_valid(&seed_type()));
    let mut unknown = seed_type();
    unknown["colour"] = json!("red");
    assert!(!type_config.is_valid(&unknown));
    let (st, _) = app.put("/v1/notification-types/x", key, &unknown).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(s.component("Recipient").is_valid(&client));
    assert!(s.component("TriggerInput").is_valid(&trigger));
    assert!(s.component("IntegrationInput").is_valid(&sms));
    assert!(!s
        .component("TriggerInput")
        .is_valid(&json!({"type": "reminder", "client": {"id": "c1"}})));
}
