//! What the server answered, in the few kinds the cascade knows. Reply codes
//! follow RFC 5321 §4.2 (4yz transient, 5yz permanent) and the enhanced
//! status codes RFC 3463 §3 (`5.1.1`: bad destination mailbox).

use super::super::SendReply;
use lettre::transport::smtp;
use std::error::Error as _;

/// Classifies a failed send. `server` (`host:port`) starts every message so
/// that a support agent sees who said it.
pub fn classify(err: &smtp::Error, server: &str) -> SendReply {
    if let Some(code) = err.status() {
        // The server's own text, without lettre's "permanent error (550)".
        let text = err.source().map(|s| s.to_string()).unwrap_or_default();
        return from_reply(u16::from(code), &text, server);
    }
    if err.is_timeout() {
        return SendReply::Transient {
            error: format!("{server}: timed out: {err}"),
            retry_after_ms: None,
        };
    }
    if err.is_client() {
        // Decided on our side from what the server offers: STARTTLS missing
        // though the settings require it, no AUTH mechanism in common, no
        // SMTPUTF8 for a non-ASCII address. Asking again gets the same.
        return SendReply::Permanent {
            error: format!("{server}: {err}"),
        };
    }
    // The connection, the TLS handshake (an untrusted certificate too) or
    // the stream failed, or the reply could not be read: an outage for all
    // we know.
    SendReply::Transient {
        error: format!("{server}: {err}"),
        retry_after_ms: None,
    }
}

/// Classifies a negative reply by its code and text.
pub fn from_reply(code: u16, text: &str, server: &str) -> SendReply {
    let error = format!("{server} answered {code} {text}").trim_end().to_string();
    match code {
        400..=499 => SendReply::Transient {
            error,
            retry_after_ms: None,
        },
        550 | 551 | 553 if names_the_recipient(code, text) => SendReply::RecipientInvalid { error },
        _ => SendReply::Permanent { error },
    }
}

/// Whether a 550, 551 or 553 refuses the recipient's address rather than
/// the sender or the message. lettre's transport does not say which command
/// a reply answered, so this reads the reply: 551 answers only RCPT (RFC
/// 5321 §4.3.2); an enhanced code X.1.Y is about an address (RFC 3463 §3.2),
/// the sender's when Y is 7 or 8, the destination's otherwise; another
/// enhanced class (X.7.1 policy, spam) is not the address. Without an
/// enhanced code the reply is taken as the recipient's: both codes name a
/// mailbox (RFC 5321 §4.2.2), and the sender is the integration's own
/// address, which is refused for every message alike.
pub fn names_the_recipient(code: u16, text: &str) -> bool {
    if code == 551 {
        return true;
    }
    match enhanced_code(text) {
        Some((_, 1, detail)) => detail != 7 && detail != 8,
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
