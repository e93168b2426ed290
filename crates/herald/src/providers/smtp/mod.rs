//! The `smtp` provider: e-mail through any SMTP server (a relay, a mail
//! service's SMTP endpoint). The client, with its sessions kept open, is
//! built once per integration version and every send reuses it.
//!
//! - [`settings`]: the integration's settings, checked;
//! - [`message`]: the message and its stable `Message-ID`;
//! - [`session`]: sessions with the server and one mail transaction;
//! - [`classify`]: the server's answers as the cascade's kinds.

pub mod classify;
pub mod message;
pub mod session;
pub mod settings;

pub use settings::{SmtpSettings, TlsMode};

use super::{settings_error, Client, Configure, Provider, SendReply, SendRequest};
use async_trait::async_trait;
use herald_core::{Channel, FieldError};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use secrecy::ExposeSecret;
use session::{Protection, Sessions, Target};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The `smtp` provider.
pub struct Smtp;

impl Provider for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["password"]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        let settings = settings::parse(cfg.settings)?;
        Ok(Arc::new(SmtpClient::new(settings, cfg.tls.pem())?))
    }
}

/// A configured `smtp` integration: its sessions and the sender.
pub struct SmtpClient {
    sessions: Sessions,
    settings: SmtpSettings,
    /// `host:port`, for error messages.
    server: String,
}

impl fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand, so nothing of the sessions (the credentials among them)
        // can ever be printed.
        f.debug_struct("SmtpClient")
            .field("server", &self.server)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// A client for checked settings; `extra_roots` (PEM) are trusted
    /// beside the built-in roots. Opens nothing until the first send.
    pub fn new(settings: SmtpSettings, extra_roots: Option<&[u8]>) -> Result<Self, FieldError> {
        let protection = match settings.tls {
            TlsMode::None => Protection::None,
            TlsMode::Starttls => Protection::Starttls(tls_parameters(&settings.host, extra_roots)?),
            TlsMode::Tls => Protection::Tls(tls_parameters(&settings.host, extra_roots)?),
        };
        let login = settings
            .login
            .as_ref()
            .map(|l| Credentials::new(l.username.clone(), l.password.expose_secret().to_string()));
        let sessions = Sessions::new(Target {
            host: settings.host.clone(),
            port: settings.port,
            protection,
            login,
            timeout: settings.timeout,
        });
        Ok(SmtpClient {
            sessions,
            server: format!("{}:{}", settings.host, settings.port),
            settings,
        })
    }

    /// The settings this client was built from.
    pub fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    /// Takes the password out of an error text, should a server ever echo
    /// it back (none is expected to; this is the last line of defence for
    /// "no error message contains a secret").
    fn scrub(&self, reply: SendReply) -> SendReply {
        let Some(login) = &self.settings.login else {
            return reply;
        };
        let secret = login.password.expose_secret();
        if secret.is_empty() {
            return reply;
        }
        let clean = |e: String| e.replace(secret, "[redacted]");
        match reply {
            SendReply::Transient {
                error,
                retry_after_ms,
            } => SendReply::Transient {
                error: clean(error),
                retry_after_ms,
            },
            SendReply::Throttled {
                error,
                retry_after_ms,
            } => SendReply::Throttled {
                error: clean(error),
                retry_after_ms,
            },
            SendReply::Permanent { error } => SendReply::Permanent {
                error: clean(error),
            },
            SendReply::RecipientInvalid { error } => SendReply::RecipientInvalid {
                error: clean(error),
            },
            accepted @ SendReply::Accepted { .. } => accepted,
        }
    }
}

/// TLS for `host`: the built-in roots plus the extra ones.
fn tls_parameters(host: &str, extra_roots: Option<&[u8]>) -> Result<TlsParameters, FieldError> {
    let unusable = |e: lettre::transport::smtp::Error| {
        settings_error(
            "tls",
            "tls_unavailable",
            format!("TLS cannot be set up: {e}"),
        )
    };
    let mut b = TlsParameters::builder(host.to_string());
    if let Some(pem) = extra_roots {
        b = b.add_root_certificate(Certificate::from_pem(pem).map_err(unusable)?);
    }
    b.build().map_err(unusable)
}

#[async_trait]
impl Client for SmtpClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let s = &self.settings;
        let message_id = message::message_id(req.idempotency_key, &s.from);
        let sender = message::Sender {
            from: &s.from,
            reply_to: s.reply_to.as_ref(),
        };
        let email = match message::build(&sender, req.to, req.content, &message_id) {
            Ok(m) => m,
            Err(e @ message::BuildError::Address(_)) => {
                return SendReply::RecipientInvalid {
                    error: e.to_string(),
                }
            }
            Err(e) => {
                return SendReply::Permanent {
                    error: e.to_string(),
                }
            }
        };
        let envelope = email.envelope().clone();
        let body = email.formatted();
        // lettre bounds only the connect; this bounds the whole send, and a
        // session cut off by it is closed, not reused (see `session`).
        let sent = tokio::time::timeout(s.timeout, self.sessions.send(&envelope, &body)).await;
        match sent {
            Ok(Ok(response)) => {
                tracing::debug!(
                    server = %self.server,
                    message_id = %message_id,
                    "accepted: {}",
                    response.message().collect::<Vec<_>>().join(" ")
                );
                SendReply::Accepted {
                    message_id: Some(message_id),
                }
            }
            Ok(Err(failure)) => self.scrub(classify::classify(&failure, &self.server)),
            Err(_) => SendReply::Transient {
                error: format!(
                    "{}: no answer within {} ms",
                    self.server,
                    s.timeout.as_millis()
                ),
                retry_after_ms: None,
            },
        }
    }

    fn timeout(&self) -> Duration {
        self.settings.timeout
    }
}

#[cfg(test)]
mod tests;
