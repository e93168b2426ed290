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

#[cfg(test)]
mod tests {
    use super::*;

    /// The view is the stored person plus `id`, written exactly as the
    /// person writes itself.
    #[test]
    fn the_view_writes_the_person_as_the_person_does() {
        let r: Recipient = serde_json::from_value(serde_json::json!({
            "name": "Ana", "phone": "+15550001111", "opt_out": ["email"],
            "apps": [{"app": "aunio", "token": "t1", "platform": "android"},
                     {"app": "branded_app", "token": "t2"}]
        }))
        .unwrap();
        let mut shown = serde_json::to_value(RecipientView::new("c1", &r)).unwrap();
        assert_eq!(
            shown.as_object_mut().unwrap().remove("id"),
            Some("c1".into())
        );
        assert_eq!(shown, serde_json::to_value(&r).unwrap());
    }
}
