//! `GET /openapi.json`: the document describes every route the router
//! serves (from the one route table, `herald::api::routes::ROUTES`) and
//! its security matches what the server asks for. `openapi_answers`
//! validates real answers against it.

use crate::helpers::{spawn_app, Api};
use herald::api::routes::ROUTES;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The fallback's message for a path no route takes.
const NO_ROUTE: &str = "no such endpoint; see the API reference";

/// The document, fetched without a key.
pub async fn document(api: &Api) -> Value {
    let (status, doc) = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "GET /openapi.json: {doc}");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "not OpenAPI 3.1: {}",
        doc["openapi"]
    );
    doc
}

/// Every `(path, method)` the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (path.clone(), m.to_string()))
        })
        .collect()
}

/// A path template with each `{param}` filled in.
fn fill(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_the_router_serves_is_documented_with_its_methods() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(|m| (path.to_string(), m.to_string())))
        .collect();
    let described = documented(&doc);
    let missing: Vec<_> = served.difference(&described).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = described.difference(&served).collect();
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
    assert!(
        served.len() >= 30,
        "the route table looks cut short: {served:?}"
    );

    // Each documented operation is served (neither the unknown-path 404
    // nor a 405), and asks for a key exactly when the document says so.
    for (path, method) in &described {
        let op = &doc["paths"][path][method];
        let url = fill(path, "openapi-probe");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let (status, body) = app.call(m, &url, None, None).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {url} is documented, the router refuses the method: {body}"
        );
        assert_ne!(
            body["error"]["message"], NO_ROUTE,
            "{method} {url} is documented, no route takes it"
        );
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            secured,
            "{method} {url} without a key answered {status} {body}; security in the document: {}",
            op["security"]
        );
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
        if secured {
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} needs a key and does not document 401"
            );
        }
        // A JSON body can be malformed, too large, not JSON, or break a
        // rule (API.md's statuses).
        if op["requestBody"]["content"]["application/json"].is_object() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} takes a JSON body and does not document {status}"
                );
            }
        }
    }

    // Every operation has its own id (client generators name methods by it).
    let mut ids = BTreeSet::new();
    for (path, method) in &described {
        let id = doc["paths"][path][method]["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
    }

    // Both keys are described as bearer schemes.
    for scheme in ["tenant_key", "admin_token"] {
        assert_eq!(
            doc["components"]["securitySchemes"][scheme]["scheme"], "bearer",
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn the_document_needs_no_key_and_is_the_same_each_time() {
    let app = spawn_app().await;
    let first = document(&app).await;
    let (status, second) = app
        .call(Method::GET, "/openapi.json", Some("hk_unknown"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, second);
    let (status, body) = app.call(Method::POST, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}
