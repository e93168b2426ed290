//! The documents a notification row carries, in the compact shapes of
//! migration 0010, encoded and decoded straight from their types (no
//! intermediate JSON value: a cascade step pays one small parse at most).
//!
//! - A plan is stored in two parts (`crate::reach`): its *shape*, stored
//!   once in `plans`, and its *reach*, on the notification.
//! - Rendered texts are positional: a text with only a body is its body
//!   string, any other `[subject, title, body]`; no text is `null`.
//! - A verdict is `[outcome, reason]`: the outcome its number in
//!   `OUTCOMES`, a reason Herald writes often its number in `REASONS`.
//!
//! Rows copied by the migration hold the plain JSON written before it
//! (whole plans with a NULL reach, texts and verdicts as objects): they
//! read back the same.

use crate::codec::{corrupt, encode};
use crate::{Result, StoreError};
use herald_core::{ChannelVerdict, Outcome, Rendered};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whole reasons `decide` often writes, stored as their number. Stored
/// documents refer to them by position: append only, never reorder.
const REASONS: [&str; 7] = [
    "delivered: delivery receipt",
    "delivered: accepted by the provider",
    "skipped: e-mail delivered before it",
    "skipped: SMS delivered before it",
    "waiting for a delivery receipt",
    "sending",
    "queued",
];

/// The outcomes by number. Append only, never reorder.
const OUTCOMES: [Outcome; 7] = [
    Outcome::Pending,
    Outcome::Delivered,
    Outcome::Failed,
    Outcome::Unreachable,
    Outcome::Skipped,
    Outcome::Expired,
    Outcome::Cancelled,
];

/// A text as stored (see the module doc).
struct TextRef<'a>(&'a Rendered);

impl Serialize for TextRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let r = self.0;
        if r.subject.is_none() && r.title.is_none() {
            return s.serialize_str(&r.body);
        }
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&r.subject)?;
        t.serialize_element(&r.title)?;
        t.serialize_element(&r.body)?;
        t.end()
    }
}

/// A stored text: a body, `[subject, title, body]`, or (written before
/// migration 0010) an object.
struct StoredText(Rendered);

impl<'de> Deserialize<'de> for StoredText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredText;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a body, [subject, title, body] or a text object")
            }

            fn visit_str<E: de::Error>(self, body: &str) -> std::result::Result<StoredText, E> {
                Ok(StoredText(Rendered {
                    subject: None,
                    title: None,
                    body: body.to_string(),
                }))
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<StoredText, A::Error> {
                let subject = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let title = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let body = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?;
                if a.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(StoredText(Rendered {
                    subject,
                    title,
                    body,
                }))
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                a: A,
            ) -> std::result::Result<StoredText, A::Error> {
                Rendered::deserialize(de::value::MapAccessDeserializer::new(a)).map(StoredText)
            }
        }
        d.deserialize_any(V)
    }
}

/// The `rendered` column of a notification's texts.
pub(super) fn rendered_doc(texts: &[Option<Rendered>]) -> Result<String> {
    let stored: Vec<Option<TextRef<'_>>> = texts.iter().map(|t| t.as_ref().map(TextRef)).collect();
    encode(&stored, "rendered")
}

/// A `rendered` column as the texts.
pub(super) fn rendered_from(doc: &str) -> Result<Vec<Option<Rendered>>> {
    let stored: Vec<Option<StoredText>> =
        serde_json::from_str(doc).map_err(|e| corrupt("rendered", e))?;
    Ok(stored.into_iter().map(|t| t.map(|t| t.0)).collect())
}

/// One channel's text from a `rendered` column (an attempt's content).
pub(super) fn text_from(doc: &str, channel_idx: i64) -> Result<Rendered> {
    usize::try_from(channel_idx)
        .ok()
        .and_then(|i| rendered_from(doc).ok()?.into_iter().nth(i).flatten())
        .ok_or_else(|| StoreError::Corrupt(format!("no rendered text for channel {channel_idx}")))
}

/// A verdict as stored (see the module doc).
struct VerdictRef<'a>(&'a ChannelVerdict);

impl Serialize for VerdictRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let v = self.0;
        let mut t = s.serialize_tuple(2)?;
        match OUTCOMES.iter().position(|o| *o == v.outcome) {
            Some(i) => t.serialize_element(&i)?,
            None => t.serialize_element(&v.outcome)?,
        }
        match REASONS.iter().position(|r| *r == v.reason) {
            Some(i) => t.serialize_element(&i)?,
            None => t.serialize_element(&v.reason)?,
        }
        t.end()
    }
}

/// A stored reason: its text or its number in `REASONS`.
struct StoredReason(String);

