//! Extractors that answer in the API's error shape: a strict JSON body,
//! the operator and tenant keys, path segments and query parameters.
//!
//! Handlers list them in this order: auth, path, query, body; so a request
//! without a key gets 401 before its path or body is looked at.

use super::error::ApiError;
use crate::service::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use herald_core::Channel;
use herald_store::Tenant;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

/// The token of an `Authorization: Bearer <token>` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The operator, checked with `App::check_admin`: 401 without a known
/// token, 403 for a tenant's API key.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        app.check_admin(token).await?;
        Ok(Admin)
    }
}

/// The tenant whose API key came with the request; 401 otherwise.
#[derive(Debug, Clone)]
pub struct TenantAuth(pub Tenant);

impl FromRequestParts<Arc<App>> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        Ok(TenantAuth(app.authenticate(token).await?))
    }
}

/// The single `{id}`/`{key}` segment of a path. A segment that does not
/// decode to UTF-8 text is a bad request (400), not a missing thing: no id
/// can be written that way.
#[derive(Debug, Clone)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(PathId(id)),
            Err(_) => Err(ApiError::bad_request(
                "invalid_path",
                "the path's id is not valid percent-encoded UTF-8 text",
                Some("id".into()),
            )),
        }
    }
}

/// The `{channel}` segment of a path; an unknown channel name is 404.
#[derive(Debug, Clone, Copy)]
pub struct PathChannel(pub Channel);

impl<S: Send + Sync> FromRequestParts<S> for PathChannel {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let PathId(name) = PathId::from_request_parts(parts, state).await?;
        let channel = crate::service::parse_channel(&name)?;
        Ok(PathChannel(channel))
    }
}

/// The query string as name → value (the last one wins on repeats). The
/// handlers parse values themselves so bad ones answer 422 naming them.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
            Ok(Query(map)) => Ok(QueryParams(map)),
            Err(_) => Err(ApiError::bad_request(
                "bad_query",
                "the query string could not be read",
                None,
            )),
        }
    }
}

/// Whether a `Content-Type` value is JSON (`application/json`, parameters
/// such as `; charset=utf-8` allowed).
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Deserializes a JSON body strictly: the whole body must be one JSON
/// object. It is parsed to a `Value` first (syntax errors, trailing
/// characters → 400 `malformed_json`; not an object → 400 `wrong_type`),
/// top-level `null`s are dropped, then it is read into `T`, so that type
/// errors name their field even for enums; those errors are classified by
/// `ApiError::from_json`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
            None,
        )
    })?;
    // Every request body is an object; serde would otherwise take an array
    // for a struct.
    let serde_json::Value::Object(mut fields) = value else {
        return Err(ApiError::bad_request(
            "wrong_type",
            "the body must be a JSON object",
            None,
        ));
    };
    // `null` counts as absent: drop top-level nulls so that fields with a
    // default (`fallback_when`, `default_locale`, `templates`) take it and
    // a required one answers 422 `required`. Nested values (the free-form
    // `data` and `settings`) are left as they are.
    fields.retain(|_, v| !v.is_null());
    let mut value = serde_json::Value::Object(fields);
    let mut err = match serde_path_to_error::deserialize(value.clone()) {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    let first = ApiError::from_json(&err);
    if first.code != "unknown_field" {
        return Err(first);
    }
    // serde stops at the first unknown field; take each out and read again
    // so that the answer names them all.
    let mut names = vec![first.field.clone().unwrap_or_default()];
    for _ in 0..32 {
        if !remove_unknown(&mut value, &err) {
            break;
        }
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(_) => break,
            Err(next) => {
                let e = ApiError::from_json(&next);
                if e.code != "unknown_field" {
                    break;
                }
                names.push(e.field.unwrap_or_default());
                err = next;
            }
        }
    }
    if names.len() == 1 {
        return Err(first);
    }
    Err(ApiError {
        message: format!("unknown fields: {}", names.join(", ")),
        ..first
    })
}

