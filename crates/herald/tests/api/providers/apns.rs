//! The `apns` provider against a peer that speaks what Apple documents: a
//! local HTTP/2 server over TLS (ALPN `h2` only, anything else refused)
//! that checks each request the way APNs does and answers with Apple's
//! statuses and `{"reason"}` bodies.
//!
//! Apple's documentation the peer follows:
//! - https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
//!   (HTTP/2, `POST /3/device/<token>`, `apns-topic`, `apns-push-type`,
//!   `apns-id` a UUID, `apns-priority`, a JSON payload with `aps`);
//! - https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
//!   (`authorization: bearer <JWT>`, header `{alg: ES256, kid}`, claims
//!   `{iss: team id, iat}`, a token older than an hour is expired);
//! - https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
//!   (200 with `apns-id`; 400/403/410/429/5xx with `{"reason", "timestamp"}`).

use crate::helpers::{
    assert_error, attempts, contains_text, of_channel, outcome, spawn_app_with, TestApp,
};
use herald::providers::apns::Apns;
use herald::providers::tls::Roots;
use herald::providers::{Client, Configure, Provider, SendReply, SendRequest};
use herald_core::{Channel, Rendered};
use hyper::body::{Body as _, Incoming};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

const KEY_ID: &str = "KEY0123456";
const TEAM_ID: &str = "TEAM012345";
const TOPIC: &str = "com.example.salon-one";

/// What the peer does for a device token, by the token's first byte.
mod tokens {
    /// 410 `Unregistered`.
    pub const UNREGISTERED: u8 = 0x10;
    /// 400 `BadDeviceToken`.
    pub const BAD_TOKEN: u8 = 0x11;
    /// 400 `DeviceTokenNotForTopic`.
    pub const NOT_FOR_TOPIC: u8 = 0x12;
    /// 429 `TooManyRequests` with `Retry-After: 1` to the first try, then 200.
    pub const BUSY_ONCE: u8 = 0x20;
    /// 500 `InternalServerError`, always.
    pub const INTERNAL: u8 = 0x21;
    /// 503 `ServiceUnavailable` with `Retry-After: 3`, always.
    pub const UNAVAILABLE: u8 = 0x22;
    /// 400 `BadTopic`, always: refused for good.
    pub const BAD_TOPIC: u8 = 0x30;
    /// 403 `ExpiredProviderToken` to the first try, then 200.
    pub const EXPIRED_ONCE: u8 = 0x40;
    /// 403 `ExpiredProviderToken`, always.
    pub const EXPIRED_ALWAYS: u8 = 0x41;
    /// Anything else: 200.
    pub const OK: u8 = 0xa0;
}

