//! Providers: the edge where a message leaves Herald. Each provider speaks
//! its service's wire format and classifies its own failures into the few
//! kinds the cascade understands.
//!
//! Every provider has the same shape (copy a folder to add one):
//! - a [`Provider`] that names its secret settings and *configures*: it
//!   parses the integration's settings once into a typed struct (unknown
//!   fields refused, errors naming `settings.<field>`) and builds a
//!   [`Client`] from it (a connection pool, a token cache, an HTTP/2
//!   connection);
//! - the [`Client`], kept per integration version and shared by every send
//!   through it; it sends, and it reads the provider's receipt webhooks
//!   (verifying the provider's own signature).
//!
//! The framework around them (secrets sealed at rest and redacted in every
//! view, per-integration bounds on sends in flight, per-send timeouts
//! shorter than the attempt's lease, hook routing) lives outside the
//! providers, so a provider cannot forget it.

pub mod apns;
pub mod fcm;
mod http_answer;
pub mod simulator;
pub mod smpp;
pub mod smtp;
pub mod tls;
pub mod twilio;
pub mod webhook;
pub mod whatsapp;

pub use http_answer::{read_answer, retry_after_ms, transport_error};

use async_trait::async_trait;
use herald_core::{Channel, FieldError, Millis, Rendered, Route};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a send may take unless the provider's settings say otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest per-send timeout a setting may ask for (the attempt's lease
/// is always longer, see `worker::WorkerConfig`).
pub const MAX_TIMEOUT_MS: u64 = 60_000;

/// One message to send.
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    /// Whose.
    pub tenant_id: &'a str,
    /// The notification.
    pub notification_id: &'a str,
    /// The channel.
    pub channel: Channel,
    /// The route (`sms`, `whatsapp`, or the channel's name).
    pub route: &'a str,
    /// Address or device token.
    pub to: &'a str,
    /// The text.
    pub content: &'a Rendered,
    /// The attempt's fixed key; providers that honour keys dedupe on it,
    /// and SMTP derives its `Message-ID` from it.
    pub idempotency_key: &'a str,
    /// End of the attempt's confirmation window.
    pub deadline: Millis,
    /// The notification's deadline (an appointment's start): a provider
    /// that takes a validity gets the time left, so a message queued there
    /// does not arrive after it.
    pub deliver_before: Option<Millis>,
    /// Now.
    pub now: Millis,
}

impl SendRequest<'_> {
    /// Whole seconds left until the notification's deadline (at least 1),
    /// if it has one.
    pub fn validity_s(&self) -> Option<i64> {
        self.deliver_before
            .map(|d| (d.saturating_sub(self.now) / 1_000).max(1))
    }
}

/// A provider's answer, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendReply {
    /// Accepted, with the provider's message id when it gives one.
    Accepted {
        /// Provider message id.
        message_id: Option<String>,
    },
    /// Try again later (timeouts, 5xx, SMTP 4xx): this message only.
    Transient {
        /// What happened.
        error: String,
        /// The provider's `Retry-After`, if any.
        retry_after_ms: Option<Millis>,
    },
    /// Try again later, and send slower: the provider said so (a 429,
    /// `ESME_RTHROTTLED`). Retried like [`SendReply::Transient`], and it
    /// slows the whole integration down (see `limiter`).
    Throttled {
        /// What happened.
        error: String,
        /// The provider's `Retry-After`, if any.
        retry_after_ms: Option<Millis>,
    },
    /// Refused for good (rejected, SMTP 5xx).
    Permanent {
        /// What happened.
        error: String,
    },
    /// The address or device token is dead, or not on this route.
    RecipientInvalid {
        /// What happened.
        error: String,
    },
}

impl SendReply {
    /// [`SendReply::kind`], with throttling told apart from other
    /// transient answers (`throttled`).
    pub fn detailed_kind(&self) -> &'static str {
        match self {
            SendReply::Throttled { .. } => "throttled",
            other => other.kind(),
        }
    }

    /// The API's word for it (`POST /v1/integrations/{channel}/test`).
    pub fn kind(&self) -> &'static str {
        match self {
            SendReply::Accepted { .. } => "accepted",
            // Throttling is transient to the API's reader too.
            SendReply::Transient { .. } | SendReply::Throttled { .. } => "transient",
            SendReply::Permanent { .. } => "permanent",
            SendReply::RecipientInvalid { .. } => "recipient_invalid",
        }
    }
}

