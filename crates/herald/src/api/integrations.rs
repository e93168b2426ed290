//! `/v1/integrations` (a tenant's) and `/v1/operator/integrations` (the
//! platform's, inherited by tenants without their own): one provider per
//! channel. Secrets never leave in a response (`App::integration_model`).

use super::error::ApiError;
use super::extract::{Admin, PathChannel, StrictJson, TenantAuth};
use super::model::{IntegrationList, IntegrationView, TestResult, TestSend};
use super::openapi::{E400, E401, E403, E404, E413, E415, E422, E503};
use crate::service::{App, IntegrationInput};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use herald_store::Owner;
use std::sync::Arc;

/// `PUT /v1/integrations/{channel}`: creates or replaces the channel's
/// integration and returns it redacted.
#[utoipa::path(
    put,
    path = "/v1/integrations/{channel}",
    operation_id = "put_integration",
    tag = "integrations",
    security(("tenant_key" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel the integration serves.")),
    request_body = IntegrationInput,
    responses(
        (status = 200, description = "The integration as stored, secrets redacted.", body = IntegrationView),
        E400, E401, E404, E413, E415, E422, E503,
    ),
)]
pub async fn put(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
    StrictJson(input): StrictJson<IntegrationInput>,
) -> Result<Json<IntegrationView>, ApiError> {
    let stored = app
        .put_integration(Owner::Tenant(&tenant.id), channel, input)
        .await?;
    Ok(Json(app.integration_model(&stored)))
}

/// `GET /v1/integrations/{channel}`: the tenant's own, else the operator's
/// (`"inherited": true`); 404 when there is neither.
#[utoipa::path(
    get,
    path = "/v1/integrations/{channel}",
    operation_id = "get_integration",
    tag = "integrations",
    security(("tenant_key" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    responses(
        (status = 200, description = "The tenant's integration, else the operator's (`inherited`).", body = IntegrationView),
        E400, E401, E404,
    ),
)]
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
) -> Result<Json<IntegrationView>, ApiError> {
    let all = app.integrations(&tenant.id).await?;
    let i = all
        .get(&channel)
        .ok_or_else(|| ApiError::not_found(format!("no integration for the {channel} channel")))?;
    Ok(Json(app.integration_model(i)))
}

/// `GET /v1/integrations`: `{"integrations": [...]}` in channel order, the
/// inherited ones included.
#[utoipa::path(
    get,
    path = "/v1/integrations",
    operation_id = "list_integrations",
    tag = "integrations",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Every channel's integration, the inherited ones included.", body = IntegrationList),
        E401,
    ),
)]
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<IntegrationList>, ApiError> {
    let all = app.integrations(&tenant.id).await?;
    let integrations = all.values().map(|i| app.integration_model(i)).collect();
    Ok(Json(IntegrationList { integrations }))
}

/// `DELETE /v1/integrations/{channel}`: removes the tenant's own (the
/// operator's, if any, applies again); 204.
#[utoipa::path(
    delete,
    path = "/v1/integrations/{channel}",
    operation_id = "delete_integration",
    tag = "integrations",
    security(("tenant_key" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    responses(
        (status = 204, description = "Removed; a pending notification's channel through it ends `failed`, \"integration removed\". People's addresses and tokens stay."),
        E400, E401, E404, E503,
    ),
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
) -> Result<StatusCode, ApiError> {
    app.delete_integration(Owner::Tenant(&tenant.id), channel)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/integrations/{channel}/test`: one test message now, and how
/// the provider answered.
#[utoipa::path(
    post,
    path = "/v1/integrations/{channel}/test",
    operation_id = "test_integration",
    tag = "integrations",
    security(("tenant_key" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    request_body = TestSend,
    responses(
        (status = 200, description = "How the provider answered one test message sent now.", body = TestResult),
        E400, E401, E404, E413, E415, E422,
    ),
)]
pub async fn test(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
    StrictJson(body): StrictJson<TestSend>,
) -> Result<Json<TestResult>, ApiError> {
    let reply = app.test_integration(&tenant.id, channel, &body.to).await?;
    Ok(Json(TestResult::from(&reply)))
}

/// `PUT /v1/operator/integrations/{channel}` (admin token).
#[utoipa::path(
    put,
    path = "/v1/operator/integrations/{channel}",
    operation_id = "put_operator_integration",
    tag = "operator",
    security(("admin_token" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    request_body = IntegrationInput,
    responses(
        (status = 200, description = "The operator's integration as stored, secrets redacted.", body = IntegrationView),
        E400, E401, E403, E404, E413, E415, E422, E503,
    ),
)]
pub async fn put_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
    StrictJson(input): StrictJson<IntegrationInput>,
) -> Result<Json<IntegrationView>, ApiError> {
    let stored = app.put_integration(Owner::Operator, channel, input).await?;
    Ok(Json(app.integration_model(&stored)))
}

/// `GET /v1/operator/integrations/{channel}` (admin token).
#[utoipa::path(
    get,
    path = "/v1/operator/integrations/{channel}",
    operation_id = "get_operator_integration",
    tag = "operator",
    security(("admin_token" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    responses(
        (status = 200, description = "The operator's integration, secrets redacted.", body = IntegrationView),
        E400, E401, E403, E404,
    ),
)]
pub async fn get_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
) -> Result<Json<IntegrationView>, ApiError> {
    let i = app
        .store
        .get_integration(Owner::Operator, channel)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no operator integration for the {channel} channel"))
        })?;
    Ok(Json(app.integration_model(&i)))
}

/// `GET /v1/operator/integrations` (admin token).
#[utoipa::path(
    get,
    path = "/v1/operator/integrations",
    operation_id = "list_operator_integrations",
    tag = "operator",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The operator's integrations.", body = IntegrationList),
        E401, E403,
    ),
)]
pub async fn list_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
) -> Result<Json<IntegrationList>, ApiError> {
    let all = app.store.list_integrations(Owner::Operator).await?;
    let integrations = all.iter().map(|i| app.integration_model(i)).collect();
    Ok(Json(IntegrationList { integrations }))
}

/// `DELETE /v1/operator/integrations/{channel}` (admin token); 204.
#[utoipa::path(
    delete,
    path = "/v1/operator/integrations/{channel}",
    operation_id = "delete_operator_integration",
    tag = "operator",
    security(("admin_token" = [])),
    params(("channel" = herald_core::Channel, Path, description = "The channel.")),
    responses(
        (status = 204, description = "Removed; tenants without their own integration for the channel have none now."),
        E400, E401, E403, E404, E503,
    ),
)]
pub async fn delete_operator(
    State(app): State<Arc<App>>,
    _admin: Admin,
    PathChannel(channel): PathChannel,
) -> Result<StatusCode, ApiError> {
    app.delete_integration(Owner::Operator, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}