/// A 64-hex-digit device token whose first byte says what the peer does.
fn token(kind: u8) -> String {
    format!("{kind:02x}").repeat(32)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One request the peer took.
#[derive(Debug, Clone)]
struct Seen {
    device_token: String,
    /// The `apns-expiration` header, if sent.
    expiration: Option<String>,
    apns_id: String,
    payload: Value,
}

#[derive(Default)]
struct Log {
    /// Every request that reached the handler, checks passed or not.
    requests: Vec<Seen>,
    /// Provider tokens in the order first seen.
    jwts: Vec<String>,
    /// Tries per device token.
    tries: HashMap<String, u32>,
    /// TLS connections accepted.
    connections: u32,
    /// Everything the peer found against Apple's rules.
    problems: Vec<String>,
}

/// What the peer knows: the public half of the key Herald signs with.
struct State {
    verify: DecodingKey,
    log: Mutex<Log>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    iat: u64,
}

impl State {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn problem(&self, p: String) {
        self.log().problems.push(p);
    }

    /// Checks the provider token as APNs does; the error is Apple's reason.
    fn check_jwt(&self, jwt: &str) -> Result<(), &'static str> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| "InvalidProviderToken")?;
        if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(KEY_ID) {
            return Err("InvalidProviderToken");
        }
        // Apple's tokens carry no `exp`: the age is read from `iat`.
        let mut v = Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(jwt, &self.verify, &v)
            .map_err(|_| "InvalidProviderToken")?;
        if data.claims.iss != TEAM_ID {
            return Err("InvalidProviderToken");
        }
        let now = unix_now();
        if data.claims.iat + 3600 < now || data.claims.iat > now + 60 {
            return Err("ExpiredProviderToken");
        }
        Ok(())
    }

    /// Checks one request and answers it.
    fn answer(&self, parts: &http::request::Parts, body: &[u8]) -> Response<String> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if parts.method != http::Method::POST {
            self.problem(format!("method {}", parts.method));
            return apple_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
        }
        let Some(device_token) = parts.uri.path().strip_prefix("/3/device/") else {
            self.problem(format!("path {}", parts.uri.path()));
            return apple_error(StatusCode::NOT_FOUND, "BadPath");
        };
        let device_token = device_token.to_string();
        let Some(jwt) =
            header("authorization").and_then(|a| a.strip_prefix("bearer ").map(str::to_string))
        else {
            self.problem("no bearer provider token".into());
            return apple_error(StatusCode::FORBIDDEN, "MissingProviderToken");
        };
        if let Err(reason) = self.check_jwt(&jwt) {
            self.problem(format!("provider token refused: {reason}"));
            return apple_error(StatusCode::FORBIDDEN, reason);
        }
        if header("apns-topic").as_deref() != Some(TOPIC) {
            self.problem(format!("apns-topic {:?}", header("apns-topic")));
            return apple_error(StatusCode::BAD_REQUEST, "BadTopic");
        }
        if header("apns-push-type").as_deref() != Some("alert") {
            self.problem(format!("apns-push-type {:?}", header("apns-push-type")));
            return apple_error(StatusCode::BAD_REQUEST, "InvalidPushType");
        }
        let apns_id = header("apns-id").unwrap_or_default();
        // Apple: "a canonical UUID … 8-4-4-4-12".
        if apns_id.len() != 36 || uuid::Uuid::parse_str(&apns_id).is_err() {
            self.problem(format!("apns-id {apns_id:?}"));
            return apple_error(StatusCode::BAD_REQUEST, "BadMessageId");
        }
        if !matches!(
            header("apns-priority").as_deref(),
            None | Some("10" | "5" | "1")
        ) {
            self.problem(format!("apns-priority {:?}", header("apns-priority")));
            return apple_error(StatusCode::BAD_REQUEST, "BadPriority");
        }
        // Apple: "apns-expiration … a UNIX epoch expressed in seconds".
        let expiration = header("apns-expiration");
        if expiration
            .as_deref()
            .is_some_and(|e| e.is_empty() || !e.chars().all(|c| c.is_ascii_digit()))
        {
            self.problem(format!("apns-expiration {expiration:?}"));
            return apple_error(StatusCode::BAD_REQUEST, "BadExpirationDate");
        }
        let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let alert = &payload["aps"]["alert"];
        if !alert["title"].is_string() || !alert["body"].is_string() {
            self.problem(format!("payload {payload}"));
            return apple_error(StatusCode::BAD_REQUEST, "PayloadEmpty");
        }
        let tries = {
            let mut log = self.log();
            if !log.jwts.contains(&jwt) {
                log.jwts.push(jwt);
            }
            log.requests.push(Seen {
                device_token: device_token.clone(),
                expiration,
                apns_id: apns_id.clone(),
                payload,
            });
            let n = log.tries.entry(device_token.clone()).or_default();
            *n += 1;
            *n
        };
        let kind = u8::from_str_radix(device_token.get(..2).unwrap_or("00"), 16).unwrap_or(0);
        match (kind, tries) {
            (tokens::UNREGISTERED, _) => apple_error(StatusCode::GONE, "Unregistered"),
            (tokens::BAD_TOKEN, _) => apple_error(StatusCode::BAD_REQUEST, "BadDeviceToken"),
            (tokens::NOT_FOR_TOPIC, _) => {
                apple_error(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic")
            }
            (tokens::BUSY_ONCE, 1) => with_retry_after(
                apple_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
                "1",
            ),
            (tokens::INTERNAL, _) => {
                apple_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
            }
            (tokens::UNAVAILABLE, _) => with_retry_after(
                apple_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
                "3",
            ),
            (tokens::BAD_TOPIC, _) => apple_error(StatusCode::BAD_REQUEST, "BadTopic"),
            (tokens::EXPIRED_ONCE, 1) | (tokens::EXPIRED_ALWAYS, _) => {
                apple_error(StatusCode::FORBIDDEN, "ExpiredProviderToken")
            }
            _ => {
                let mut r = Response::new(String::new());
                if let Ok(v) = apns_id.parse() {
                    r.headers_mut().insert("apns-id", v);
                }
                r
            }
        }
    }
}

