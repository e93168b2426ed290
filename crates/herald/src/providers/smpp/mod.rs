//! The `smpp` provider: SMS through an SMSC (an aggregator's SMPP 3.4
//! endpoint), with rusmppc as the client. One transceiver bind per
//! integration version, opened on the first send and kept open
//! (`enquire_link` every 30 s); when the link drops it is bound again in
//! the background with backoff, so receipts keep coming. Receipts arrive on
//! the bind as `deliver_sm`; they are answered and handed to the service
//! through [`Configure::receipts`].
//!
//! - [`settings`]: the integration's settings, checked;
//! - [`encode`]: GSM-7 or UCS-2, and the parts of a long text;
//! - [`receipt`]: `deliver_sm` receipts (TLVs or the text form);
//! - `link`: the bind, bound again when it drops, and the receipts on it.

pub mod answer;
pub mod encode;
mod link;
pub mod receipt;
pub mod settings;

pub use answer::classify;
use answer::{link_error, status_of};
use link::{Inner, LaterParts, Link};
pub use settings::SmppSettings;

use super::{settings_error, Client, Configure, Provider, SendReply, SendRequest};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Route, RouteKind};
use rusmpp::pdus::SubmitSm;
use rusmpp::types::{COctetString, EmptyOrFullCOctetString};
use rusmpp::values::{EsmClass, Npi, RegisteredDelivery, ServiceType, Ton};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// The `smpp` provider.
pub struct Smpp;

impl Provider for Smpp {
    fn name(&self) -> &'static str {
        "smpp"
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["password"]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        Ok(Arc::new(self.client(cfg)?))
    }

    fn keeps_a_link(&self) -> bool {
        true
    }

    fn routes(&self, _channel: Channel, _settings: &serde_json::Value) -> Vec<Route> {
        vec![Route::new("sms", RouteKind::Sms)]
    }
}

impl Smpp {
    /// The typed client (tests reach it to look inside).
    pub fn client(&self, cfg: &Configure<'_>) -> Result<SmppClient, FieldError> {
        let settings = settings::parse(cfg.settings)?;
        let tls = if settings.tls {
            Some(tls_connector(cfg.tls.pem())?)
        } else {
            None
        };
        Ok(SmppClient {
            inner: Arc::new(Inner {
                server: format!("{}:{}", settings.host, settings.port),
                settings,
                tls,
                hook_id: cfg.hook_id.to_string(),
                receipts: cfg.receipts.clone(),
                link: Mutex::new(Link::default()),
                later_parts: std::sync::Mutex::new(LaterParts::default()),
                reference: std::sync::atomic::AtomicU8::new(rand::random()),
            }),
        })
    }
}

/// TLS from the first byte, trusting the built-in roots and the extra ones.
fn tls_connector(extra: Option<&[u8]>) -> Result<tokio_rustls::TlsConnector, FieldError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra {
        for c in CertificateDer::pem_slice_iter(pem) {
            let c = c.map_err(|e| {
                settings_error(
                    "tls",
                    "tls_unavailable",
                    format!("TLS cannot be set up: {e}"),
                )
            })?;
            roots.add(c).map_err(|e| {
                settings_error(
                    "tls",
                    "tls_unavailable",
                    format!("TLS cannot be set up: {e}"),
                )
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| {
        settings_error(
            "tls",
            "tls_unavailable",
            format!("TLS cannot be set up: {e}"),
        )
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A configured `smpp` integration.
pub struct SmppClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for SmppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppClient")
            .field("server", &self.inner.server)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Drop for SmppClient {
    fn drop(&mut self) {
        // The bind belongs to this integration version: unbind it.
        if let Ok(mut link) = self.inner.link.try_lock() {
            if let Some(c) = link.client.take() {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(5), c.unbind()).await;
                        let _ = c.close().await;
                    });
                }
            }
        }
    }
}

impl SmppClient {
    /// The settings this client was built from.
    pub fn settings(&self) -> &SmppSettings {
        &self.inner.settings
    }

    /// The `submit_sm`s of one text (before the destination is known).
    fn base(&self, to: &str) -> Result<SubmitSm, SendReply> {
        let s = &self.inner.settings;
        let dest = to.trim().trim_start_matches('+');
        if dest.is_empty() || dest.len() > 20 || !dest.chars().all(|c| c.is_ascii_digit()) {
            return Err(SendReply::RecipientInvalid {
                error: format!("{to:?} is not a phone number in E.164 form"),
            });
        }
        let c = |v: &str| COctetString::from_str(v).map_err(|e| e.to_string());
        let build = || -> Result<SubmitSm, String> {
            Ok(SubmitSm::builder()
                .service_type(ServiceType::default())
                .source_addr_ton(Ton::from(s.source_addr_ton))
                .source_addr_npi(Npi::from(s.source_addr_npi))
                .source_addr(c(&s.source_addr)?)
                .dest_addr_ton(Ton::International)
                .dest_addr_npi(Npi::Isdn)
                .destination_addr(c(dest)?)
                .esm_class(EsmClass::default())
                // 1: an SMSC delivery receipt on success or failure.
                .registered_delivery(RegisteredDelivery::from(1u8))
                .build())
        };
        build().map_err(|error| SendReply::Permanent { error })
    }
}

/// An SMPP 3.4 relative time (`YYMMDDhhmmss000R`, §7.1.1) of `secs`
/// seconds, at most 99 days.
pub fn relative_validity(secs: i64) -> String {
    let s = secs.clamp(1, 99 * 86_400);
    format!(
        "0000{:02}{:02}{:02}{:02}000R",
        s / 86_400,
        s % 86_400 / 3_600,
        s % 3_600 / 60,
        s % 60
    )
}

#[async_trait]
impl Client for SmppClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let mut base = match self.base(req.to) {
            Ok(b) => b,
            Err(r) => return r,
        };
        // The SMSC drops it when still undelivered after the time left
        // until the notification's deadline.
        if let Some(s) = req.validity_s() {
            if let Ok(v) = EmptyOrFullCOctetString::<17>::from_string(relative_validity(s)) {
                base.validity_period = v;
            }
        }
        let reference = self
            .inner
            .reference
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let parts = match encode::parts(base, &req.content.body, reference) {
            Ok(p) => p,
            Err(error) => return SendReply::Permanent { error },
        };
        let client = match self.inner.bound().await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let server = &self.inner.server;
        let mut ids = Vec::with_capacity(parts.len());
        let total = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            match client.submit_sm(part).await {
                Ok(resp) => ids.push(resp.message_id().as_str().to_string()),
                Err(e) => {
                    let reply = match status_of(&e) {
                        Some(st) => classify(st, server),
                        None => SendReply::Transient {
                            error: format!("{server}: {}", link_error(&e)),
                            retry_after_ms: None,
                        },
                    };
                    if i > 0 {
                        // Earlier parts went out; the retry sends them all
                        // again (SMPP has no idempotency).
                        tracing::warn!(%server, "smpp: part {} of {total} failed after earlier parts were accepted", i + 1);
                    }
                    return reply;
                }
            }
        }
        let first = ids.first().cloned();
        if ids.len() > 1 {
            self.inner.remember_later_parts(ids[1..].to_vec());
        }
        SendReply::Accepted { message_id: first }
    }

    async fn open(&self) {
        // A failed bind is retried by the next send, or logged here.
        if let Err(r) = self.inner.bound().await {
            tracing::warn!(server = %self.inner.server, "smpp: binding at start: {r:?}");
        }
    }

    fn timeout(&self) -> Duration {
        self.inner.settings.timeout
    }
}
