//! `deliver_sm` delivery receipts: the TLVs `receipted_message_id` and
//! `message_state` when the SMSC sends them (SMPP 3.4 §5.3.2.12, §5.3.2.35),
//! else the text form of SMPP 3.4 Appendix B
//! (`id:XXX sub:001 dlvrd:001 submit date:… done date:… stat:DELIVRD err:000 text:…`).

use crate::providers::HookReceipt;

/// A receipt from its parts; `None` when it is not a final state.
pub fn from_parts(tlv_id: Option<&str>, tlv_state: Option<u8>, text: &[u8]) -> Option<HookReceipt> {
    let text = String::from_utf8_lossy(text);
    let fields = text_fields(&text);
    let id = tlv_id.map(str::to_string).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| *k == "id")
            .map(|(_, v)| v.to_string())
    })?;
    if id.is_empty() {
        return None;
    }
    let err = fields
        .iter()
        .find(|(k, _)| *k == "err")
        .map(|(_, v)| v.to_string());
    let stat = match tlv_state {
        Some(2) => "DELIVRD".to_string(),
        Some(3) => "EXPIRED".to_string(),
        Some(5) => "UNDELIV".to_string(),
        Some(8) => "REJECTD".to_string(),
        Some(4) => "DELETED".to_string(),
        Some(_) => return None,
        None => fields
            .iter()
            .find(|(k, _)| *k == "stat")
            .map(|(_, v)| v.to_ascii_uppercase())?,
    };
    let delivered = match stat.as_str() {
        "DELIVRD" | "DELIVERED" => true,
        "UNDELIV" | "UNDELIVERABLE" | "EXPIRED" | "REJECTD" | "REJECTED" | "DELETED" => false,
        _ => return None,
    };
    let error = (!delivered).then(|| match err.as_deref() {
        Some(e) if !e.is_empty() => format!("SMSC receipt {stat} (err:{e})"),
        _ => format!("SMSC receipt {stat}"),
    });
    Some(HookReceipt {
        message_id: id,
        delivered,
        error,
    })
}

/// The `key:value` fields of a text receipt, up to `text:`.
fn text_fields(text: &str) -> Vec<(&str, &str)> {
    let body = match text.to_ascii_lowercase().find(" text:") {
        Some(i) => &text[..i],
        None => text,
    };
    // "submit date" and "done date" have a space inside the key.
    let mut out = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let Some(colon) = rest.find(':') else { break };
        let key = rest[..colon].trim();
        let after = &rest[colon + 1..];
        let end = after.find(' ').unwrap_or(after.len());
        out.push((key, after[..end].trim()));
        rest = after[end..].trim_start();
        // Keys are lower-case words; normalise "Submit date".
    }
    out.into_iter()
        .map(|(k, v)| (k.rsplit(' ').next().unwrap_or(k), v))
        .map(|(k, v)| {
            (
                if k.eq_ignore_ascii_case("id") {
                    "id"
                } else if k.eq_ignore_ascii_case("stat") {
                    "stat"
                } else if k.eq_ignore_ascii_case("err") {
                    "err"
                } else {
                    k
                },
                v,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_form() {
        let r = from_parts(
            None,
            None,
            b"id:abc123 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:Hello",
        )
        .unwrap();
        assert_eq!(r.message_id, "abc123");
        assert!(r.delivered);
        let r = from_parts(
            None,
            None,
            b"id:9 sub:001 dlvrd:000 stat:UNDELIV err:001 text:x",
        )
        .unwrap();
        assert!(!r.delivered);
        assert_eq!(r.error.as_deref(), Some("SMSC receipt UNDELIV (err:001)"));
        assert!(from_parts(None, None, b"id:9 stat:ENROUTE").is_none());
        assert!(from_parts(None, None, b"hello there").is_none());
    }

    #[test]
    fn the_tlvs_win() {
        let r = from_parts(Some("X1"), Some(2), b"id:other stat:UNDELIV").unwrap();
        assert_eq!(r.message_id, "X1");
        assert!(r.delivered);
        let r = from_parts(Some("X1"), Some(8), b"").unwrap();
        assert!(!r.delivered);
    }
}