/// Apple's error answer: a status and `{"reason", "timestamp"}`.
fn apple_error(status: StatusCode, reason: &str) -> Response<String> {
    let body = json!({"reason": reason, "timestamp": unix_now() * 1000}).to_string();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn with_retry_after(mut r: Response<String>, secs: &'static str) -> Response<String> {
    r.headers_mut()
        .insert("retry-after", http::HeaderValue::from_static(secs));
    r
}

/// Reads a request body whole.
async fn read_body(body: Incoming) -> Vec<u8> {
    let mut body = std::pin::pin!(body);
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    buf
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    // APNs is HTTP/2 only.
    if req.version() != Version::HTTP_2 {
        state.problem(format!("{:?} request", req.version()));
        let mut r = Response::new(String::new());
        *r.status_mut() = StatusCode::HTTP_VERSION_NOT_SUPPORTED;
        return Ok(r);
    }
    let (parts, body) = req.into_parts();
    let body = read_body(body).await;
    Ok(state.answer(&parts, &body))
}

/// A running peer.
struct Peer {
    /// `https://127.0.0.1:PORT`.
    base_url: String,
    /// The CA that signed its certificate, PEM.
    ca_pem: String,
    /// The signing key Herald is given (PKCS#8 PEM, P-256), as a `.p8`.
    key_p8: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A CA, and a certificate for 127.0.0.1 and localhost signed by it.
fn certificates() -> (String, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Herald test APNs CA");
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let leaf_key = rcgen::KeyPair::generate().expect("a server key");
    let leaf =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params")
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("a server certificate");
    (ca_cert.pem(), leaf.der().to_vec(), leaf_key.serialize_der())
}

impl Peer {
    async fn start() -> Peer {
        let signing = rcgen::KeyPair::generate().expect("a P-256 key");
        let verify =
            DecodingKey::from_ec_pem(signing.public_key_pem().as_bytes()).expect("the public key");
        let state = Arc::new(State {
            verify,
            log: Mutex::new(Log::default()),
        });
        let (ca_pem, cert_der, key_der) = certificates();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(cert_der)],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
            )
            .expect("a TLS config");
        // ALPN `h2` only: a client that offers only HTTP/1.1 is refused in
        // the handshake.
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let served = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = served.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    state.log().connections += 1;
                    if tls.get_ref().1.alpn_protocol() != Some(b"h2".as_slice()) {
                        state.problem("a connection without ALPN h2".into());
                        return;
                    }
                    let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Peer {
            base_url: format!("https://127.0.0.1:{}", addr.port()),
            ca_pem,
            key_p8: signing.serialize_pem(),
            state,
            task,
        }
    }

    /// The roots Herald needs to trust the peer.
    fn roots(&self) -> Roots {
        Roots::from_pem(self.ca_pem.clone().into_bytes()).expect("the CA")
    }

    /// Settings for an integration that sends here.
    fn settings(&self) -> Value {
        json!({
            "key_p8": self.key_p8,
            "key_id": KEY_ID,
            "team_id": TEAM_ID,
            "topic": TOPIC,
            "environment": "production",
            "base_url": self.base_url,
            "timeout_ms": 10_000,
        })
    }

    fn requests(&self) -> Vec<Seen> {
        self.state.log().requests.clone()
    }

    fn tries(&self, device_token: &str) -> u32 {
        self.state
            .log()
            .tries
            .get(device_token)
            .copied()
            .unwrap_or(0)
    }

    fn jwts(&self) -> usize {
        self.state.log().jwts.len()
    }

    fn connections(&self) -> u32 {
        self.state.log().connections
    }

    /// Fails the test if any request broke Apple's rules.
    fn assert_no_problems(&self) {
        let p = self.state.log().problems.clone();
        assert!(
            p.is_empty(),
            "the peer found requests against Apple's rules: {p:#?}"
        );
    }
}

