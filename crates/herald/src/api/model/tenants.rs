//! `POST /v1/tenants`.

use super::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /v1/tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// The business's name (`Salon One`).
    pub name: String,
}

/// A new tenant and its API key. The key is shown only in this answer:
/// Herald keeps its hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantCreated {
    /// The tenant's id.
    pub id: String,
    /// The business's name.
    pub name: String,
    /// The tenant's API key, for `Authorization: Bearer <api_key>`.
    pub api_key: String,
    /// When it was created.
    pub created_at: Timestamp,
}