/// What a provider is given to configure a client.
#[derive(Clone)]
pub struct Configure<'a> {
    /// The channel the integration serves.
    pub channel: Channel,
    /// The settings, secrets in the clear (only ever in memory).
    pub settings: &'a serde_json::Value,
    /// The integration's hook id (`/v1/hooks/{hook_id}`).
    pub hook_id: &'a str,
    /// The public URL of the integration's receipt webhook, for providers
    /// that are told where to call back (Twilio's `StatusCallback`).
    pub webhook_url: &'a str,
    /// Certificates trusted beside the system's (for local peers in tests,
    /// or a private relay).
    pub tls: &'a tls::Roots,
    /// Where a client hands receipts that arrive on its own connection
    /// rather than at `/v1/hooks/{hook_id}` (SMPP's `deliver_sm`): each is
    /// sent with the integration's hook id and recorded like a webhook's.
    /// `None` where nothing listens (tools, unit tests).
    pub receipts: Option<ReceiptSink>,
}

/// The sending end of the service's queue of pushed receipts.
pub type ReceiptSink = tokio::sync::mpsc::UnboundedSender<PushedReceipt>;

/// A receipt a client pushes from its own connection.
#[derive(Debug)]
pub struct PushedReceipt {
    /// The hook id of the integration it came through.
    pub hook_id: String,
    /// The receipt.
    pub receipt: HookReceipt,
    /// Answered once the receipt is durably recorded (or deliberately
    /// ignored, as a receipt for no known message is); dropped when it
    /// could not be. The client acknowledges the receipt to its provider
    /// only then, so a crash before the commit makes the provider send it
    /// again instead of losing it.
    pub recorded: tokio::sync::oneshot::Sender<()>,
}

/// One call of a provider to `/v1/hooks/{hook id}`.
#[derive(Debug, Clone)]
pub struct HookRequest {
    /// `GET` or `POST`.
    pub method: http::Method,
    /// The URL as the provider called it: the public base plus path and
    /// query (Twilio signs it).
    pub url: String,
    /// The query string, without `?`.
    pub query: String,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The raw body (signatures are over the exact bytes).
    pub body: bytes::Bytes,
    /// Now.
    pub now: Millis,
}

/// A receipt read from a provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReceipt {
    /// The provider's message id (as the send answered it).
    pub message_id: String,
    /// Delivered (true) or failed.
    pub delivered: bool,
    /// The provider's reason for a failure.
    pub error: Option<String>,
}

/// What a verified callback said, and what to answer the provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookReply {
    /// Receipts to record (matched within this integration's messages).
    pub receipts: Vec<HookReceipt>,
    /// A body to answer with (a handshake's challenge); empty answers
    /// `200 {"ok": true}`.
    pub body: Option<String>,
}

/// Why a callback was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// Missing or bad signature: 401, nothing recorded.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed, but not a callback this provider sends: 400.
    #[error("{0}")]
    BadRequest(String),
    /// This provider sends no callbacks: 404.
    #[error("this integration's provider sends no callbacks")]
    NotSupported,
}

/// A configured integration: what every send and callback through it uses.
#[async_trait]
pub trait Client: Send + Sync + 'static {
    /// Sends one message. Never panics; every failure is classified. The
    /// worker bounds it by [`Client::timeout`] and counts a timeout as
    /// transient.
    async fn send(&self, req: &SendRequest<'_>) -> SendReply;

    /// How long one send may take (the settings' `timeout_ms` where there
    /// is one).
    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    /// Opens the client's own link now (see `Provider::keeps_a_link`).
    async fn open(&self) {}

    /// Reads a receipt callback: verifies the provider's signature, then
    /// parses the provider's own format.
    async fn hook(&self, _req: &HookRequest) -> Result<HookReply, HookError> {
        Err(HookError::NotSupported)
    }

    /// The client of one route, for a client that is a chain of them.
    fn member(&self, _route: &str) -> Option<Arc<dyn Client>> {
        None
    }
}