/// Configures the provider directly, as the framework does.
fn configure(settings: &Value, roots: &Roots) -> Result<Arc<dyn Client>, herald_core::FieldError> {
    Apns.configure(&Configure {
        channel: Channel::BrandedApp,
        settings,
        hook_id: "hook-apns",
        webhook_url: "https://herald.example/v1/hooks/hook-apns",
        tls: roots,
        receipts: None,
    })
}

fn client(peer: &Peer) -> Arc<dyn Client> {
    match configure(&peer.settings(), &peer.roots()) {
        Ok(c) => c,
        Err(e) => panic!("the peer's settings are refused: {e}"),
    }
}

fn content() -> Rendered {
    Rendered {
        subject: None,
        title: Some("Salon One: 10:00".into()),
        body: "Ana, see you at 10:00.".into(),
    }
}

/// Sends one push with an idempotency key.
async fn send(client: &dyn Client, to: &str, key: &str) -> SendReply {
    send_before(client, to, key, None).await
}

/// Sends one push whose notification must not arrive after `deliver_before`.
async fn send_before(
    client: &dyn Client,
    to: &str,
    key: &str,
    deliver_before: Option<i64>,
) -> SendReply {
    let content = content();
    let now = (unix_now() * 1000) as i64;
    client
        .send(&SendRequest {
            tenant_id: "t-1",
            notification_id: "n-1",
            channel: Channel::BrandedApp,
            route: "branded_app",
            to,
            content: &content,
            idempotency_key: key,
            deadline: now + 300_000,
            deliver_before,
            now,
        })
        .await
}

