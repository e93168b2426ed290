//! `/v1/integrations` and `/v1/operator/integrations`: one provider per
//! channel, shown with its secrets redacted.

use super::Timestamp;
use herald_core::{Channel, Confirm};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An integration as a GET shows it. Secret settings read `"set"` or
/// `"not set"`, never their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationView {
    /// The channel it serves.
    pub channel: Channel,
    /// The provider (`simulator`, `smtp`, `fcm`, `apns`, `twilio`, `smpp`,
    /// `whatsapp`, `webhook`), or `chain` for one provider per route.
    pub provider: String,
    /// The provider's settings, secrets redacted (empty for a chain: see
    /// `routes`).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// What counts as delivered.
    pub confirm: Confirm,
    /// The confirmation window in seconds.
    pub window_s: u32,
    /// At most this many sends a second, if limited.
    #[schema(required)]
    pub max_per_second: Option<f64>,
    /// What one SMS segment costs through it, if set.
    #[schema(required)]
    pub price_per_segment: Option<f64>,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// A chain's routes in the order tried (chains only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<ChainRouteView>>,
    /// Where the provider sends its receipts (providers that call back
    /// only): paste it into the provider's dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// `true` when this is the operator's integration, used because the
    /// tenant has none of its own for the channel.
    pub inherited: bool,
}

/// One route of a chain of providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChainRouteView {
    /// The route (`whatsapp`, `sms`).
    pub route: String,
    /// The provider serving it.
    pub provider: String,
    /// Its settings, secrets redacted.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// What counts as delivered on this route.
    pub confirm: Confirm,
    /// This route's window in seconds.
    pub window_s: u32,
    /// Where this route's provider sends its receipts, if it calls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// `{"integrations": [...]}` in channel order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationList {
    /// The integrations (a tenant's list includes the inherited ones).
    pub integrations: Vec<IntegrationView>,
}

/// The body of `POST /v1/integrations/{channel}/test`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// An address, phone number or device token.
    pub to: String,
}

/// How the provider classified a test send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestResultKind {
    /// Accepted for delivery.
    Accepted,
    /// Try again later (a timeout, a 5xx, throttling).
    Transient,
    /// Refused for good.
    Permanent,
    /// The address or device token is dead.
    RecipientInvalid,
}

/// What a test send answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestResult {
    /// The provider's answer, classified.
    pub result: TestResultKind,
    /// What the provider said when it did not accept.
    #[schema(required)]
    pub error: Option<String>,
    /// The provider's message id when it accepted and gave one.
    #[schema(required)]
    pub message_id: Option<String>,
}

impl From<&crate::providers::SendReply> for TestResult {
    fn from(r: &crate::providers::SendReply) -> Self {
        use crate::providers::SendReply as R;
        let (result, error, message_id) = match r {
            R::Accepted { message_id } => (TestResultKind::Accepted, None, message_id.clone()),
            // Throttling is transient to the API's reader too.
            R::Transient { error, .. } | R::Throttled { error, .. } => {
                (TestResultKind::Transient, Some(error.clone()), None)
            }
            R::Permanent { error } => (TestResultKind::Permanent, Some(error.clone()), None),
            R::RecipientInvalid { error } => {
                (TestResultKind::RecipientInvalid, Some(error.clone()), None)
            }
        };
        TestResult {
            result,
            error,
            message_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::SendReply;

    /// Throttling reads as transient to the API's reader; a refusal carries
    /// the provider's words and no message id.
    #[test]
    fn test_result_classifies_every_answer() {
        let cases = [
            (
                SendReply::Accepted {
                    message_id: Some("m1".into()),
                },
                TestResultKind::Accepted,
                None,
                Some("m1"),
            ),
            (
                SendReply::Throttled {
                    error: "429".into(),
                    retry_after_ms: Some(5),
                },
                TestResultKind::Transient,
                Some("429"),
                None,
            ),
            (
                SendReply::Permanent { error: "no".into() },
                TestResultKind::Permanent,
                Some("no"),
                None,
            ),
            (
                SendReply::RecipientInvalid {
                    error: "dead".into(),
                },
                TestResultKind::RecipientInvalid,
                Some("dead"),
                None,
            ),
        ];
        for (reply, kind, error, id) in cases {
            let t = TestResult::from(&reply);
            assert_eq!(t.result, kind, "{reply:?}");
            assert_eq!(t.error.as_deref(), error, "{reply:?}");
            assert_eq!(t.message_id.as_deref(), id, "{reply:?}");
        }
    }
}
