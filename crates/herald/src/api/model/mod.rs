//! The API's request and response types: what goes over the wire, and what
//! `GET /openapi.json` describes (their doc comments become the schema
//! descriptions). Handlers answer with these, the CLI reads them back.
//!
//! Request bodies that the core or the service parse themselves
//! (`TypeConfig`, `Recipient`, `TriggerInput`, `IntegrationInput`) keep
//! their own types and parsers, so their error answers stay as they are;
//! they derive their schemas where they are defined. A response type here
//! never denies unknown fields: API.md lets a response grow.
//!
//! An `Option` that is always written (`null` when unset) is marked
//! `#[schema(required)]`: it is there, maybe null; one left out when
//! unset has `skip_serializing_if` and is optional.
//!
//! Adding a field: add it to the struct here (and to its `From` in
//! `views.rs`); the document follows. Adding a route: see `api::routes`.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::RefOr;

pub mod bookings;
pub mod errors;
pub mod health;
pub mod integrations;
pub mod notifications;
pub mod recipients;
pub mod simulator;
pub mod tenants;
pub mod types;

pub use bookings::{BookingCancelledView, BookingMove, BookingMoved, TenantPatch, TenantView};
pub use errors::{ErrorBody, ErrorDetail};
pub use health::{Health, HealthStatus, HookAck};
pub use integrations::{
    ChainRouteView, IntegrationList, IntegrationView, TestResult, TestResultKind, TestSend,
};
pub use notifications::{
    AttemptStatusName, AttemptView, BookingView, ChannelView, NotificationList,
    NotificationSummaryView, NotificationView, PreviewChannelView, PreviewView, ReceiptStatus,
    ReceiptView, TriggerAccepted,
};
pub use recipients::{ClientList, RecipientView, StaffList};
pub use simulator::{Outbox, SimMessageView};
pub use tenants::{NewTenant, TenantCreated};
pub use types::{NotificationTypeList, NotificationTypeView};

/// A time as the API writes it: RFC 3339 UTC with milliseconds
/// (`2026-11-25T10:00:00.123Z`); `null` for a time not set (or out of
/// range).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub Option<String>);

impl Timestamp {
    /// The time's text, if set.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "RFC 3339 UTC with milliseconds (`2026-11-25T10:00:00.123Z`); `null` when not set.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}