/// A provider of one or more channels.
pub trait Provider: Send + Sync + 'static {
    /// Its name in integration settings (`simulator`, `smtp`, …).
    fn name(&self) -> &'static str;
    /// Whether it can serve a channel.
    fn supports(&self, channel: Channel) -> bool;
    /// The top-level settings that are secrets: sealed at rest, shown as
    /// `"set"` by a GET, kept by a PUT that leaves them out. No default, so
    /// a new provider has to say.
    fn secrets(&self) -> &'static [&'static str];
    /// Parses the settings (the error names `settings.<field>`) and builds
    /// the client every send through this integration version shares.
    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError>;
    /// Whether the provider calls back with receipts at the integration's
    /// webhook URL (shown by a GET as `webhook_url`).
    fn calls_back(&self) -> bool {
        false
    }
    /// Whether its clients keep a link of their own that receipts arrive
    /// on (SMPP): those are opened when Herald starts, so receipts owed
    /// for messages sent before a restart still come in.
    fn keeps_a_link(&self) -> bool {
        false
    }
    /// The routes of an SMS/messenger integration, in order, each with its
    /// kind (a messenger, or SMS itself): the cascade goes by the kind, not
    /// the name. Runs for every trigger, so it reads only what it needs.
    fn routes(&self, channel: Channel, _settings: &serde_json::Value) -> Vec<Route> {
        vec![Route::direct(channel)]
    }
}

/// The providers Herald knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    by_name: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Registry {
    /// Adds a provider.
    pub fn with(mut self, p: Arc<dyn Provider>) -> Self {
        self.by_name.insert(p.name(), p);
        self
    }

    /// Every real provider (the simulator is added by the caller, as it
    /// needs the store).
    pub fn real() -> Self {
        Registry::default()
            .with(Arc::new(smtp::Smtp))
            .with(Arc::new(fcm::Fcm))
            .with(Arc::new(apns::Apns))
            .with(Arc::new(webhook::Webhook))
            .with(Arc::new(twilio::Twilio))
            .with(Arc::new(whatsapp::Whatsapp))
            .with(Arc::new(smpp::Smpp))
    }

    /// Looks a provider up.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_name.get(name)
    }

    /// Every provider with its name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Arc<dyn Provider>)> {
        self.by_name.iter().map(|(n, p)| (*n, p))
    }

    /// The names, for error messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }
}

/// Parses settings into a provider's typed struct, naming the field of the
/// first error (`settings.port`). Every provider parses through this, with
/// its secrets named: serde's messages can quote the value they failed on,
/// so an error inside a secret says only what is wrong, never the value.
pub fn parse_settings<T: serde::de::DeserializeOwned>(
    settings: &serde_json::Value,
    secrets: &[&str],
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(settings.clone()).map_err(|e| {
        let e = crate::json::field_error(&e, Some("settings"));
        let inside = secrets.iter().any(|s| {
            let s = format!("settings.{s}");
            e.field == s
                || e.field.starts_with(&format!("{s}."))
                || e.field.starts_with(&format!("{s}["))
        });
        if !inside || matches!(e.code, "required" | "unknown_field") {
            return e;
        }
        let message = format!(
            "{} has the wrong type or value (not shown: it is a secret)",
            e.field
        );
        FieldError::new(e.field, e.code, message)
    })
}

/// A settings error naming `settings.<field>`.
pub fn settings_error(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("settings.{field}"), code, message)
}

/// Checks a `timeout_ms` setting and turns it into a duration.
pub fn timeout_setting(timeout_ms: Option<u64>) -> Result<Duration, FieldError> {
    match timeout_ms {
        None => Ok(DEFAULT_TIMEOUT),
        Some(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(_) => Err(settings_error(
            "timeout_ms",
            "out_of_range",
            format!("timeout_ms must be between 1 and {MAX_TIMEOUT_MS}"),
        )),
    }
}
