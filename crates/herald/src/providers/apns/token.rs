//! The provider authentication token: a JWT signed with the tenant's `.p8`
//! key, cached and shared by every send through one integration.
//!
//! Apple (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns):
//! the header is `{alg: ES256, kid}`, the claims `{iss: team id, iat}`;
//! a token older than an hour is refused (`ExpiredProviderToken`), and one
//! renewed more often than every 20 minutes is refused too
//! (`TooManyProviderTokenUpdates`). So one token is kept and renewed at 50
//! minutes, between the two bounds.

use crate::providers::settings_error;
use herald_core::FieldError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// A token is renewed once it is this old (seconds).
pub const RENEW_AFTER_S: u64 = 50 * 60;

/// The claims Apple reads.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

/// The token in use and when it was signed.
#[derive(Clone)]
struct Cached {
    jwt: Arc<str>,
    iat: u64,
}

/// Signing failed (it cannot once the key was checked, but a send must not
/// panic over it).
#[derive(Debug, thiserror::Error)]
#[error("signing the APNs provider token failed: {0}")]
pub struct SignError(String);

/// Signs and caches provider tokens.
pub struct TokenSigner {
    key: EncodingKey,
    header: Header,
    team_id: String,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key; the kid and team are public ids.
        f.debug_struct("TokenSigner")
            .field("kid", &self.header.kid)
            .field("team_id", &self.team_id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl TokenSigner {
    /// Reads the key and signs a first token with it, so that a key that
    /// parses as PEM but cannot sign is refused now, not at the first send.
    /// The error names `settings.key_p8` and never quotes it.
    pub fn new(
        key_p8: &SecretString,
        key_id: &str,
        team_id: &str,
        now_s: u64,
    ) -> Result<TokenSigner, FieldError> {
        let bad_key = || {
            settings_error(
                "key_p8",
                "invalid_key",
                "key_p8 must be the .p8 signing key from Apple (a PKCS#8 PEM P-256 private key)",
            )
        };
        let key =
            EncodingKey::from_ec_pem(key_p8.expose_secret().as_bytes()).map_err(|_| bad_key())?;
        let mut header = Header::new(Algorithm::ES256);
        // Apple's header is exactly {alg, kid}.
        header.typ = None;
        header.kid = Some(key_id.to_string());
        let signer = TokenSigner {
            key,
            header,
            team_id: team_id.to_string(),
            cached: Mutex::new(None),
        };
        let first = signer.sign(now_s).map_err(|_| bad_key())?;
        *signer.lock() = Some(first);
        Ok(signer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // A poisoned lock only means a panic elsewhere while it was held;
        // the cached token is still whole.
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sign(&self, now_s: u64) -> Result<Cached, SignError> {
        let claims = Claims {
            iss: &self.team_id,
            iat: now_s,
        };
        let jwt = jsonwebtoken::encode(&self.header, &claims, &self.key)
            // The kind names the failure (InvalidEcdsaKey, …) and carries
            // no key material.
            .map_err(|e| SignError(format!("{:?}", e.kind())))?;
        Ok(Cached {
            jwt: jwt.into(),
            iat: now_s,
        })
    }

    /// The token to send now: the cached one, or a new one once it is
    /// [`RENEW_AFTER_S`] old (or the clock went back past it).
    pub fn current(&self, now_s: u64) -> Result<Arc<str>, SignError> {
        let mut cached = self.lock();
        if let Some(c) = cached.as_ref() {
            if c.iat <= now_s && now_s - c.iat < RENEW_AFTER_S {
                return Ok(c.jwt.clone());
            }
        }
        // Signed under the lock, so concurrent sends make one token.
        let fresh = self.sign(now_s)?;
        let jwt = fresh.jwt.clone();
        *cached = Some(fresh);
        Ok(jwt)
    }

    /// APNs called `rejected` expired: renews it, unless another send has
    /// already replaced it (many sends in flight see the same 403, and
    /// Apple refuses tokens renewed too often).
    pub fn renew(&self, rejected: &str, now_s: u64) -> Result<Arc<str>, SignError> {
        let mut cached = self.lock();
        if let Some(c) = cached.as_ref() {
            if &*c.jwt != rejected {
                return Ok(c.jwt.clone());
            }
        }
        let fresh = self.sign(now_s)?;
        let jwt = fresh.jwt.clone();
        *cached = Some(fresh);
        Ok(jwt)
    }
}
