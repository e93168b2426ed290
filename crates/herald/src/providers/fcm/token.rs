//! The OAuth2 access token FCM wants: a service-account JWT (RS256)
//! exchanged at the token endpoint, cached and shared by every send of one
//! integration.
//!
//! Google (https://developers.google.com/identity/protocols/oauth2/service-account#httprest):
//! the JWT's claims are `iss` (the account's e-mail), `scope`, `aud` (the
//! token endpoint), `iat` and `exp`, at most an hour after `iat`; it is
//! POSTed as a form, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
//! and `assertion=<jwt>`, and the answer is
//! `{"access_token", "expires_in", "token_type": "Bearer"}`.

use crate::providers::settings_error;
use herald_core::FieldError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The scope of sending FCM messages.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The grant of a signed JWT.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The longest life Google accepts for the JWT.
const JWT_LIFE_S: u64 = 3_600;
/// A token is renewed this long before Google said it expires, so that a
/// send never carries one that expires on the way.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// How much of an error answer is kept in a message.
const MAX_DETAIL: usize = 200;

/// The claims Google reads.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct Grant {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// An OAuth2 error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct GrantError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Why no access token could be had. Messages carry Google's error code and
/// description, never the key, the JWT or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Worth trying again: the endpoint was unreachable, slow, 429 or 5xx.
    #[error("OAuth2 token request failed: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The endpoint's `Retry-After`, in ms.
        retry_after_ms: Option<i64>,
    },
    /// Refused (a revoked key, a wrong account): trying again will not help.
    #[error("OAuth2 token request refused: {0}")]
    Refused(String),
}

/// An access token and when to stop using it.
struct Cached {
    token: Arc<SecretString>,
    renew_at: Instant,
}

/// Makes access tokens and keeps the current one.
pub struct TokenSource {
    http: reqwest::Client,
    token_uri: Url,
    client_email: String,
    key: EncodingKey,
    /// Held across the token request, so one refresh runs at a time and
    /// the sends waiting behind it get its token.
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_uri", &self.token_uri.as_str())
            .field("client_email", &self.client_email)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenSource {
    /// Reads the private key and signs a first JWT with it, so that a key
    /// that parses as PEM but cannot sign (a public key, a truncated one)
    /// is refused now, not at the first send. The error names
    /// `settings.service_account.private_key` and never quotes it.
    pub fn new(
        http: reqwest::Client,
        token_uri: Url,
        client_email: &str,
        private_key: &SecretString,
    ) -> Result<TokenSource, FieldError> {
        let bad_key = || {
            settings_error(
                "service_account.private_key",
                "invalid_key",
                "service_account.private_key must be the account's RSA private key (PEM, as in the service-account file)",
            )
        };
        let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
            .map_err(|_| bad_key())?;
        let source = TokenSource {
            http,
            token_uri,
            client_email: client_email.to_string(),
            key,
            cached: Mutex::new(None),
        };
        source.assertion(now_s()).map_err(|_| bad_key())?;
        Ok(source)
    }

    /// The signed JWT for a token request at `iat`.
    fn assertion(&self, iat: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: self.token_uri.as_str(),
            iat,
            exp: iat + JWT_LIFE_S,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
    }

    /// The token to send with: the cached one, or a new one once it is
    /// within a minute of expiry.
    pub async fn current(&self) -> Result<Arc<SecretString>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.request().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// FCM refused `rejected` (401): fetches a new token, unless another
    /// send has already replaced it (many sends in flight see the same 401).
    pub async fn renew(&self, rejected: &SecretString) -> Result<Arc<SecretString>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.token.expose_secret() != rejected.expose_secret() && Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        *cached = None;
        let fresh = self.request().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// One token request.
    async fn request(&self) -> Result<Cached, TokenError> {
        let asked_at = Instant::now();
        let assertion = self
            .assertion(now_s())
            // The kind names the failure and carries no key material.
            .map_err(|e| TokenError::Refused(format!("signing the JWT failed: {:?}", e.kind())))?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", GRANT_TYPE)
            .append_pair("assertion", &assertion)
            .finish();
        let resp = self
            .http
            .post(self.token_uri.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| TokenError::Transient {
                message: super::transport_error(&e),
                retry_after_ms: None,
            })?;
        let status = resp.status();
        let retry_after_ms = crate::providers::retry_after_ms(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| TokenError::Transient {
            message: super::transport_error(&e),
            retry_after_ms: None,
        })?;
        if status.is_success() {
            let grant: Grant = serde_json::from_slice(&bytes).map_err(|_| {
                TokenError::Refused(format!(
                    "the token endpoint answered {status} without an access_token"
                ))
            })?;
            if grant.access_token.is_empty() {
                return Err(TokenError::Refused(format!(
                    "the token endpoint answered {status} with an empty access_token"
                )));
            }
            // Google's tokens live an hour; without expires_in, assume so.
            let life = Duration::from_secs(grant.expires_in.unwrap_or(JWT_LIFE_S));
            return Ok(Cached {
                token: Arc::new(grant.access_token.into()),
                renew_at: asked_at + life.saturating_sub(RENEW_BEFORE),
            });
        }
        let detail = match serde_json::from_slice::<GrantError>(&bytes) {
            Ok(g) if !g.error.is_empty() => match g.error_description {
                Some(d) => format!("{}: {}", g.error, d),
                None => g.error,
            },
            _ => "no OAuth2 error in the answer".to_string(),
        };
        // An endpoint that echoes the request must not leak the signed JWT.
        let message = format!(
            "{status} {}",
            clip(&detail.replace(&assertion, "[assertion]"))
        );
        if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 408 {
            Err(TokenError::Transient {
                message,
                retry_after_ms,
            })
        } else {
            Err(TokenError::Refused(message))
        }
    }
}

/// The first [`MAX_DETAIL`] characters of an answer's text.
pub(super) fn clip(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > MAX_DETAIL {
        out.push('…');
    }
    out
}
