//! What an answer writes into its attempt's row, the same on every
//! backend: an outcome as the row's columns.

use crate::SendOutcome;
use herald_core::Millis;

/// The columns of an answer: status, provider message id, error,
/// unreachable, next try, cost.
pub(crate) type AnswerCols<'a> = (
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    bool,
    Option<Millis>,
    Option<i64>,
);

/// What an outcome writes into its attempt's row.
pub(crate) fn answer_cols(outcome: &SendOutcome) -> AnswerCols<'_> {
    match outcome {
        SendOutcome::Accepted {
            provider_message_id,
            cost_micros,
        } => (
            "accepted",
            provider_message_id.as_deref(),
            None,
            false,
            None,
            *cost_micros,
        ),
        SendOutcome::Refused { error, unreachable } => {
            ("refused", None, Some(error), *unreachable, None, None)
        }
        SendOutcome::Retry { error, next_try_at } => {
            ("queued", None, Some(error), false, Some(*next_try_at), None)
        }
        SendOutcome::GaveUp { error } => ("gave_up", None, Some(error), false, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::answer_cols;
    use crate::SendOutcome;

    #[test]
    fn each_outcome_writes_its_own_columns() {
        let accepted = SendOutcome::Accepted {
            provider_message_id: Some("SM1".into()),
            cost_micros: Some(7_900),
        };
        assert_eq!(
            answer_cols(&accepted),
            ("accepted", Some("SM1"), None, false, None, Some(7_900))
        );
        let refused = SendOutcome::Refused {
            error: "no such mailbox".into(),
            unreachable: true,
        };
        assert_eq!(
            answer_cols(&refused),
            ("refused", None, Some("no such mailbox"), true, None, None)
        );
        // A retry goes back to the queue with its next try and its error.
        let retry = SendOutcome::Retry {
            error: "429".into(),
            next_try_at: 5_000,
        };
        assert_eq!(
            answer_cols(&retry),
            ("queued", None, Some("429"), false, Some(5_000), None)
        );
        let gave_up = SendOutcome::GaveUp {
            error: "timeout".into(),
        };
        assert_eq!(
            answer_cols(&gave_up),
            ("gave_up", None, Some("timeout"), false, None, None)
        );
    }
}
