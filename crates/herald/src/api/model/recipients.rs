//! `/v1/clients` and `/v1/staff`: a person as stored now.

use herald_core::{AppInstall, Channel, Recipient};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A client or staff member as stored now (a device token removed as
/// unregistered is gone from `apps`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecipientView {
    /// The person's id (the path's `{id}`).
    pub id: String,
    /// Display name.
    #[schema(required)]
    pub name: Option<String>,
    /// E-mail address.
    #[schema(required)]
    pub email: Option<String>,
    /// Phone in E.164.
    #[schema(required)]
    pub phone: Option<String>,
    /// Language tag such as `pt-BR`.
    #[schema(required)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[schema(required)]
    pub timezone: Option<String>,
    /// Channels the person opted out of.
    pub opt_out: Vec<Channel>,
    /// App installations, one per device.
    pub apps: Vec<AppInstall>,
}

impl RecipientView {
    /// The view of a stored person. `Recipient` is taken apart field by
    /// field so that a field added to it does not compile until it is
    /// shown here too.
    pub fn new(id: &str, r: &Recipient) -> Self {
        let Recipient {
            name,
            email,
            phone,
            locale,
            timezone,
            opt_out,
            apps,
        } = r.clone();
        RecipientView {
            id: id.to_string(),
            name,
            email,
            phone,
            locale,
            timezone,
            opt_out,
            apps,
        }
    }
}

/// One page of `GET /v1/clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientList {
    /// The clients of this page, by id.
    pub clients: Vec<RecipientView>,
    /// The `after=` of the next page, `null` on the last.
    #[schema(required)]
    pub next: Option<String>,
}

/// One page of `GET /v1/staff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaffList {
    /// The staff members of this page, by id.
    pub staff: Vec<RecipientView>,
    /// The `after=` of the next page, `null` on the last.
    #[schema(required)]
    pub next: Option<String>,
}
