//! The `smtp` provider (placeholder until it is built).

use super::{settings_error, Client, Configure, Provider};
use herald_core::{Channel, FieldError};
use std::sync::Arc;

/// The `smtp` provider.
pub struct Smtp;

impl Provider for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
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
