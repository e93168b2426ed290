//! The `apns` provider: Apple Push Notification service's HTTP/2 provider
//! API with token authentication, for the push channels.
//!
//! One integration is one [`ApnsClient`]: one HTTP/2 client (its
//! connection reused by every send, streams multiplexed on it) and one
//! provider token shared by all of them. See README.md beside this file.

mod reply;
mod request;
mod settings;
#[cfg(test)]
mod tests;
mod token;

pub use settings::{ApnsSettings, Environment, PRODUCTION_URL, SANDBOX_URL};

use super::{settings_error, Client, Configure, Provider, SendReply, SendRequest};
use async_trait::async_trait;
use herald_core::{Channel, FieldError};
use reply::Answer;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use token::TokenSigner;

/// The most of an error body read (Apple's are a few dozen bytes).
const MAX_BODY: usize = 8 * 1024;
/// How long opening a connection may take, within the send's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings keep the connection open between sends, as Apple asks
/// providers to keep theirs rather than open one per notification.
const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// The `apns` provider.
pub struct Apns;

impl Provider for Apns {
    fn name(&self) -> &'static str {
        "apns"
    }

    fn supports(&self, channel: Channel) -> bool {
        matches!(
            channel,
            Channel::AdminApp | Channel::Aunio | Channel::BrandedApp
        )
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["key_p8"]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        let s: ApnsSettings = super::parse_settings(cfg.settings, &["key_p8"])?;
        Ok(Arc::new(ApnsClient::new(&s, cfg.tls)?))
    }
}

/// Seconds since the epoch, for the token's `iat`.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A configured `apns` integration.
pub struct ApnsClient {
    http: reqwest::Client,
    /// `{base}/3/device/`.
    endpoint: String,
    topic: http::HeaderValue,
    signer: TokenSigner,
    timeout: Duration,
}

impl std::fmt::Debug for ApnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsClient")
            .field("endpoint", &self.endpoint)
            .field("topic", &self.topic)
            .field("signer", &self.signer)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An answer as read off the wire.
struct Raw {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// A network failure, with its causes (reqwest's own message hides them).
fn network_error(e: &reqwest::Error) -> SendReply {
    let mut text = format!("APNs unreachable: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    SendReply::Transient {
        error: text,
        retry_after_ms: None,
    }
}

impl ApnsClient {
    /// Checks the settings, reads the key and builds the HTTP/2 client.
    pub fn new(s: &ApnsSettings, tls: &super::tls::Roots) -> Result<ApnsClient, FieldError> {
        let checked = s.check()?;
        let signer = TokenSigner::new(&s.key_p8, &s.key_id, &s.team_id, unix_now())?;
        let topic = http::HeaderValue::from_str(&s.topic)
            .map_err(|_| settings_error("topic", "invalid_value", "topic is not a header value"))?;
        let http = tls
            .http_client()
            // APNs speaks HTTP/2 only: offer `h2` alone in ALPN rather than
            // fall back to HTTP/1.1 against something that is not APNs.
            .http2_prior_knowledge()
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEP_ALIVE)
            .http2_keep_alive_while_idle(true)
            .build()
            .map_err(|e| {
                settings_error("base_url", "client_failed", format!("no HTTP client: {e}"))
            })?;
        Ok(ApnsClient {
            http,
            endpoint: format!("{}/3/device/", checked.base_url),
            topic,
            signer,
            timeout: checked.timeout,
        })
    }

    /// One POST, its answer read (an error body only up to [`MAX_BODY`]).
    async fn post(
        &self,
        url: &str,
        jwt: &str,
        send: &Sent<'_>,
        body: &[u8],
    ) -> Result<Raw, reqwest::Error> {
        let mut builder = self.http.post(url);
        if let Some(at) = send.expiration {
            builder = builder.header("apns-expiration", at.to_string());
        }
        let mut resp = builder
            .header(http::header::AUTHORIZATION, format!("bearer {jwt}"))
            .header("apns-topic", self.topic.clone())
            .header("apns-push-type", "alert")
            .header("apns-id", send.apns_id)
            // Immediate delivery; the only priority an alert may have.
            .header("apns-priority", "10")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            let room = MAX_BODY.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= MAX_BODY {
                break;
            }
        }
        Ok(Raw {
            status,
            headers,
            body: buf,
        })
    }

    /// Sends with a token and classifies the answer.
    async fn attempt(&self, url: &str, jwt: &str, send: &Sent<'_>, body: &[u8]) -> Answer {
        match self.post(url, jwt, send, body).await {
            Ok(raw) => reply::classify(raw.status, &raw.headers, &raw.body, send.apns_id),
            Err(e) => Answer::Reply(network_error(&e)),
        }
    }
}

/// The per-message headers of one send.
struct Sent<'a> {
    apns_id: &'a str,
    /// `apns-expiration`: Unix seconds (the notification's deadline).
    expiration: Option<i64>,
}

#[async_trait]
impl Client for ApnsClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        if !request::is_device_token(req.to) {
            return SendReply::RecipientInvalid {
                error: "not an APNs device token (hex digits expected)".into(),
            };
        }
        let url = format!("{}{}", self.endpoint, req.to);
        let apns_id = request::apns_id(req.idempotency_key).to_string();
        let body = request::payload(req.content, req.notification_id);
        let jwt = match self.signer.current(unix_now()) {
            Ok(t) => t,
            Err(e) => {
                return SendReply::Permanent {
                    error: e.to_string(),
                }
            }
        };
        // APNs keeps an undeliverable alert until this time (Unix seconds);
        // 0 (no deadline) means "try once, keep nothing".
        let expiration = req.deliver_before.map(|d| d / 1_000);
        let send = Sent {
            apns_id: &apns_id,
            expiration,
        };
        match self.attempt(&url, &jwt, &send, &body).await {
            Answer::Reply(r) => r,
            Answer::ExpiredToken(_) => {
                let fresh = match self.signer.renew(&jwt, unix_now()) {
                    Ok(t) => t,
                    Err(e) => {
                        return SendReply::Permanent {
                            error: e.to_string(),
                        }
                    }
                };
                match self.attempt(&url, &fresh, &send, &body).await {
                    Answer::Reply(r) => r,
                    // A fresh token refused as expired: the clock is off,
                    // which another try will not mend.
                    Answer::ExpiredToken(again) => SendReply::Permanent {
                        error: format!("{again} to a token just signed; check the clock"),
                    },
                }
            }
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}
