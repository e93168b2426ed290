//! The one error shape every 4xx and 5xx answer has.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`unauthorized`, `required`,
    /// `wrong_type`, `scenario_not_allowed`, …).
    pub code: String,
    /// A sentence for the integrating engineer, naming the rule broken.
    pub message: String,
    /// The request field at fault as a JSON path (`channels[1].scenario`,
    /// `templates.email.en.subject`, `data.client_name`); `null` when the
    /// error is not about one field.
    #[schema(required)]
    pub field: Option<String>,
}