impl<'de> Deserialize<'de> for StoredReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StoredReason;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a reason or a reason's number")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<StoredReason, E> {
                Ok(StoredReason(s.to_string()))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<StoredReason, E> {
                usize::try_from(n)
                    .ok()
                    .and_then(|i| REASONS.get(i))
                    .map(|r| StoredReason(r.to_string()))
                    .ok_or_else(|| E::custom(format!("unknown reason number {n}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A stored outcome: its number in `OUTCOMES` or its name.
struct StoredOutcome(Outcome);

impl<'de> Deserialize<'de> for StoredOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StoredOutcome;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an outcome or an outcome's number")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<StoredOutcome, E> {
                Outcome::deserialize(de::value::StrDeserializer::<E>::new(s)).map(StoredOutcome)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<StoredOutcome, E> {
                usize::try_from(n)
                    .ok()
                    .and_then(|i| OUTCOMES.get(i))
                    .map(|o| StoredOutcome(*o))
                    .ok_or_else(|| E::custom(format!("unknown outcome number {n}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A stored verdict: `[outcome, reason]` or (before 0010) an object.
struct StoredVerdict(ChannelVerdict);

impl<'de> Deserialize<'de> for StoredVerdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredVerdict;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("[outcome, reason] or a verdict object")
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<StoredVerdict, A::Error> {
                let outcome: StoredOutcome = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let reason: StoredReason = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if a.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(StoredVerdict(ChannelVerdict {
                    outcome: outcome.0,
                    reason: reason.0,
                }))
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                a: A,
            ) -> std::result::Result<StoredVerdict, A::Error> {
                ChannelVerdict::deserialize(de::value::MapAccessDeserializer::new(a))
                    .map(StoredVerdict)
            }
        }
        d.deserialize_any(V)
    }
}

/// The `verdicts` column of a decision's verdicts.
pub(super) fn verdicts_doc(verdicts: &[ChannelVerdict]) -> Result<String> {
    let stored: Vec<VerdictRef<'_>> = verdicts.iter().map(VerdictRef).collect();
    encode(&stored, "verdicts")
}

/// A `verdicts` column as the verdicts.
pub(super) fn verdicts_from(doc: &str) -> Result<Vec<ChannelVerdict>> {
    let stored: Vec<StoredVerdict> =
        serde_json::from_str(doc).map_err(|e| corrupt("verdicts", e))?;
    Ok(stored.into_iter().map(|v| v.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_positional_and_old_objects_still_read() {
        let texts = vec![
            Some(Rendered {
                subject: Some("S".into()),
                title: None,
                body: "mail".into(),
            }),
            None,
            Some(Rendered {
                subject: None,
                title: None,
                body: "sms".into(),
            }),
            Some(Rendered {
                subject: None,
                title: Some("T".into()),
                body: String::new(),
            }),
        ];
        let doc = rendered_doc(&texts).unwrap();
        assert_eq!(doc, r#"[["S",null,"mail"],null,"sms",[null,"T",""]]"#);
        assert_eq!(rendered_from(&doc).unwrap(), texts);
        let old = serde_json::to_string(&texts).unwrap();
        assert_eq!(rendered_from(&old).unwrap(), texts);
        assert_eq!(text_from(&doc, 0).unwrap().subject.as_deref(), Some("S"));
        assert_eq!(text_from(&doc, 2).unwrap().body, "sms");
        for bad in [1, 4, -1] {
            assert!(text_from(&doc, bad).is_err(), "{bad}");
        }
        for bad in [r#"[["a","b"]]"#, r#"[["a",null,"b","c"]]"#, "[1]", "{"] {
            assert!(rendered_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts_are_short_and_old_objects_still_read() {
        let verdicts = vec![
            ChannelVerdict {
                outcome: Outcome::Failed,
                reason: "failed: rejected by the provider (x)".into(),
            },
            ChannelVerdict {
                outcome: Outcome::Delivered,
                reason: "delivered: delivery receipt".into(),
            },
        ];
        let doc = verdicts_doc(&verdicts).unwrap();
        assert_eq!(doc, r#"[[2,"failed: rejected by the provider (x)"],[1,0]]"#);
        // Outcomes by name read too.
        assert_eq!(
            verdicts_from(r#"[["failed","failed: rejected by the provider (x)"],["delivered",0]]"#)
                .unwrap(),
            verdicts
        );
        assert_eq!(verdicts_from(&doc).unwrap(), verdicts);
        let old = serde_json::to_string(&verdicts).unwrap();
        assert_eq!(verdicts_from(&old).unwrap(), verdicts);
        for bad in [
            r#"[["failed",99]]"#,
            r#"[[7,"x"]]"#,
            r#"[["nope","x"]]"#,
            r#"[["failed"]]"#,
            r#"[["failed","x",1]]"#,
        ] {
            assert!(verdicts_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons_and_outcomes_are_distinct() {
        for (i, o) in OUTCOMES.iter().enumerate() {
            assert_eq!(OUTCOMES.iter().position(|x| x == o), Some(i), "{o:?} twice");
        }
        for (i, r) in REASONS.iter().enumerate() {
            assert_eq!(REASONS.iter().position(|x| x == r), Some(i), "{r} twice");
        }
    }
}
