//! The SMPP link of one integration version: one transceiver bind, bound
//! again in the background with backoff when it drops, `enquire_link`
//! every 30 s, and the receipts that arrive on it (`deliver_sm`),
//! acknowledged once the service has recorded them.

use super::answer::{bind_reason, link_error, status_of};
use super::receipt;
use super::settings::SmppSettings;
use crate::providers::{PushedReceipt, ReceiptSink, SendReply};
use futures_util::StreamExt;
use rusmpp::pdus::{BindTransceiver, DeliverSmResp};
use rusmpp::tlvs::TlvValue;
use rusmpp::types::COctetString;
use rusmpp::values::{Npi, Ton};
use rusmpp::{CommandId, Pdu};
use secrecy::ExposeSecret;
use std::collections::{HashSet, VecDeque};
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

/// One integration version's bind, settings and receipts.
pub(super) struct Inner {
    pub(super) settings: SmppSettings,
    pub(super) tls: Option<tokio_rustls::TlsConnector>,
    pub(super) server: String,
    pub(super) hook_id: String,
    pub(super) receipts: Option<ReceiptSink>,
    pub(super) link: Mutex<Link>,
    pub(super) later_parts: std::sync::Mutex<LaterParts>,
    pub(super) reference: std::sync::atomic::AtomicU8,
}

/// The bind, or why there is none.
#[derive(Default)]
pub(super) struct Link {
    pub(super) client: Option<rusmppc::Client>,
    /// Why the last bind failed, and whether that was the SMSC's refusal.
    pub(super) last_error: Option<(String, bool)>,
    /// No bind is tried before then.
    pub(super) not_before: Option<Instant>,
    pub(super) backoff: Option<Duration>,
}

#[derive(Default)]
/// Ids of long texts' later parts, whose receipts are not the attempt's.
pub(super) struct LaterParts {
    pub(super) ids: HashSet<String>,
    pub(super) order: VecDeque<String>,
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
    pub(super) async fn bound(self: &Arc<Self>) -> Result<rusmppc::Client, SendReply> {
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

    pub(super) fn remember_later_parts(&self, ids: Vec<String>) {
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

    pub(super) fn is_later_part(&self, id: &str) -> bool {
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