fn error_of(r: &SendReply) -> &str {
    match r {
        SendReply::Accepted { .. } => "",
        SendReply::Transient { error, .. }
        | SendReply::Throttled { error, .. }
        | SendReply::Permanent { error }
        | SendReply::RecipientInvalid { error } => error,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_accepted_push_carries_apples_headers_and_payload() {
    let peer = Peer::start().await;
    let c = client(&peer);
    let to = token(tokens::OK);

    let r = send(c.as_ref(), &to, "attempt-1").await;

    let seen = peer.requests();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        r,
        SendReply::Accepted {
            message_id: Some(seen[0].apns_id.clone())
        }
    );
    assert_eq!(seen[0].device_token, to);
    assert_eq!(seen[0].payload["aps"]["alert"]["title"], "Salon One: 10:00");
    assert_eq!(
        seen[0].payload["aps"]["alert"]["body"],
        "Ana, see you at 10:00."
    );
    assert_eq!(seen[0].payload["notification_id"], "n-1");
    assert_eq!(seen[0].expiration, None, "no deadline, no expiration");
    peer.assert_no_problems();

    // With a deadline, APNs stops trying to deliver it then.
    let at = (unix_now() as i64 + 7_200) * 1_000;
    let r = send_before(c.as_ref(), &to, "attempt-2", Some(at)).await;
    assert!(matches!(r, SendReply::Accepted { .. }), "{r:?}");
    let seen = peer.requests();
    assert_eq!(seen[1].expiration, Some((at / 1_000).to_string()));
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_answers_map_to_recipient_invalid_transient_and_permanent() {
    let peer = Peer::start().await;
    let c = client(&peer);

    for kind in [
        tokens::UNREGISTERED,
        tokens::BAD_TOKEN,
        tokens::NOT_FOR_TOPIC,
    ] {
        let r = send(c.as_ref(), &token(kind), &format!("k-{kind}")).await;
        assert_eq!(r.kind(), "recipient_invalid", "{kind:#x}: {r:?}");
    }
    let r = send(c.as_ref(), &token(tokens::UNREGISTERED), "k-unreg").await;
    assert!(
        error_of(&r).contains("410") && error_of(&r).contains("Unregistered"),
        "{r:?}"
    );
    let r = send(c.as_ref(), &token(tokens::BAD_TOKEN), "k-bad").await;
    assert!(
        error_of(&r).contains("400") && error_of(&r).contains("BadDeviceToken"),
        "{r:?}"
    );

    let busy = token(tokens::BUSY_ONCE);
    let r = send(c.as_ref(), &busy, "k-busy").await;
    assert_eq!(
        r,
        SendReply::Throttled {
            error: "APNs answered 429 TooManyRequests".into(),
            retry_after_ms: Some(1_000),
        }
    );
    // The worker's retry of the same attempt goes through.
    let again = send(c.as_ref(), &busy, "k-busy").await;
    assert_eq!(again.kind(), "accepted", "{again:?}");
    assert_eq!(peer.tries(&busy), 2);

    let r = send(c.as_ref(), &token(tokens::INTERNAL), "k-500").await;
    assert!(
        matches!(
            r,
            SendReply::Transient {
                retry_after_ms: None,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(error_of(&r).contains("500"), "{r:?}");
    let r = send(c.as_ref(), &token(tokens::UNAVAILABLE), "k-503").await;
    assert!(
        matches!(
            r,
            SendReply::Transient {
                retry_after_ms: Some(3_000),
                ..
            }
        ),
        "{r:?}"
    );

    let r = send(c.as_ref(), &token(tokens::BAD_TOPIC), "k-topic").await;
    assert_eq!(
        r,
        SendReply::Permanent {
            error: "APNs answered 400 BadTopic".into()
        }
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_expired_provider_token_is_renewed_and_retried_once() {
    let peer = Peer::start().await;
    let c = client(&peer);

    let once = token(tokens::EXPIRED_ONCE);
    let r = send(c.as_ref(), &once, "k-once").await;
    assert_eq!(r.kind(), "accepted", "{r:?}");
    assert_eq!(peer.tries(&once), 2, "one retry after the 403");

    let always = token(tokens::EXPIRED_ALWAYS);
    let r = send(c.as_ref(), &always, "k-always").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("ExpiredProviderToken"), "{r:?}");
    assert_eq!(peer.tries(&always), 2, "retried once, not in a loop");

    // Both tries of an attempt are one notification to APNs.
    let ids: BTreeSet<String> = peer
        .requests()
        .iter()
        .filter(|s| s.device_token == once)
        .map(|s| s.apns_id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_one_connection_and_one_provider_token_serve_every_send() {
    let peer = Peer::start().await;
    let c = client(&peer);

    for i in 0..3 {
        let r = send(c.as_ref(), &token(tokens::OK), &format!("seq-{i}")).await;
        assert_eq!(r.kind(), "accepted", "{r:?}");
    }
    // Concurrent sends share the connection's streams.
    let sends = (0..8).map(|i| {
        let c = c.clone();
        tokio::spawn(async move { send(c.as_ref(), &token(tokens::OK), &format!("par-{i}")).await })
    });
    for s in sends {
        let r = s.await.expect("a send");
        assert_eq!(r.kind(), "accepted", "{r:?}");
    }

    assert_eq!(peer.requests().len(), 11);
    assert_eq!(
        peer.jwts(),
        1,
        "the provider token is reused, not signed per send"
    );
    assert_eq!(
        peer.connections(),
        1,
        "one HTTP/2 connection for the integration"
    );

    // A client configured anew signs its own token.
    let other = client(&peer);
    let r = send(other.as_ref(), &token(tokens::OK), "other").await;
    assert_eq!(r.kind(), "accepted", "{r:?}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_id_is_the_same_for_every_try_of_an_attempt() {
    let peer = Peer::start().await;
    let c = client(&peer);
    let to = token(tokens::OK);

    let a1 = send(c.as_ref(), &to, "attempt-a").await;
    let a2 = send(c.as_ref(), &to, "attempt-a").await;
    let b = send(c.as_ref(), &to, "attempt-b").await;

    let ids: Vec<String> = peer.requests().iter().map(|s| s.apns_id.clone()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "same idempotency key, same apns-id");
    assert_ne!(ids[0], ids[2], "another attempt, another apns-id");
    assert_eq!(a1, a2);
    assert_eq!(
        b,
        SendReply::Accepted {
            message_id: Some(ids[2].clone())
        }
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_peer_refuses_anything_but_http2() {
    let peer = Peer::start().await;
    let Some(ca) = reqwest::Certificate::from_pem(peer.ca_pem.as_bytes()).ok() else {
        panic!("the CA certificate");
    };
    let http1 = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .http1_only()
        .build()
        .expect("a client");
    let r = http1
        .post(format!("{}/3/device/{}", peer.base_url, token(tokens::OK)))
        .send()
        .await;
    assert!(
        r.as_ref().map_or(true, |r| r.status()
            == StatusCode::HTTP_VERSION_NOT_SUPPORTED),
        "an HTTP/1.1 client got through: {r:?}"
    );
    assert!(peer.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_peer_refuses_tokens_apple_would_refuse() {
    // The peer's checks are real: a token signed by another key, or with
    // another key id or team, is refused as APNs refuses it, and Herald
    // takes that as a permanent failure (a settings mistake), not a dead
    // device token.
    let peer = Peer::start().await;
    let other_key = rcgen::KeyPair::generate()
        .expect("a P-256 key")
        .serialize_pem();
    for (field, value) in [
        ("key_p8", other_key.as_str()),
        ("key_id", "OTHERKEY01"),
        ("team_id", "OTHERTEAM1"),
    ] {
        let mut s = peer.settings();
        s[field] = json!(value);
        let c = configure(&s, &peer.roots()).expect("configured");
        let r = send(c.as_ref(), &token(tokens::OK), "k").await;
        assert_eq!(
            r,
            SendReply::Permanent {
                error: "APNs answered 403 InvalidProviderToken".into()
            },
            "another {field}"
        );
    }
    let problems = peer.state.log().problems.len();
    assert_eq!(problems, 3, "the peer saw each bad token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_network_failures_are_transient() {
    let peer = Peer::start().await;
    let mut settings = peer.settings();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
    settings["base_url"] = json!(format!("https://127.0.0.1:{port}"));
    let c = configure(&settings, &peer.roots()).expect("configured");
    let r = send(c.as_ref(), &token(tokens::OK), "k").await;
    assert_eq!(r.kind(), "transient", "{r:?}");

    // A peer whose certificate is not trusted is not APNs either.
    let untrusting = configure(&peer.settings(), &Roots::none()).expect("configured");
    let r = send(untrusting.as_ref(), &token(tokens::OK), "k").await;
    assert_eq!(r.kind(), "transient", "{r:?}");
    assert!(peer.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_settings_errors_name_the_field_and_never_quote_the_key() {
    let peer = Peer::start().await;
    let roots = peer.roots();
    let field = |change: &dyn Fn(&mut Value)| {
        let mut s = peer.settings();
        change(&mut s);
        match configure(&s, &roots) {
            Ok(_) => panic!("{s} was taken"),
            Err(e) => e,
        }
    };
    // Not a key, in a PEM frame: the error names the field, not the text.
    let fake = "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWU5PVEFLRVk=\n-----END PRIVATE KEY-----\n";
    let e = field(&|s| s["key_p8"] = json!(fake));
    assert_eq!(e.field, "settings.key_p8");
    assert!(
        !format!("{e} {e:?}").contains("Tk9UQUtFWU5PVEFLRVk"),
        "{e:?}"
    );
    let e = field(&|s| s["key_p8"] = json!("just text"));
    assert_eq!(e.field, "settings.key_p8");
    // Not a string at all.
    let e = field(&|s| s["key_p8"] = json!(12));
    assert_eq!(e.field, "settings.key_p8");

    assert_eq!(
        field(&|s| s["environment"] = json!("staging")).field,
        "settings.environment"
    );
    assert_eq!(
        field(&|s| s["colour"] = json!("blue")).field,
        "settings.colour"
    );
    assert_eq!(
        field(&|s| s["key_id"] = json!("KEY")).field,
        "settings.key_id"
    );
    assert_eq!(
        field(&|s| s["team_id"] = json!(7)).field,
        "settings.team_id"
    );
    assert_eq!(field(&|s| s["topic"] = json!("")).field, "settings.topic");
    assert_eq!(
        field(&|s| s["base_url"] = json!("ftp://x")).field,
        "settings.base_url"
    );
    assert_eq!(
        field(&|s| s["timeout_ms"] = json!(600_000)).field,
        "settings.timeout_ms"
    );
    let e = field(&|s| {
        if let Some(o) = s.as_object_mut() {
            o.remove("key_p8");
        }
    });
    assert_eq!(e.field, "settings.key_p8");

    assert_eq!(Apns.secrets(), ["key_p8"]);
    assert!(Apns.supports(Channel::AdminApp));
    assert!(Apns.supports(Channel::Aunio));
    assert!(Apns.supports(Channel::BrandedApp));
    assert!(!Apns.supports(Channel::Email));
    assert!(!Apns.supports(Channel::Sms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_debug_output_never_shows_the_key() {
    let peer = Peer::start().await;
    let settings: herald::providers::apns::ApnsSettings =
        serde_json::from_value(peer.settings()).expect("settings");
    let client =
        herald::providers::apns::ApnsClient::new(&settings, &peer.roots()).expect("a client");
    let pem_line = peer
        .key_p8
        .lines()
        .nth(1)
        .expect("a PEM body line")
        .to_string();
    for text in [
        format!("{settings:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!text.contains(&pem_line), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    // And no answer of a send quotes it.
    let c: Arc<dyn Client> = Arc::new(client);
    for kind in [tokens::UNREGISTERED, tokens::BAD_TOPIC, tokens::INTERNAL] {
        let r = send(c.as_ref(), &token(kind), "k").await;
        assert!(!error_of(&r).contains(&pem_line), "{r:?}");
    }
}

// ---- End to end, through the HTTP API --------------------------------------

const TYPE_KEY: &str = "reminder";

/// A Herald that trusts the peer, a tenant whose `branded_app` is APNs at
/// the peer, SMS on the simulator, and a type with the branded app always
/// and SMS as its fallback.
async fn herald_with_apns(peer: &Peer) -> (TestApp, String) {
    let roots = peer.roots();
    let app = spawn_app_with(move |cfg| cfg.tls = roots).await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.simulators_everywhere(&key).await;
    app.integration(
        &key,
        "branded_app",
        json!({"provider": "apns", "settings": peer.settings(), "confirm": "accepted"}),
    )
    .await;
    app.put_type(
        &key,
        TYPE_KEY,
        json!({
            "audience": "client",
            "channels": [
                {"channel": "branded_app", "scenario": "always"},
                {"channel": "sms", "scenario": "fallback"}
            ],
            "templates": {
                "branded_app": {"en": {"title": "Salon One: {{ time }}",
                                       "body": "{{ client_name }}, see you at {{ time }}."}},
                "sms": {"en": {"body": "{{ client_name }}: appointment at {{ time }}"}}
            }
        }),
    )
    .await;
    (app, key)
}

async fn trigger(app: &TestApp, key: &str, client: &str) -> Value {
    let id = app
        .trigger(
            key,
            json!({"type": TYPE_KEY, "client": client,
                   "data": {"client_name": "Ana", "time": "10:00"}}),
        )
        .await;
    app.wait_final(key, &id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_unregistered_token_is_removed_and_sms_falls_back() {
    let peer = Peer::start().await;
    let (app, key) = herald_with_apns(&peer).await;
    let dead = token(tokens::UNREGISTERED);
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "phone": "+15550001111", "locale": "en",
               "apps": [{"app": "branded_app", "token": dead, "platform": "ios"},
                        {"app": "aunio", "token": "aunio-token-stays", "platform": "ios"}]}),
    )
    .await;

    let n = trigger(&app, &key, "ana").await;

    assert_eq!(outcome(&n, "branded_app"), "failed", "{n:#}");
    let a = &attempts(&n, "branded_app")[0];
    assert_eq!(a["to"], dead.as_str(), "{n:#}");
    assert!(
        a["error"]
            .as_str()
            .is_some_and(|e| e.contains("Unregistered")),
        "{n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(peer.tries(&dead), 1, "a dead token is not retried");

    let (status, person) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{person}");
    assert!(
        !contains_text(&person["apps"], &dead),
        "the dead token is removed: {person:#}"
    );
    // Only it: the person's other app is still listed.
    assert!(
        contains_text(&person["apps"], "aunio-token-stays"),
        "{person:#}"
    );

    let id = n["id"].as_str().expect("an id");
    let outbox = app.outbox(&key, id).await;
    let sms = of_channel(&outbox, "sms");
    assert_eq!(sms.len(), 1, "{outbox:#?}");
    assert_eq!(sms[0]["body"], "Ana: appointment at 10:00", "{outbox:#?}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_too_many_requests_is_retried_then_delivered() {
    let peer = Peer::start().await;
    let (app, key) = herald_with_apns(&peer).await;
    let busy = token(tokens::BUSY_ONCE);
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "phone": "+15550001111", "locale": "en",
               "apps": [{"app": "branded_app", "token": busy, "platform": "ios"}]}),
    )
    .await;

    let n = trigger(&app, &key, "ana").await;

    assert_eq!(outcome(&n, "branded_app"), "delivered", "{n:#}");
    let a = attempts(&n, "branded_app");
    assert_eq!(a.len(), 1, "{n:#}");
    assert_eq!(a[0]["requests"], 2, "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    assert_eq!(peer.tries(&busy), 2);
    let ids: BTreeSet<String> = peer.requests().iter().map(|s| s.apns_id.clone()).collect();
    assert_eq!(
        ids.len(),
        1,
        "the retry carries the attempt's apns-id: {ids:?}"
    );

    let (_, person) = app.get("/v1/clients/ana", &key).await;
    assert!(
        contains_text(&person["apps"], &busy),
        "a live token stays: {person:#}"
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_key_is_write_only_through_the_api() {
    let peer = Peer::start().await;
    let (app, key) = herald_with_apns(&peer).await;
    let pem_line = peer
        .key_p8
        .lines()
        .nth(1)
        .expect("a PEM body line")
        .to_string();

    let (status, body) = app.get("/v1/integrations/branded_app", &key).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["provider"], "apns", "{body:#}");
    assert_eq!(body["settings"]["key_p8"], "set", "{body:#}");
    assert_eq!(body["settings"]["topic"], TOPIC, "{body:#}");
    assert!(!contains_text(&body, &pem_line), "{body:#}");
    let (_, all) = app.get("/v1/integrations", &key).await;
    assert!(!contains_text(&all, &pem_line), "{all:#}");

    // A PUT that leaves the key out keeps it: sends still sign.
    let mut kept = peer.settings();
    if let Some(o) = kept.as_object_mut() {
        o.remove("key_p8");
    }
    app.integration(
        &key,
        "branded_app",
        json!({"provider": "apns", "settings": kept, "confirm": "accepted"}),
    )
    .await;
    let (status, r) = app
        .post(
            "/v1/integrations/branded_app/test",
            &key,
            &json!({"to": token(tokens::OK)}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{r}");
    assert_eq!(r["result"], "accepted", "{r}");
    let (_, r) = app
        .post(
            "/v1/integrations/branded_app/test",
            &key,
            &json!({"to": token(tokens::BAD_TOKEN)}),
        )
        .await;
    assert_eq!(r["result"], "recipient_invalid", "{r}");
    assert!(!contains_text(&r, &pem_line), "{r}");

    // A bad key is refused naming the field, without quoting it.
    let mut bad = peer.settings();
    let fake = "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWU5PVEFLRVk=\n-----END PRIVATE KEY-----\n";
    bad["key_p8"] = json!(fake);
    let body = json!({"provider": "apns", "settings": bad});
    let (status, r) = app
        .call(
            Method::PUT,
            "/v1/integrations/branded_app",
            Some(&key),
            Some(&body),
        )
        .await;
    assert_error(
        "bad key_p8",
        status,
        &r,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        Some("settings.key_p8"),
    );
    assert!(!contains_text(&r, "Tk9UQUtFWU5PVEFLRVk"), "{r}");
    peer.assert_no_problems();
}
