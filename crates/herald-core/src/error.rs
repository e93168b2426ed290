//! The one error the core reports: a rule broken by a named field.

use std::fmt;

/// A rule broken by a field of a request, reported as a 422 by the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// The JSON path of the field, e.g. `channels[1].scenario`.
    pub field: String,
    /// A stable machine-readable code, e.g. `scenario_not_allowed`.
    pub code: &'static str,
    /// A sentence that names the rule.
    pub message: String,
}

impl FieldError {
    /// Builds an error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
