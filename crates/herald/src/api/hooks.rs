//! `/v1/hooks/{hook id}`: providers' receipt callbacks. No API key: the
//! random hook id names the integration and the provider's own signature
//! authenticates the call (each provider's client checks it).

use super::error::ApiError;
use super::model::HookAck;
use super::openapi::{E400, E401, E404, E413};
use crate::providers::{HookError, HookRequest};
use crate::service::{App, HookFailure};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// `POST /v1/hooks/{hook id}`: a provider's receipt callback.
#[utoipa::path(
    post,
    path = "/v1/hooks/{hook_id}",
    operation_id = "receive_hook",
    tag = "hooks",
    params(("hook_id" = String, Path, description = "The integration's random hook id, from its `webhook_url`.")),
    request_body(content = String, content_type = "*/*", description = "The provider's own callback format (a form for Twilio, JSON for the others), signed the provider's way."),
    responses(
        (status = 200, description = "Taken (a receipt for an unknown message id is ignored; a repeat is recorded once).", body = HookAck),
        E400, E401, E404, E413,
    ),
)]
pub async fn receive(
    State(app): State<Arc<App>>,
    Path(hook_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    take(&app, hook_id, method, uri, headers, body).await
}

/// `GET /v1/hooks/{hook id}`: a provider's handshake (WhatsApp's
/// `hub.challenge`).
#[utoipa::path(
    get,
    path = "/v1/hooks/{hook_id}",
    operation_id = "hook_handshake",
    tag = "hooks",
    params(("hook_id" = String, Path, description = "The integration's random hook id, from its `webhook_url`.")),
    responses(
        (status = 200, description = "The provider's challenge text, answered back.", content_type = "text/plain", body = String),
        E400, E401, E404,
    ),
)]
pub async fn handshake(
    State(app): State<Arc<App>>,
    Path(hook_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    take(&app, hook_id, method, uri, headers, body).await
}

/// Either method: the provider's client verifies and reads the call.
async fn take(
    app: &App,
    hook_id: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if hook_id.is_empty() || hook_id.len() > 64 {
        return Err(ApiError::not_found("no webhook with that id"));
    }
    let query = uri.query().unwrap_or("").to_string();
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let req = HookRequest {
        method,
        url: format!(
            "{}{path_and_query}",
            app.env.public_url.trim_end_matches('/')
        ),
        query,
        headers,
        body,
        now: app.now(),
    };
    match app.take_hook(&hook_id, req).await {
        Ok(outcome) => Ok(match outcome.reply.body {
            Some(text) => (StatusCode::OK, text).into_response(),
            None => Json(HookAck {
                ok: true,
                receipts: outcome.reply.receipts.len(),
                recorded: outcome.recorded,
            })
            .into_response(),
        }),
        Err(HookFailure::UnknownHook) | Err(HookFailure::Provider(HookError::NotSupported)) => {
            Err(ApiError::not_found("no webhook with that id"))
        }
        Err(HookFailure::Provider(HookError::Unauthorized(why))) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!("the callback's signature does not verify: {why}"),
            None,
        )),
        Err(HookFailure::Provider(HookError::BadRequest(why))) => {
            Err(ApiError::bad_request("bad_callback", why, None))
        }
        Err(HookFailure::Service(e)) => Err(e.into()),
    }
}
