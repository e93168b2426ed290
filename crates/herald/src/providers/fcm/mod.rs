//! The `fcm` provider: push through Firebase Cloud Messaging's HTTP v1 API
//! (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send),
//! authenticated by an OAuth2 token from the tenant's service account. FCM
//! sends no delivery callbacks, so acceptance is all Herald learns.

mod reply;
mod settings;
mod token;

pub use settings::{FcmSettings, ServiceAccount, DEFAULT_BASE_URL, DEFAULT_TOKEN_URI};
pub use token::{TokenError, GRANT_TYPE, SCOPE};

use super::{transport_error, Client, Configure, Provider, SendReply, SendRequest};
use async_trait::async_trait;
use herald_core::{Channel, FieldError};
use reply::Answer;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use token::TokenSource;

/// The `fcm` provider.
pub struct Fcm;

impl Provider for Fcm {
    fn name(&self) -> &'static str {
        "fcm"
    }

    fn supports(&self, channel: Channel) -> bool {
        matches!(
            channel,
            Channel::AdminApp | Channel::Aunio | Channel::BrandedApp
        )
    }

    fn secrets(&self) -> &'static [&'static str] {
        // The whole file: its private key is what matters, and the rest is
        // nobody else's business either.
        &["service_account"]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        Ok(Arc::new(self.client(cfg)?))
    }
}

impl Fcm {
    /// Parses the settings and builds the client (`configure` without the
    /// `Arc`, so that tests can look at the concrete client).
    pub fn client(&self, cfg: &Configure<'_>) -> Result<FcmClient, FieldError> {
        let checked = settings::parse(cfg.settings)?;
        let http = cfg.tls.api_client(checked.timeout, "base_url")?;
        let sa = &checked.settings.service_account;
        let tokens = TokenSource::new(
            http.clone(),
            checked.token_uri.clone(),
            &sa.client_email,
            &sa.private_key,
        )?;
        Ok(FcmClient {
            http,
            send_url: checked.send_url,
            tokens,
            timeout: checked.timeout,
        })
    }
}

/// A configured `fcm` integration: one HTTP pool and one token cache for
/// every send through it.
#[derive(Debug)]
pub struct FcmClient {
    http: reqwest::Client,
    send_url: Url,
    tokens: TokenSource,
    timeout: Duration,
}

/// `{"message": …}` as `messages:send` takes it.
#[derive(Serialize)]
struct Body<'a> {
    message: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    token: &'a str,
    notification: Notification<'a>,
    /// FCM's `data` is a map of strings to strings.
    data: Data<'a>,
    /// How long FCM keeps it for an offline device (the time left until
    /// the notification's deadline); absent: FCM's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    android: Option<Android>,
    /// The same limit for iOS devices reached through FCM.
    #[serde(skip_serializing_if = "Option::is_none")]
    apns: Option<ApnsConfig>,
}

#[derive(Serialize)]
struct Android {
    /// A duration in seconds, as FCM writes it (`"3600s"`).
    ttl: String,
}

#[derive(Serialize)]
struct ApnsConfig {
    headers: ApnsHeaders,
}

#[derive(Serialize)]
struct ApnsHeaders {
    /// Unix seconds after which APNs drops it.
    #[serde(rename = "apns-expiration")]
    expiration: String,
}

#[derive(Serialize)]
struct Notification<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    body: &'a str,
}

#[derive(Serialize)]
struct Data<'a> {
    notification_id: &'a str,
    idempotency_key: &'a str,
}

impl FcmClient {
    /// One POST of the message with a token.
    async fn post(&self, body: &[u8], token: &SecretString) -> Answer {
        let resp = self
            .http
            .post(self.send_url.clone())
            .bearer_auth(token.expose_secret())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        match super::read_answer(resp, "FCM").await {
            Ok((status, headers, bytes)) => reply::classify(status, &headers, &bytes),
            Err(reply) => Answer::Reply(reply),
        }
    }
}

fn token_failure(e: TokenError) -> SendReply {
    match e {
        TokenError::Transient { retry_after_ms, .. } => SendReply::Transient {
            error: e.to_string(),
            retry_after_ms,
        },
        TokenError::Refused(_) => SendReply::Permanent {
            error: e.to_string(),
        },
    }
}

#[async_trait]
impl Client for FcmClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let body = Body {
            message: Message {
                token: req.to,
                notification: Notification {
                    title: req.content.title.as_deref(),
                    body: &req.content.body,
                },
                data: Data {
                    notification_id: req.notification_id,
                    idempotency_key: req.idempotency_key,
                },
                android: req.validity_s().map(|s| Android {
                    ttl: format!("{s}s"),
                }),
                apns: req.deliver_before.map(|d| ApnsConfig {
                    headers: ApnsHeaders {
                        expiration: (d / 1_000).to_string(),
                    },
                }),
            },
        };
        let body = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                return SendReply::Permanent {
                    error: format!("the FCM message could not be encoded: {e}"),
                }
            }
        };
        let token = match self.tokens.current().await {
            Ok(t) => t,
            Err(e) => return token_failure(e),
        };
        match self.post(&body, &token).await {
            Answer::Reply(r) => r,
            // The token was revoked or expired early: one new token, one
            // more try, and a second refusal is for good.
            Answer::Unauthenticated(_) => {
                let token = match self.tokens.renew(&token).await {
                    Ok(t) => t,
                    Err(e) => return token_failure(e),
                };
                match self.post(&body, &token).await {
                    Answer::Reply(r) => r,
                    Answer::Unauthenticated(error) => SendReply::Permanent {
                        error: format!("{error} (again with a new access token)"),
                    },
                }
            }
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}
