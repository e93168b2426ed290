//! The `webhook` provider (placeholder until it is built).

use super::{settings_error, Client, Configure, Provider};
use herald_core::{Channel, FieldError};
use std::sync::Arc;

/// The `webhook` provider.
pub struct Webhook;

impl Provider for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn supports(&self, channel: Channel) -> bool {
        let _ = channel;
        false
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[]
    }

    fn configure(&self, _cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        Err(settings_error("provider", "not_built", "not built yet"))
    }
}
