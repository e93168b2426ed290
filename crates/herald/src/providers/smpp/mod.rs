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
//! - [`receipt`]: `deliver_sm` receipts (TLVs or the text form).

pub mod answer;
pub mod encode;
pub mod receipt;
pub mod settings;

pub use answer::classify;
use answer::{bind_reason, link_error, status_of};
pub use settings::SmppSettings;

use super::{
    settings_error, Client, Configure, Provider, PushedReceipt, ReceiptSink, SendReply, SendRequest,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use herald_core::{Channel, FieldError, Route, RouteKind};
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::types::{COctetString, EmptyOrFullCOctetString};
use rusmpp::values::{EsmClass, Npi, RegisteredDelivery, ServiceType, Ton};
use rusmpp::{CommandId, Pdu};
use secrecy::ExposeSecret;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How often the link is checked with `enquire_link`.
const ENQUIRE_LINK: Duration = Duration::from_secs(30);
/// The first wait before binding again after a failure; doubled up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a receipt waits to be recorded before it is left
/// unacknowledged (the SMSC then sends it again).
const ACK_BOUND: Duration = Duration::from_secs(30);

/// How many ids of later parts are remembered (their receipts are not the
/// attempt's and are dropped).
const LATER_PARTS: usize = 4096;

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

struct Inner {
    settings: SmppSettings,
    tls: Option<tokio_rustls::TlsConnector>,
    server: String,
    hook_id: String,
    receipts: Option<ReceiptSink>,
    link: Mutex<Link>,
    later_parts: std::sync::Mutex<LaterParts>,
    reference: std::sync::atomic::AtomicU8,
}

/// The bind, or why there is none.
#[derive(Default)]
struct Link {
    client: Option<rusmppc::Client>,
    /// Why the last bind failed, and whether that was the SMSC's refusal.
    last_error: Option<(String, bool)>,
    /// No bind is tried before then.
    not_before: Option<Instant>,
    backoff: Option<Duration>,
}

#[derive(Default)]
struct LaterParts {
    ids: HashSet<String>,
    order: VecDeque<String>,
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

/// A bind's events.
type Events = futures_util::stream::BoxStream<'static, rusmppc::Event>;

/// Why a bind did not come up.
struct BindFailure {
    error: String,
    /// The SMSC refused it (bad system_id or password): permanent.
    refused: bool,
}

impl Inner {
    /// A bound client: the current one, or a new bind.
    async fn bound(self: &Arc<Self>) -> Result<rusmppc::Client, SendReply> {
        let mut link = self.link.lock().await;
        if let Some(c) = &link.client {
            if !c.is_closed() {
                return Ok(c.clone());
            }
            link.client = None;
        }
        if let Some(t) = link.not_before {
            if Instant::now() < t {
                let (error, refused) = link
                    .last_error
                    .clone()
                    .unwrap_or_else(|| ("the link is down".into(), false));
                return Err(self.failure(&error, refused, true));
            }
        }
        match self.bind().await {
            Ok((client, events)) => {
                link.client = Some(client.clone());
                link.last_error = None;
                link.not_before = None;
                link.backoff = None;
                tokio::spawn(run(Arc::downgrade(self), client.clone(), events));
                Ok(client)
            }
            Err(f) => {
                let wait = link
                    .backoff
                    .map(|b| (b * 2).min(MAX_BACKOFF))
                    .unwrap_or(FIRST_BACKOFF);
                link.backoff = Some(wait);
                link.not_before = Some(Instant::now() + wait);
                link.last_error = Some((f.error.clone(), f.refused));
                Err(self.failure(&f.error, f.refused, false))
            }
        }
    }

    fn failure(&self, error: &str, refused: bool, waiting: bool) -> SendReply {
        let error = if waiting {
            format!("{}: reconnecting after: {error}", self.server)
        } else {
            format!("{}: {error}", self.server)
        };
        if refused {
            SendReply::Permanent { error }
        } else {
            SendReply::Transient {
                error,
                retry_after_ms: None,
            }
        }
    }

    /// Connects and binds as a transceiver.
    async fn bind(&self) -> Result<(rusmppc::Client, Events), BindFailure> {
        let s = &self.settings;
        let timeout = s.timeout;
        let io = |e: String| BindFailure {
            error: e,
            refused: false,
        };
        let tcp = tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .map_err(|_| {
            io(format!(
                "could not connect within {} ms",
                timeout.as_millis()
            ))
        })?
        .map_err(|e| io(format!("could not connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let builder = rusmppc::ConnectionBuilder::new()
            .enquire_link_interval(ENQUIRE_LINK)
            .response_timeout(timeout);
        let (client, events) = match &self.tls {
            None => {
                let (c, e) = builder.connected(tcp);
                (c, e.boxed())
            }
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(s.host.clone())
                    .map_err(|e| io(format!("TLS: {e}")))?;
                let stream = tokio::time::timeout(timeout, tls.connect(name, tcp))
                    .await
                    .map_err(|_| io("TLS handshake timed out".into()))?
                    .map_err(|e| io(format!("TLS handshake failed: {e}")))?;
                let (c, e) = builder.connected(stream);
                (c, e.boxed())
            }
        };
        fn c<const N: usize, const M: usize>(
            v: &str,
            field: &str,
        ) -> Result<COctetString<N, M>, BindFailure> {
            COctetString::from_str(v).map_err(|_| BindFailure {
                error: format!("{field} is not usable in a bind"),
                refused: false,
            })
        }
        let bind = BindTransceiver::builder()
            .system_id(c(&s.system_id, "system_id")?)
            .password(c(s.password.expose_secret(), "password")?)
            .system_type(c(&s.system_type, "system_type")?)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        match client.bind_transceiver(bind).await {
            Ok(_) => Ok((client, events)),
            Err(e) => {
                let _ = client.close().await;
                Err(match status_of(&e) {
                    Some(status) => BindFailure {
                        error: format!("bind refused: {}", bind_reason(status)),
                        refused: true,
                    },
                    None => io(format!("bind failed: {}", link_error(&e))),
                })
            }
        }
    }

    fn remember_later_parts(&self, ids: Vec<String>) {
        let Ok(mut l) = self.later_parts.lock() else {
            return;
        };
        for id in ids {
            if l.ids.insert(id.clone()) {
                l.order.push_back(id);
            }
        }
        while l.order.len() > LATER_PARTS {
            if let Some(old) = l.order.pop_front() {
                l.ids.remove(&old);
            }
        }
    }

    fn is_later_part(&self, id: &str) -> bool {
        self.later_parts
            .lock()
            .map(|l| l.ids.contains(id))
            .unwrap_or(false)
    }

    /// One `deliver_sm`: a receipt handed to the service. Answers when it
    /// may be acknowledged to the SMSC: at once for what is not a receipt
    /// of ours, else once the service has recorded it (`None` when the
    /// service could not: no acknowledgement, so the SMSC sends it again).
    fn take_deliver(
        &self,
        pdu: &rusmpp::pdus::DeliverSm,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let mut tlv_id = None;
        let mut tlv_state = None;
        for t in pdu.tlvs() {
            match t.value() {
                Some(TlvValue::ReceiptedMessageId(id)) => tlv_id = Some(id.as_str().to_string()),
                Some(TlvValue::MessageState(st)) => tlv_state = Some(u8::from(*st)),
                _ => {}
            }
        }
        let is_receipt = u8::from(pdu.esm_class) & 0x3c != 0 || tlv_id.is_some();
        if !is_receipt {
            tracing::debug!(hook = %self.hook_id, "smpp: a mobile-originated message, not a receipt: ignored");
            return None;
        }
        let r = receipt::from_parts(tlv_id.as_deref(), tlv_state, pdu.short_message().as_ref())?;
        if self.is_later_part(&r.message_id) {
            return None;
        }
        let sink = self.receipts.as_ref()?;
        let (recorded, done) = tokio::sync::oneshot::channel();
        let _ = sink.send(PushedReceipt {
            hook_id: self.hook_id.clone(),
            receipt: r,
            recorded,
        });
        Some(done)
    }
}

/// Answers a bind's `deliver_sm`s (by sequence number) one at a time, in
/// the order they may be answered. One at a time because rusmppc 0.4's
/// connection takes at most five queued commands per wake-up and is woken
/// again only by the SMSC's next PDU: a burst of acknowledgements sent at
/// once (receipts recorded together after a restart) would sit unsent
/// while the link is otherwise quiet, and the SMSC would redeliver them.
async fn acknowledge(client: rusmppc::Client, mut seqs: tokio::sync::mpsc::UnboundedReceiver<u32>) {
    while let Some(seq) = seqs.recv().await {
        if let Err(e) = client.deliver_sm_resp(seq, DeliverSmResp::default()).await {
            // The link is gone; the SMSC delivers the receipt again.
            tracing::debug!("smpp: deliver_sm_resp {seq} not sent: {}", link_error(&e));
            return;
        }
    }
}

/// Reads a bind's events (answering `deliver_sm`), and binds again with
/// backoff when the link drops, for as long as the integration lives.
async fn run(inner: Weak<Inner>, mut client: rusmppc::Client, mut events: Events) {
    loop {
        let (acks, seqs) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(acknowledge(client.clone(), seqs));
        while let Some(event) = events.next().await {
            let Some(me) = inner.upgrade() else { return };
            match event {
                rusmppc::Event::Incoming(cmd) if cmd.id() == CommandId::DeliverSm => {
                    let pending = match cmd.pdu() {
                        Some(Pdu::DeliverSm(d)) => me.take_deliver(d),
                        _ => None,
                    };
                    let seq = cmd.sequence_number();
                    match pending {
                        None => {
                            let _ = acks.send(seq);
                        }
                        // Acknowledged only once recorded, without holding
                        // up the link's other events.
                        Some(done) => {
                            let acks = acks.clone();
                            tokio::spawn(async move {
                                if let Ok(Ok(())) = tokio::time::timeout(ACK_BOUND, done).await {
                                    let _ = acks.send(seq);
                                }
                            });
                        }
                    }
                }
                rusmppc::Event::Incoming(_) => {}
                rusmppc::Event::Error(e) => {
                    tracing::info!(server = %me.server, "smpp link: {}", link_error(&e));
                }
            }
        }
        // The link dropped: bind again, waiting longer after each failure.
        let mut wait = FIRST_BACKOFF;
        loop {
            tokio::time::sleep(wait).await;
            let Some(me) = inner.upgrade() else { return };
            let mut link = me.link.lock().await;
            if link.client.as_ref().is_some_and(|c| !c.is_closed()) {
                // A send bound it again meanwhile; that bind has its reader.
                return;
            }
            match me.bind().await {
                Ok((c, e)) => {
                    link.client = Some(c.clone());
                    link.last_error = None;
                    link.not_before = None;
                    link.backoff = None;
                    client = c;
                    events = e;
                    break;
                }
                Err(f) => {
                    tracing::info!(server = %me.server, "smpp: binding again: {}", f.error);
                    wait = (wait * 2).min(MAX_BACKOFF);
                    link.client = None;
                    link.last_error = Some((f.error, f.refused));
                    link.not_before = Some(Instant::now() + wait);
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
