//! Packed JSON for the documents every notification carries (plan,
//! rendered texts, verdicts): the same JSON value with the words Herald
//! itself writes (field names, enum names, a few whole reasons) replaced
//! by two-character tokens. Packing loses nothing: any string, including
//! one that starts with the token mark, reads back the same; documents
//! written before packing (plain JSON) still read.
//!
//! A packed document is `~` followed by the packed JSON. In it a string
//! `~c` is the word at code `c`, a string starting with `~~` is the
//! original string with one `~` removed, any other string is itself; the
//! same for object keys.

use crate::{Result, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The mark of a packed document and of a token.
const MARK: char = '~';

/// The token codes, one character each.
const CODES: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The words, by code. Stored documents refer to them by position:
/// append only, never reorder or remove.
const WORDS: [&str; 50] = [
    // Field names.
    "fallback_when",
    "channels",
    "channel",
    "scenario",
    "reach",
    "kind",
    "to",
    "routes",
    "name",
    "confirm",
    "window_s",
    "outcome",
    "reason",
    "subject",
    "title",
    "body",
    // Enum names.
    "none_delivered",
    "email",
    "sms",
    "admin_app",
    "aunio",
    "branded_app",
    "always",
    "fallback",
    "off",
    "addresses",
    "unreachable",
    "direct",
    "messenger",
    "whatsapp",
    "accepted",
    "receipt",
    "delivered",
    "failed",
    "pending",
    "skipped",
    "expired",
    "cancelled",
    "scheduled",
    "any_delivered",
    "all_failed",
    "viber",
    "telegram",
    // Whole reasons `decide` often writes.
    "delivered: delivery receipt",
    "delivered: accepted by the provider",
    "skipped: e-mail delivered before it",
    "skipped: SMS delivered before it",
    "waiting for a delivery receipt",
    "sending",
    "queued",
];

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {what}: {e}"))
}

fn pack_str(s: String) -> String {
    if let Some(i) = WORDS.iter().position(|w| *w == s) {
        let mut t = String::with_capacity(2);
        t.push(MARK);
        t.push(char::from(CODES[i]));
        t
    } else if s.starts_with(MARK) {
        format!("{MARK}{s}")
    } else {
        s
    }
}

fn unpack_str(s: String, what: &str) -> Result<String> {
    let Some(rest) = s.strip_prefix(MARK) else {
        return Ok(s);
    };
    if rest.starts_with(MARK) {
        return Ok(rest.to_string());
    }
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => CODES
            .iter()
            .position(|b| char::from(*b) == c)
            .and_then(|i| WORDS.get(i))
            .map(|w| w.to_string())
            .ok_or_else(|| corrupt(what, format!("unknown token {s:?}"))),
        _ => Err(corrupt(what, format!("bad token {s:?}"))),
    }
}

fn pack_value(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(pack_str(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(pack_value).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (pack_str(k), pack_value(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

fn unpack_value(v: Value, what: &str) -> Result<Value> {
    Ok(match v {
        Value::String(s) => Value::String(unpack_str(s, what)?),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| unpack_value(v, what))
                .collect::<Result<_>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::with_capacity(o.len());
            for (k, v) in o {
                m.insert(unpack_str(k, what)?, unpack_value(v, what)?);
            }
            Value::Object(m)
        }
        other => other,
    })
}

/// A value as a packed document.
pub(super) fn pack<T: Serialize + ?Sized>(v: &T, what: &str) -> Result<String> {
    let value = serde_json::to_value(v).map_err(|e| corrupt(what, e))?;
    Ok(format!("{MARK}{}", pack_value(value)))
}

/// A JSON text as a packed document.
pub(super) fn pack_text(json: &str, what: &str) -> Result<String> {
    let value: Value = serde_json::from_str(json).map_err(|e| corrupt(what, e))?;
    pack(&value, what)
}

/// A stored document, packed or plain JSON, as a value.
pub(super) fn unpack<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    match text.strip_prefix(MARK) {
        Some(packed) => {
            let value: Value = serde_json::from_str(packed).map_err(|e| corrupt(what, e))?;
            serde_json::from_value(unpack_value(value, what)?).map_err(|e| corrupt(what, e))
        }
        None => serde_json::from_str(text).map_err(|e| corrupt(what, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_cover_the_words() {
        assert!(WORDS.len() <= CODES.len());
        for (i, w) in WORDS.iter().enumerate() {
            assert!(!w.starts_with(MARK));
            assert_eq!(WORDS.iter().position(|x| x == w), Some(i), "{w} twice");
        }
    }

    #[test]
    fn packing_loses_nothing_and_is_shorter() {
        let doc = json!({
            "fallback_when": "none_delivered",
            "channels": [{"channel": "email", "to": ["~", "~x", "~~y", "email", "e"],
                          "~k": {"": "~0", "window_s": 300, "x": null, "b": true}}],
        });
        let packed = pack(&doc, "plan").unwrap();
        assert!(packed.len() < doc.to_string().len(), "{packed}");
        assert!(packed.contains("\"~0\":\"~G\""), "{packed}");
        let back: Value = unpack(&packed, "plan").unwrap();
        assert_eq!(back, doc);
        // Plain JSON (written before packing) reads as it is.
        let plain: Value = unpack(&doc.to_string(), "plan").unwrap();
        assert_eq!(plain, doc);
        let text = pack_text(&doc.to_string(), "plan").unwrap();
        assert_eq!(text, packed);
    }

    #[test]
    fn unknown_tokens_are_corrupt() {
        for bad in [
            r#"~["~!"]"#,
            r#"~["~zz"]"#,
            r#"~{"~":1}"#,
            "~[",
            "~[\"~_\"]",
        ] {
            assert!(unpack::<Value>(bad, "plan").is_err(), "{bad}");
        }
    }
}
