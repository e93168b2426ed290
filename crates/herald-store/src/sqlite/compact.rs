//! The compact row shapes of migration 0010 at the edge: an attempt's id
//! is its integer row number, shown to the rest of Herald as an opaque
//! string (zero-padded decimal, so that ids sort as text in the order they
//! were made, as uuid v7 ids did); a notification's texts are stored once,
//! and an attempt's text is its channel's.

use crate::{Result, StoreError};
use herald_core::Rendered;

/// Digits of a shown attempt id: string order is numeric order up to 10^12.
const WIDTH: usize = 12;

/// The attempt id shown for a row number.
pub(super) fn attempt_id(no: i64) -> String {
    format!("{no:0WIDTH$}")
}

/// The row number of a shown attempt id; `None` (matches no row) for a
/// string that is not one.
pub(super) fn attempt_no(id: &str) -> Option<i64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// An attempt's text: its channel's in the notification's `rendered`.
pub(super) fn text_of(rendered: &str, channel_idx: i64) -> Result<Rendered> {
    let texts: Vec<Option<Rendered>> = serde_json::from_str(rendered)
        .map_err(|e| StoreError::Corrupt(format!("column rendered: {e}")))?;
    usize::try_from(channel_idx)
        .ok()
        .and_then(|i| texts.into_iter().nth(i).flatten())
        .ok_or_else(|| StoreError::Corrupt(format!("no rendered text for channel {channel_idx}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_ids_round_trip_and_sort_as_numbers() {
        assert_eq!(attempt_id(7), "000000000007");
        assert_eq!(attempt_no(&attempt_id(7)), Some(7));
        assert_eq!(attempt_no(&attempt_id(123_456_789)), Some(123_456_789));
        assert!(attempt_id(9) < attempt_id(10));
        for bad in ["", "-1", "12a", "01a23738-b3b1-7719-ba68-2ff85633cc57", "+5"] {
            assert_eq!(attempt_no(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_attempt_text_is_its_channel_s() {
        let rendered = r#"[{"subject":"S","body":"mail"},null,{"body":"sms"}]"#;
        assert_eq!(text_of(rendered, 0).unwrap().subject.as_deref(), Some("S"));
        assert_eq!(text_of(rendered, 2).unwrap().body, "sms");
        assert!(text_of(rendered, 1).is_err());
        assert!(text_of(rendered, 3).is_err());
        assert!(text_of(rendered, -1).is_err());
    }
}
