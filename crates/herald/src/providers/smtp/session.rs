//! Sessions with the server, kept open between sends (RFC 5321 §3: one
//! session carries many mail transactions), at most [`MAX_SESSIONS`] at a
//! time.
//!
//! lettre's `AsyncSmtpTransport` has a pool, but it is not used here, for
//! two reasons. Its async timeout bounds only the connect (lettre issue
//! #1027): a server that stops answering mid-transaction holds the send
//! until the server itself gives up. And a send whose future is dropped
//! half-way (the worker's per-send timeout) hands its connection back to
//! that pool with a reply still owed, so the next message would read the
//! previous one's answers and could go out in the wrong transaction. Here
//! a session is parked again only after a transaction finished cleanly;
//! one abandoned for any reason is closed. Running the commands one by one
//! also tells which command a refusal answered, which the classification
//! needs (a 550 to RCPT is the recipient's, API.md).

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error;
use lettre::Address;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The most sessions one integration keeps open to its server at once: a
/// burst must not open more than a relay allows one client.
pub const MAX_SESSIONS: usize = 16;

/// How long an idle session is kept. Servers close idle sessions after a
/// few minutes (RFC 5321 §4.5.3.2.7 asks for at least 5); one older than
/// this is closed rather than tried.
pub const IDLE_FOR: Duration = Duration::from_secs(60);

/// How the session is protected.
#[derive(Clone)]
pub enum Protection {
    /// Plain text.
    None,
    /// STARTTLS (RFC 3207), required: without it nothing is sent.
    Starttls(TlsParameters),
    /// TLS from the first byte (RFC 8314).
    Tls(TlsParameters),
}

/// Where and how to open a session.
pub struct Target {
    /// The server's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// TLS.
    pub protection: Protection,
    /// AUTH credentials (lettre's `Debug` of them shows nothing).
    pub login: Option<Credentials>,
    /// Bounds the connect.
    pub timeout: Duration,
}

/// Which step of a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the session: connect, greeting, EHLO, STARTTLS, AUTH.
    Open,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA` and the message.
    Data,
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum Failure {
    /// The server refused, or the connection failed, at a step.
    Smtp {
        /// Where.
        stage: Stage,
        /// What lettre saw.
        error: Error,
    },
    /// The server does not offer an extension the send needs (STARTTLS
    /// that the settings require, SMTPUTF8 for a non-ASCII address).
    NotOffered(Extension),
}

/// A session waiting for the next send.
struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// The sessions of one integration.
pub struct Sessions {
    target: Target,
    hello: ClientId,
    idle: Mutex<Vec<Idle>>,
    slots: Semaphore,
}

impl Sessions {
    /// No session open yet; the first send opens one.
    pub fn new(target: Target) -> Sessions {
        Sessions {
            target,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(MAX_SESSIONS),
        }
    }

    /// Sends one message in a session of its own for the time being. A
    /// session that fails, or whose send is dropped before the end, is
    /// closed, never reused.
    pub async fn send(&self, envelope: &Envelope, body: &[u8]) -> Result<Response, Failure> {
        // The semaphore is never closed; the error case cannot happen.
        let _slot = self.slots.acquire().await.ok();
        let mut conn = self.checkout().await?;
        match transact(&mut conn, envelope, body).await {
            Ok(response) => {
                self.park(conn);
                Ok(response)
            }
            Err(failure) => {
                // QUIT politely, off this send's clock: the answer is known.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.abort()).await;
                });
                Err(failure)
            }
        }
    }

    /// The freshest idle session that still answers NOOP, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, Failure> {
        loop {
            let idle = self.lock().pop();
            let Some(Idle { mut conn, since }) = idle else {
                return self.open().await;
            };
            if since.elapsed() < IDLE_FOR && conn.test_connected().await {
                return Ok(conn);
            }
            // Stale or closed by the server: dropping it closes the socket.
        }
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.lock();
        idle.retain(|s| s.since.elapsed() < IDLE_FOR);
        if idle.len() < MAX_SESSIONS {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic while holding the list leaves it valid: take it anyway.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session: connect (TLS at once for implicit TLS), EHLO,
    /// STARTTLS when required, AUTH when there are credentials.
    async fn open(&self) -> Result<AsyncSmtpConnection, Failure> {
        let t = &self.target;
        let at = |error| Failure::Smtp {
            stage: Stage::Open,
            error,
        };
        let wrapper = match &t.protection {
            Protection::Tls(p) => Some(p.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (t.host.as_str(), t.port),
            Some(t.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(at)?;
        if let Protection::Starttls(p) = &t.protection {
            if !conn.can_starttls() {
                // Refused rather than going on in plain text: a missing
                // STARTTLS may be an attacker stripping it (RFC 3207 §6).
                return Err(Failure::NotOffered(Extension::StartTls));
            }
            conn.starttls(p.clone(), &self.hello).await.map_err(at)?;
        }
        if let Some(login) = &t.login {
            conn.auth(DEFAULT_MECHANISMS, login).await.map_err(at)?;
        }
        Ok(conn)
    }
}

/// One mail transaction (RFC 5321 §3.3): MAIL, RCPT for each recipient,
/// DATA and the message.
async fn transact(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    body: &[u8],
) -> Result<Response, Failure> {
    let mut params = Vec::new();
    let ascii = |a: &Address| AsRef::<str>::as_ref(a).is_ascii();
    let non_ascii = !envelope.from().is_none_or(ascii) || !envelope.to().iter().all(ascii);
    if non_ascii {
        // RFC 6531: an address in UTF-8 needs SMTPUTF8.
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(Failure::NotOffered(Extension::SmtpUtfEight));
        }
        params.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        // lettre encodes bodies to 7 bit; kept for a message that is not.
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(Failure::NotOffered(Extension::EightBitMime));
        }
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let at = |stage: Stage| move |error: Error| Failure::Smtp { stage, error };
    conn.command(Mail::new(envelope.from().cloned(), params))
        .await
        .map_err(at(Stage::Mail))?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![]))
            .await
            .map_err(at(Stage::Rcpt))?;
    }
    conn.command(Data).await.map_err(at(Stage::Data))?;
    conn.message(body).await.map_err(at(Stage::Data))
}
