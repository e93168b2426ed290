//! API.md "Removing and listing": `DELETE` of types, clients and staff
//! (204, then 404), what was sent staying in the log, and `GET
//! /v1/clients` / `GET /v1/staff` with search and paging.

use crate::helpers::{seed_data, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_types_and_people_keeps_the_log() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let other = app.create_tenant("Other").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(&key, "ana", json!({"phone": "+15550001111"}))
        .await;
    app.put_staff(&key, "bo", json!({"email": "bo@example.com"}))
        .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
        )
        .await;
    app.wait_final(&key, &id).await;

    // Another tenant cannot remove them: 404, as if they did not exist.
    for path in [
        "/v1/notification-types/appointment_reminder",
        "/v1/clients/ana",
        "/v1/staff/bo",
    ] {
        let (status, body) = app.call(Method::DELETE, path, Some(&other), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} {body}");
    }
    for path in [
        "/v1/notification-types/appointment_reminder",
        "/v1/clients/ana",
        "/v1/staff/bo",
    ] {
        let (status, body) = app.call(Method::DELETE, path, Some(&key), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path} {body}");
        let (status, _) = app.get(path, &key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} is gone");
        let (status, body) = app.call(Method::DELETE, path, Some(&key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} again: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    }
    // What was already sent stays in the log.
    let n = app.notification(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    // A trigger of the removed type is refused.
    let (status, body) = app
        .post(
            "/v1/notifications",
            &key,
            &json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_clients_and_staff_with_search_and_paging() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let other = app.create_tenant("Other").await.api_key;
    app.put_client(
        &key,
        "c1",
        json!({"name": "Ana Lima", "email": "ana@example.com"}),
    )
    .await;
    app.put_client(
        &key,
        "c2",
        json!({"name": "Bruno", "phone": "+15550002222"}),
    )
    .await;
    app.put_client(&key, "c3", json!({"name": "Carla"})).await;
    app.put_staff(&key, "s1", json!({"name": "Ana Staff"}))
        .await;
    app.put_client(&other, "x1", json!({"name": "Ana Other"}))
        .await;

    let ids = |v: &serde_json::Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|p| p["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (status, page) = app.get("/v1/clients?limit=2", &key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "clients"), ["c1", "c2"]);
    assert_eq!(page["next"], "c2");
    assert_eq!(page["clients"][0]["email"], "ana@example.com");
    let (_, page) = app.get("/v1/clients?limit=2&after=c2", &key).await;
    assert_eq!(ids(&page, "clients"), ["c3"]);
    assert!(page["next"].is_null(), "{page}");

    for (q, want) in [
        ("ana", vec!["c1"]),
        ("0002222", vec!["c2"]),
        ("EXAMPLE", vec!["c1"]),
        ("zzz", vec![]),
    ] {
        let (_, page) = app.get(&format!("/v1/clients?q={q}"), &key).await;
        assert_eq!(ids(&page, "clients"), want, "q={q}");
    }
    let (_, page) = app.get("/v1/staff?q=ana", &key).await;
    assert_eq!(ids(&page, "staff"), ["s1"]);

    let (status, body) = app.get("/v1/clients?limit=0", &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "limit", "{body}");
}
