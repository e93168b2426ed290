//! Tests of `error.rs`.

use super::*;
use crate::json::strip_position;
use herald_core::TypeConfig;
use serde::Deserialize;

/// Data errors as the extractor meets them (from a parsed `Value`);
/// syntax errors straight from the text.
fn classify<T: for<'de> Deserialize<'de>>(body: &str) -> ApiError {
    let result = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => serde_path_to_error::deserialize::<_, T>(v).map(|_| ()),
        Err(_) => {
            let mut de = serde_json::Deserializer::from_str(body);
            serde_path_to_error::deserialize::<_, T>(&mut de).map(|_| ())
        }
    };
    match result {
        Ok(()) => panic!("expected an error for {body}"),
        Err(e) => ApiError::from_json(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Small {
    name: String,
    n: Option<u32>,
}

#[test]
fn syntax_is_400_malformed() {
    for body in ["{", "{\"name\": }", "nope", ""] {
        let e = classify::<Small>(body);
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e.code, "malformed_json", "{body}");
        assert_eq!(e.field, None);
    }
}

#[test]
fn a_number_that_does_not_fit_is_422() {
    for body in [r#"{"name":"x","n":1.5}"#, r#"{"name":"x","n":1e30}"#] {
        let e = classify::<Small>(body);
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "out_of_range"),
            "{body}"
        );
        assert_eq!(e.field.as_deref(), Some("n"));
    }
}

#[test]
fn wrong_type_is_400_with_field() {
    let e = classify::<Small>(r#"{"name": 5}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::BAD_REQUEST, "wrong_type")
    );
    assert_eq!(e.field.as_deref(), Some("name"));
    let e = classify::<TypeConfig>(
        r#"{"audience":"client","channels":[{"channel":"email","scenario":7}]}"#,
    );
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::BAD_REQUEST, "wrong_type")
    );
    assert_eq!(e.field.as_deref(), Some("channels[0].scenario"));
}

#[test]
fn unknown_field_is_422_named() {
    let e = classify::<Small>(r#"{"name": "x", "colour": 1}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_field")
    );
    assert_eq!(e.field.as_deref(), Some("colour"));
    let e = classify::<TypeConfig>(
        r#"{"audience":"client","channels":[{"channel":"email","scenario":"always","colour":1}]}"#,
    );
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_field")
    );
    assert_eq!(e.field.as_deref(), Some("channels[0].colour"));
}

#[test]
fn missing_field_is_422_required() {
    let e = classify::<Small>(r#"{}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "required")
    );
    assert_eq!(e.field.as_deref(), Some("name"));
    let e = classify::<TypeConfig>(r#"{"audience":"client","channels":[{"channel":"email"}]}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "required")
    );
    assert_eq!(e.field.as_deref(), Some("channels[0].scenario"));
}

#[test]
fn unknown_variant_and_range_are_422_invalid_value() {
    let e = classify::<TypeConfig>(r#"{"audience":"robots","channels":[]}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    assert_eq!(e.field.as_deref(), Some("audience"));
    let e = classify::<TypeConfig>(
        r#"{"audience":"client","channels":[{"channel":"fax","scenario":"always"}]}"#,
    );
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    assert_eq!(e.field.as_deref(), Some("channels[0].channel"));
    let e = classify::<Small>(r#"{"name":"x","n":-1}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    assert_eq!(e.field.as_deref(), Some("n"));
    let e = classify::<Small>(r#"{"name":"x","n":99999999999}"#);
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
    );
    assert_eq!(e.field.as_deref(), Some("n"));
}

#[test]
fn unknown_template_channel_names_its_key() {
    // Template keys are read as strings so the rule can name the key.
    let cfg: TypeConfig = serde_json::from_str(
        r#"{"audience":"client","channels":[{"channel":"email","scenario":"always"}],"templates":{"fax":{}}}"#,
    )
    .unwrap();
    let e = ApiError::from(cfg.validate().unwrap_err());
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e.field.as_deref(), Some("templates.fax"));
}

#[test]
fn service_errors_map_to_statuses() {
    let cases: Vec<(ServiceError, StatusCode, &str)> = vec![
        (
            ServiceError::Unauthorized,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            ServiceError::Forbidden("no".into()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            ServiceError::NotFound("x".into()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            ServiceError::Conflict("c".into()),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            ServiceError::Invalid(FieldError::new("client", "unknown_recipient", "no client")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_recipient",
        ),
        (
            ServiceError::Store(StoreError::Corrupt("secret detail".into())),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
    ];
    for (e, status, code) in cases {
        let a = ApiError::from(e);
        assert_eq!((a.status, a.code.as_str()), (status, code));
        assert!(!a.message.contains("secret detail"));
    }
}

#[test]
fn strips_positions() {
    assert_eq!(
        strip_position("missing field `x` at line 1 column 2"),
        "missing field `x`"
    );
    assert_eq!(strip_position("plain"), "plain");
}

#[test]
fn a_database_that_cannot_write_now_is_503_with_retry_after_and_no_detail() {
    let e = ApiError::from(StoreError::Unavailable(
        "database or disk is full (/var/lib/herald/herald.db)".into(),
    ));
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.code, "unavailable");
    assert!(!e.message.contains("/var/lib"), "{}", e.message);
    let resp = e.into_response();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let closed = ApiError::from(StoreError::Closed).into_response();
    assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(closed.headers().contains_key("retry-after"));
    // A fault in the data stays a 500, without a Retry-After.
    let corrupt = ApiError::from(StoreError::Corrupt("bad plan".into())).into_response();
    assert_eq!(corrupt.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!corrupt.headers().contains_key("retry-after"));
}
