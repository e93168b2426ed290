//! `/v1/clients` and `/v1/staff`: the people notifications go to, one by
//! one and listed with search and paging.

use super::error::ApiError;
use super::extract::{PathId, QueryParams, StrictJson, TenantAuth};
use super::model::{ClientList, RecipientView, StaffList};
use super::openapi::{E400, E401, E404, E413, E415, E422, E503};
use super::{query, views};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use herald_core::{Audience, Recipient};
use std::sync::Arc;

/// Validates and stores a recipient; returns `{"id", ...fields}`.
async fn put(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
    r: Recipient,
) -> Result<Json<RecipientView>, ApiError> {
    let stored = app.put_recipient(tenant, kind, id, r).await?;
    Ok(Json(views::recipient(id, &stored)))
}

/// The recipient as stored now (a token removed as unregistered is gone).
async fn get(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
) -> Result<Json<RecipientView>, ApiError> {
    let stored = app
        .store
        .get_recipient(&tenant.id, kind, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {id:?} not found", kind.as_str())))?;
    Ok(Json(views::recipient(id, &stored)))
}

/// `PUT /v1/clients/{id}`.
#[utoipa::path(
    put,
    path = "/v1/clients/{id}",
    operation_id = "put_client",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The client's id (up to 255 characters).")),
    request_body(content = Recipient, description = "Every field may be absent; `email` an address, `phone` E.164, `locale` a language tag, `timezone` an IANA name, apps of `aunio` or `branded_app`."),
    responses(
        (status = 200, description = "The client as stored.", body = RecipientView),
        E400, E401, E413, E415, E422, E503,
    ),
)]
pub async fn put_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
    StrictJson(r): StrictJson<Recipient>,
) -> Result<Json<RecipientView>, ApiError> {
    put(&app, &tenant, Audience::Client, &id, r).await
}

/// `GET /v1/clients/{id}`.
#[utoipa::path(
    get,
    path = "/v1/clients/{id}",
    operation_id = "get_client",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The client's id.")),
    responses(
        (status = 200, description = "The client as stored now.", body = RecipientView),
        E400, E401, E404,
    ),
)]
pub async fn get_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<RecipientView>, ApiError> {
    get(&app, &tenant, Audience::Client, &id).await
}

/// `PUT /v1/staff/{id}`.
#[utoipa::path(
    put,
    path = "/v1/staff/{id}",
    operation_id = "put_staff",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The staff member's id (up to 255 characters).")),
    request_body(content = Recipient, description = "As for a client, with apps of `admin_app`."),
    responses(
        (status = 200, description = "The staff member as stored.", body = RecipientView),
        E400, E401, E413, E415, E422, E503,
    ),
)]
pub async fn put_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
    StrictJson(r): StrictJson<Recipient>,
) -> Result<Json<RecipientView>, ApiError> {
    put(&app, &tenant, Audience::Staff, &id, r).await
}

/// `GET /v1/staff/{id}`.
#[utoipa::path(
    get,
    path = "/v1/staff/{id}",
    operation_id = "get_staff",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The staff member's id.")),
    responses(
        (status = 200, description = "The staff member as stored now.", body = RecipientView),
        E400, E401, E404,
    ),
)]
pub async fn get_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<RecipientView>, ApiError> {
    get(&app, &tenant, Audience::Staff, &id).await
}

/// Removes a recipient: 204, or 404 when there is none.
async fn delete(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
) -> Result<StatusCode, ApiError> {
    app.delete_recipient(tenant, kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/clients/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/clients/{id}",
    operation_id = "delete_client",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The client's id.")),
    responses(
        (status = 204, description = "Removed; what was already sent stays in the log."),
        E400, E401, E404, E503,
    ),
)]
pub async fn delete_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    delete(&app, &tenant, Audience::Client, &id).await
}

/// `DELETE /v1/staff/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/staff/{id}",
    operation_id = "delete_staff",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The staff member's id.")),
    responses(
        (status = 204, description = "Removed; what was already sent stays in the log."),
        E400, E401, E404, E503,
    ),
)]
pub async fn delete_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    delete(&app, &tenant, Audience::Staff, &id).await
}

/// `GET /v1/clients?q=&limit=&after=`.
#[utoipa::path(
    get,
    path = "/v1/clients",
    operation_id = "list_clients",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(
        ("q" = Option<String>, Query, description = "Matches id, name, e-mail or phone."),
        ("limit" = Option<u32>, Query, description = "At most this many.", minimum = 1, maximum = 1000),
        ("after" = Option<String>, Query, description = "The `next` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page of clients.", body = ClientList),
        E400, E401, E422,
    ),
)]
pub async fn list_clients(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<ClientList>, ApiError> {
    let q = query::recipient_query(&params)?;
    let (page, next) = app.list_recipients(&tenant, Audience::Client, &q).await?;
    let clients = page.iter().map(|(id, r)| views::recipient(id, r)).collect();
    Ok(Json(ClientList { clients, next }))
}

/// `GET /v1/staff?q=&limit=&after=`.
#[utoipa::path(
    get,
    path = "/v1/staff",
    operation_id = "list_staff",
    tag = "recipients",
    security(("tenant_key" = [])),
    params(
        ("q" = Option<String>, Query, description = "Matches id, name, e-mail or phone."),
        ("limit" = Option<u32>, Query, description = "At most this many.", minimum = 1, maximum = 1000),
        ("after" = Option<String>, Query, description = "The `next` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page of staff.", body = StaffList),
        E400, E401, E422,
    ),
)]
pub async fn list_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<StaffList>, ApiError> {
    let q = query::recipient_query(&params)?;
    let (page, next) = app.list_recipients(&tenant, Audience::Staff, &q).await?;
    let staff = page.iter().map(|(id, r)| views::recipient(id, r)).collect();
    Ok(Json(StaffList { staff, next }))
}
