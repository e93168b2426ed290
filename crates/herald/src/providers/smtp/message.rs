//! Building the e-mail: pure, so what goes on the wire is decided here and
//! the client only hands bytes to the server.

use herald_core::Rendered;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{Address, Message};
use sha2::{Digest, Sha256};

/// The `Message-ID` of an attempt: a hash of its idempotency key, so every
/// repeat of the attempt (a retry, or a send again after a crash) carries
/// the same one and receiving systems can drop the duplicate (RFC 5322
/// §3.6.4). The right-hand side is the sender's domain, as mail systems
/// expect a domain there; a domain that cannot stand in the header as it
/// is (an IDN, a literal) falls back to `herald`.
pub fn message_id(idempotency_key: &str, from: &Mailbox) -> String {
    let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
    let domain = from.email.domain();
    let plain = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let right = if plain { domain } else { "herald" };
    format!("<{}@{right}>", &digest[..32])
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `to` is not an e-mail address.
    #[error("not an e-mail address: {0}")]
    Address(#[from] lettre::address::AddressError),
    /// lettre refused the message.
    #[error("the message could not be built: {0}")]
    Message(#[from] lettre::error::Error),
}

/// Who sends: the headers every message of an integration shares.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    /// `From`.
    pub from: &'a Mailbox,
    /// `Reply-To`.
    pub reply_to: Option<&'a Mailbox>,
}

/// Builds one message: `From`, `Reply-To`, `To`, `Subject` (empty when the
/// template has none), the stable `Message-ID`, and the body as
/// `text/plain; charset=utf-8`. lettre encodes non-ASCII headers (RFC 2047)
/// and picks the body's transfer encoding, so the bytes are 7-bit clean and
/// need no 8BITMIME from the server.
pub fn build(
    sender: &Sender<'_>,
    to: &str,
    content: &Rendered,
    message_id: &str,
) -> Result<Message, BuildError> {
    let to: Address = to.trim().parse()?;
    let mut b = Message::builder()
        .from(sender.from.clone())
        .to(Mailbox::new(None, to))
        .subject(content.subject.clone().unwrap_or_default())
        .message_id(Some(message_id.to_string()))
        .header(ContentType::TEXT_PLAIN);
    if let Some(r) = sender.reply_to {
        b = b.reply_to(r.clone());
    }
    Ok(b.body(content.body.clone())?)
}
