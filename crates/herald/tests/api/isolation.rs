//! Each tenant sees and changes only its own data: another tenant's ids
//! answer as if they did not exist.

use crate::helpers::{assert_error, seed_data, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_see_or_use_each_others_data() {
    let app = spawn_app().await;
    let a = app.create_tenant("Salon A").await;
    let b = app.create_tenant("Salon B").await;
    assert_ne!(a.id, b.id);
    assert_ne!(a.api_key, b.api_key);

    app.simulators_everywhere(&a.api_key).await;
    app.put_seed_type(&a.api_key, "appointment_reminder").await;
    app.put_type(
        &a.api_key,
        "a_only",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
    )
    .await;
    app.put_client(
        &a.api_key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com"}),
    )
    .await;
    app.put_staff(&a.api_key, "eva", json!({"name": "Eva"}))
        .await;
    let id = app
        .trigger(
            &a.api_key,
            json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(), "idempotency_key": "shared-key"}),
        )
        .await;
    app.wait_final(&a.api_key, &id).await;

    let bk = &b.api_key;
    for path in [
        format!("/v1/notifications/{id}"),
        "/v1/clients/ana".to_string(),
        "/v1/staff/eva".to_string(),
        "/v1/notification-types/a_only".to_string(),
        "/v1/notification-types/appointment_reminder".to_string(),
        "/v1/integrations/email".to_string(),
    ] {
        let (status, body) = app.get(&path, bk).await;
        assert_error(
            &format!("B GET {path}"),
            status,
            &body,
            StatusCode::NOT_FOUND,
            None,
        );
        assert!(!body.to_string().contains("ana@example.com"), "{body}");
    }
    let (status, list) = app.get("/v1/integrations", bk).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        !list.to_string().contains("simulator"),
        "B sees none of A's integrations: {list}"
    );
    let (status, types) = app.get("/v1/notification-types", bk).await;
    assert_eq!(status, StatusCode::OK, "{types}");
    assert!(
        !types.to_string().contains("a_only"),
        "B sees none of A's types: {types}"
    );
    let (log, _) = app.log(bk, "").await;
    assert!(log.is_empty(), "B's log is empty: {log:#?}");
    assert!(app.outbox_all(bk).await.is_empty(), "B's outbox is empty");

    // B cannot trigger for A's client, even with a type of its own.
    app.simulators_everywhere(bk).await;
    app.put_seed_type(bk, "appointment_reminder").await;
    let (status, body) = app
        .post(
            "/v1/notifications",
            bk,
            &json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
        )
        .await;
    assert_error(
        "B triggers for A's client",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("client"),
    );
    // Nor with A's type.
    app.put_client(bk, "bo", json!({"email": "bo@example.com"}))
        .await;
    let (status, body) = app
        .post(
            "/v1/notifications",
            bk,
            &json!({"type": "a_only", "client": "bo", "data": {}}),
        )
        .await;
    assert_error(
        "B triggers A's type",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("type"),
    );

    // Idempotency keys are per tenant: B's "shared-key" is B's own.
    let b_id = app
        .trigger(
            bk,
            json!({"type": "appointment_reminder", "client": "bo", "data": seed_data(), "idempotency_key": "shared-key"}),
        )
        .await;
    assert_ne!(b_id, id);
    app.wait_final(bk, &b_id).await;

    // B's writes with the same ids do not touch A's records.
    app.put_client(
        bk,
        "ana",
        json!({"name": "Not Ana", "email": "impostor@example.com"}),
    )
    .await;
    let (status, ana) = app.get("/v1/clients/ana", &a.api_key).await;
    assert_eq!(status, StatusCode::OK, "{ana}");
    assert_eq!(
        ana["email"], "ana@example.com",
        "A's client is untouched: {ana}"
    );

    // A's view did not change either.
    let (status, n) = app
        .get(&format!("/v1/notifications/{b_id}"), &a.api_key)
        .await;
    assert_error(
        "A GET B's notification",
        status,
        &n,
        StatusCode::NOT_FOUND,
        None,
    );
    let (log, _) = app.log(&a.api_key, "").await;
    assert_eq!(log.len(), 1, "{log:#?}");
    let a_outbox = app.outbox_all(&a.api_key).await;
    assert!(
        a_outbox.iter().all(|m| m["notification_id"] == id.as_str()),
        "{a_outbox:#?}"
    );
    let b_outbox = app.outbox_all(bk).await;
    assert!(
        !b_outbox.is_empty()
            && b_outbox
                .iter()
                .all(|m| m["notification_id"] == b_id.as_str()),
        "{b_outbox:#?}"
    );
}
