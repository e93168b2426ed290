//! `/v1/integrations`: one provider per channel. Secrets never leave in a
//! response; settings are shown redacted by the provider.

use super::error::ApiError;
use super::extract::{PathChannel, StrictJson, TenantAuth};
use super::views;
use crate::service::{App, IntegrationInput};
use axum::extract::State;
use axum::Json;
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
    let stored = app.put_integration(&tenant, channel, input).await?;
    Ok(Json(views::integration(&app.redacted(stored))))
}

/// `GET /v1/integrations/{channel}`: 404 when the channel has none yet.
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathChannel(channel): PathChannel,
) -> Result<Json<Value>, ApiError> {
    let stored = app
        .store
        .get_integration(&tenant.id, channel)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no integration for the {channel} channel")))?;
    Ok(Json(views::integration(&app.redacted(stored))))
}

/// `GET /v1/integrations`: `{"integrations": [...]}` in channel order.
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<Value>, ApiError> {
    let all: Vec<Value> = app
        .store
        .list_integrations(&tenant.id)
        .await?
        .into_iter()
        .map(|i| views::integration(&app.redacted(i)))
        .collect();
    Ok(Json(json!({ "integrations": all })))
}
