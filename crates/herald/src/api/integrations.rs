//! `/v1/integrations` (a tenant's) and `/v1/operator/integrations` (the
//! platform's, inherited by tenants without their own): one provider per
//! channel. Secrets never leave in a response (`App::integration_view`).

use super::error::ApiError;
use super::extract::{Admin, PathChannel, StrictJson, TenantAuth};
use crate::service::{App, IntegrationInput};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use herald_store::Owner;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// `PUT /v1/integrations/{channel}`: creates or replaces the channel's
/// integration and returns it redacted.
pub async fn put(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
    StrictJson(input): StrictJson<IntegrationInput>,
) -> Result<Json<Value>, ApiError> {
    let stored = app
        .put_integration(Owner::Tenant(&tenant.id), channel, input)
        .await?;
    Ok(Json(app.integration_view(&stored)))
}

/// `GET /v1/integrations/{channel}`: the tenant's own, else the operator's
/// (`"inherited": true`); 404 when there is neither.
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
) -> Result<Json<Value>, ApiError> {
    let all = app.integrations(&tenant.id).await?;
    let i = all
        .get(&channel)
        .ok_or_else(|| ApiError::not_found(format!("no integration for the {channel} channel")))?;
    Ok(Json(app.integration_view(i)))
}

/// `GET /v1/integrations`: `{"integrations": [...]}` in channel order, the
/// inherited ones included.
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<Value>, ApiError> {
    let all = app.integrations(&tenant.id).await?;
    let shown: Vec<Value> = all.values().map(|i| app.integration_view(i)).collect();
    Ok(Json(json!({ "integrations": shown })))
}

/// `DELETE /v1/integrations/{channel}`: removes the tenant's own (the
/// operator's, if any, applies again); 204.
pub async fn delete(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
) -> Result<StatusCode, ApiError> {
    app.delete_integration(Owner::Tenant(&tenant.id), channel)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a test send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// An address, phone number or device token.
    pub to: String,
}

/// `POST /v1/integrations/{channel}/test`: one test message now, and how
/// the provider answered.
pub async fn test(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
    StrictJson(body): StrictJson<TestSend>,
) -> Result<Json<Value>, ApiError> {
    let reply = app.test_integration(&tenant.id, channel, &body.to).await?;
    Ok(Json(reply.test_view()))
}

/// `PUT /v1/operator/integrations/{channel}` (admin token).
pub async fn put_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
    StrictJson(input): StrictJson<IntegrationInput>,
) -> Result<Json<Value>, ApiError> {
    let stored = app.put_integration(Owner::Operator, channel, input).await?;
    Ok(Json(app.integration_view(&stored)))
}

/// `GET /v1/operator/integrations/{channel}` (admin token).
pub async fn get_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
) -> Result<Json<Value>, ApiError> {
    let i = app
        .store
        .get_integration(Owner::Operator, channel)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no operator integration for the {channel} channel"))
        })?;
    Ok(Json(app.integration_view(&i)))
}

/// `GET /v1/operator/integrations` (admin token).
pub async fn list_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let all = app.store.list_integrations(Owner::Operator).await?;
    let shown: Vec<Value> = all.iter().map(|i| app.integration_view(i)).collect();
    Ok(Json(json!({ "integrations": shown })))
}

/// `DELETE /v1/operator/integrations/{channel}` (admin token); 204.
pub async fn delete_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
) -> Result<StatusCode, ApiError> {
    app.delete_integration(Owner::Operator, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}
