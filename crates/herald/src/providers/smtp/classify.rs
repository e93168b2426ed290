//! What the server answered, in the few kinds the cascade knows (API.md:
//! 4xx transient; 5xx permanent; 550/551/553 to RCPT recipient invalid).
//! Reply codes follow RFC 5321 §4.2 and enhanced status codes RFC 3463 §3
//! (`5.1.1`: bad destination mailbox).

use super::super::SendReply;
use super::session::{Failure, Stage};
use std::error::Error as _;

/// Classifies a failed send. `server` (`host:port`) starts every message so
/// that a support agent sees who said it.
pub fn classify(failure: &Failure, server: &str) -> SendReply {
    let (stage, err) = match failure {
        Failure::NotOffered(extension) => {
            // Decided from what the server offers: asking again gets the same.
            return SendReply::Permanent {
                error: format!("{server} does not offer {extension}, which this send needs"),
            };
        }
        Failure::Smtp { stage, error } => (*stage, error),
    };
    if let Some(code) = err.status() {
        // The server's own text, without lettre's "permanent error (550)".
        let text = err.source().map(|s| s.to_string()).unwrap_or_default();
        return from_reply(stage, u16::from(code), &text, server);
    }
    if err.is_client() {
        // Decided on our side (no AUTH mechanism in common with the server).
        return SendReply::Permanent {
            error: format!("{server}: {err}"),
        };
    }
    // The connection, the TLS handshake (an untrusted certificate too) or
    // the stream failed, or the reply could not be read: an outage for all
    // we know.
    let what = if err.is_timeout() { "timed out: " } else { "" };
    SendReply::Transient {
        error: format!("{server}: {what}{err}"),
        retry_after_ms: None,
    }
}

/// Classifies a negative reply to a step by its code and text.
pub fn from_reply(stage: Stage, code: u16, text: &str, server: &str) -> SendReply {
    let error = format!("{server} answered {code} {text}")
        .trim_end()
        .to_string();
    match code {
        400..=499 => SendReply::Transient {
            error,
            retry_after_ms: None,
        },
        550 | 551 | 553 if stage == Stage::Rcpt && names_the_recipient(text) => {
            SendReply::RecipientInvalid { error }
        }
        _ => SendReply::Permanent { error },
    }
}

/// Whether a 550, 551 or 553 to RCPT refuses the address itself. It does
/// unless its enhanced code (RFC 3463 §3) names something else: X.1.Y is
/// about an address (but X.1.7 and X.1.8 about the sender's), X.2.1 is a
/// disabled mailbox (X.2.2, full, is not a dead address), and another class
/// (X.7.1 "relaying denied", a policy) says nothing about the address.
pub fn names_the_recipient(text: &str) -> bool {
    match enhanced_code(text) {
        Some((_, 1, detail)) => detail != 7 && detail != 8,
        Some((_, 2, detail)) => detail <= 1,
        Some(_) => false,
        None => true,
    }
}

/// The enhanced status code a reply's text starts with (`5.1.1 no such
/// user` → `(5, 1, 1)`), RFC 3463 §2: class.subject.detail, subject and
/// detail of one to three digits.
pub fn enhanced_code(text: &str) -> Option<(u8, u16, u16)> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some() || !matches!(class, "2" | "4" | "5") {
        return None;
    }
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    Some((class.parse().ok()?, number(subject)?, number(detail)?))
}
