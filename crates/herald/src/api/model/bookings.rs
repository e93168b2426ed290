//! `/v1/bookings/{id}` and `/v1/tenant`: cancelling and moving a booking's
//! notifications, and the tenant's own settings (its time zone).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What `POST /v1/bookings/{id}/cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingCancelledView {
    /// Notifications cancelled now (they were scheduled or pending).
    pub cancelled: usize,
    /// Notifications of the booking that had already been sent.
    pub already_sent: usize,
}

/// The body of `PUT /v1/bookings/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingMove {
    /// The booking's new start (RFC 3339).
    pub starts_at: String,
}

/// What `PUT /v1/bookings/{id}` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingMoved {
    /// Notifications whose send time and default deadline were moved.
    pub rescheduled: usize,
}

/// The tenant as `GET /v1/tenant` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    /// The tenant's id.
    pub id: String,
    /// The business's name.
    pub name: String,
    /// Its time zone (IANA), for quiet hours of recipients without one.
    #[schema(required)]
    pub timezone: Option<String>,
}

/// The body of `PATCH /v1/tenant`: the fields given change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// An IANA time zone name (`Europe/Berlin`).
    #[serde(default)]
    pub timezone: Option<String>,
}