/// Removes the unknown key an error points at from `value`.
fn remove_unknown(
    value: &mut serde_json::Value,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> bool {
    use serde_path_to_error::Segment;
    let text = err.inner().to_string();
    let Some(name) = text
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    else {
        return false;
    };
    let segments: Vec<&Segment> = err.path().iter().collect();
    // The path may already end at the unknown key.
    let parents = match segments.last() {
        Some(Segment::Map { key }) if key == name => &segments[..segments.len() - 1],
        _ => &segments[..],
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Map { key }, serde_json::Value::Object(m)) => match m.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, serde_json::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        serde_json::Value::Object(m) => m.remove(name).is_some(),
        _ => false,
    }
}

/// A JSON request body: 415 unless `Content-Type: application/json`, 413
/// over the body limit, 400/422 by `parse_json`.
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

impl<T, S> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(ApiError::from_body_rejection)?;
        Ok(StrictJson(parse_json(&bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    #[test]
    fn every_unknown_field_is_named() {
        let e = parse_json::<crate::service::IntegrationInput>(
            br#"{"provider":"simulator","aa":1,"bb":2}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.field.as_deref(), Some("aa"));
        assert!(
            e.message.contains("aa") && e.message.contains("bb"),
            "{}",
            e.message
        );
        let e = parse_json::<herald_core::TypeConfig>(
            br#"{"audience":"client","channels":[{"channel":"email","scenario":"always","x":1,"y":2}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("channels[0].x"));
        assert!(e.message.contains("channels[0].y"), "{}", e.message);
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer hk_abc"));
        assert_eq!(bearer(&h), Some("hk_abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  hk_abc "));
        assert_eq!(bearer(&h), Some("hk_abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("hk_abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("application/json; charset=utf-8"));
        assert!(is_json_content_type("Application/JSON;charset=UTF-8"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/jsonx"));
        assert!(!is_json_content_type(""));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Name {
        name: String,
    }

    #[test]
    fn trailing_characters_are_malformed() {
        let e = parse_json::<Name>(br#"{"name":"a"} x"#).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        let e = parse_json::<Name>(br#"{"name":"a"}{"name":"b"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(parse_json::<Name>(b" {\"name\":\"a\"}\n ").is_ok());
    }

    #[test]
    fn bodies_must_be_objects() {
        for (body, code) in [
            (&b"[\"a\"]"[..], "wrong_type"),
            (b"\"a\"", "wrong_type"),
            (b" 5", "wrong_type"),
            (b"null", "wrong_type"),
            (b"", "malformed_json"),
            (b"  ", "malformed_json"),
            (b"[", "malformed_json"),
            (b"{", "malformed_json"),
        ] {
            let e = parse_json::<Name>(body).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_str()),
                (StatusCode::BAD_REQUEST, code),
                "{body:?}"
            );
        }
    }

    #[test]
    fn null_is_absent_for_options() {
        let t: crate::service::TriggerInput = parse_json(
            br#"{"type":"t","client":"c","staff":null,"data":null,"idempotency_key":null}"#,
        )
        .unwrap();
        assert_eq!(t.staff, None);
        assert_eq!(t.data, None);
        let c: herald_core::TypeConfig = parse_json(
            br#"{"audience":"client","channels":[],"fallback_when":null,"default_locale":null,"templates":null}"#,
        )
        .unwrap();
        assert_eq!(c.default_locale, "en");
        let e = parse_json::<Name>(br#"{"name":null}"#).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "required")
        );
        assert_eq!(e.field.as_deref(), Some("name"));
        // Nulls inside free-form data stay.
        let t: crate::service::TriggerInput =
            parse_json(br#"{"type":"t","data":{"note":null}}"#).unwrap();
        assert_eq!(t.data.unwrap().get("note"), Some(&serde_json::Value::Null));
    }
}
