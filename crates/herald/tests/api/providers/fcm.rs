//! The `fcm` provider against a local peer that speaks FCM's HTTP v1 API and
//! Google's OAuth2 token endpoint as their documentation describes them:
//! - token endpoint: https://developers.google.com/identity/protocols/oauth2/service-account#httprest
//!   (a form POST, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//!   `assertion` an RS256 JWT with `iss`, `scope`, `aud` = the token URI,
//!   `iat`, `exp` at most an hour later; the answer `{access_token,
//!   expires_in, token_type}`);
//! - send: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
//!   (`POST /v1/projects/{project}/messages:send`, bearer token, body
//!   `{"message": Message}`, `data` a map of strings; the answer the
//!   message with its `name`);
//! - errors: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
//!   (Google's JSON error with an `FcmError` detail: `UNREGISTERED` 404,
//!   `INVALID_ARGUMENT` 400, `UNAVAILABLE` 503, `QUOTA_EXCEEDED` 429, …).
//!
//! The peer refuses what the documentation would refuse and notes why, so
//! every test also asserts the peer saw no protocol mistake.

use crate::helpers::{attempts, contains_text, outcome, spawn_app};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald::providers::fcm::{Fcm, FcmClient, FcmSettings};
use herald::providers::tls::Roots;
use herald::providers::{Client, Configure, SendReply, SendRequest};
use herald_core::{Channel, FieldError, Rendered};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PROJECT: &str = "salon-one-app";
const CLIENT_EMAIL: &str = "herald@salon-one-app.iam.gserviceaccount.com";
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// The documented values, written out here rather than taken from Herald.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// One RSA key pair for the whole test binary (2048 bits, as Google's).
struct KeyPair {
    private_pem: String,
    public_pem: String,
}

fn keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key");
        KeyPair {
            // Google's service-account files carry PKCS#8 ("BEGIN PRIVATE KEY").
            private_pem: key
                .to_pkcs8_pem(LineEnding::LF)
                .expect("PKCS#8 PEM")
                .to_string(),
            public_pem: key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("public PEM"),
        }
    })
}

/// A line from the middle of the private key: what must never show.
fn key_fragment() -> String {
    let lines: Vec<&str> = keys().private_pem.lines().collect();
    lines[lines.len() / 2].to_string()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// One `messages:send` the peer took.
#[derive(Debug, Clone)]
struct Sent {
    device: String,
    body: Value,
}

/// What the peer knows and saw.
struct PeerState {
    token_uri: String,
    decoding: DecodingKey,
    /// `expires_in` of the tokens it issues.
    expires_in: AtomicU64,
    /// When set, the token endpoint answers this instead.
    token_answer: Mutex<Option<(StatusCode, Value)>>,
    token_requests: AtomicUsize,
    issued: Mutex<Vec<String>>,
    revoked: Mutex<HashSet<String>>,
    /// Every bearer is refused (a revoked service account).
    refuse_all: AtomicBool,
    /// Sends answered 401.
    unauthenticated: AtomicUsize,
    sends: Mutex<Vec<Sent>>,
    tries: Mutex<HashMap<String, usize>>,
    problems: Mutex<Vec<String>>,
}

/// A local FCM + Google OAuth2 peer.
struct FcmPeer {
    base_url: String,
    state: Arc<PeerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FcmPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FcmPeer {
    async fn start() -> FcmPeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let base_url = format!("http://{addr}");
        let state = Arc::new(PeerState {
            token_uri: format!("{base_url}/token"),
            decoding: DecodingKey::from_rsa_pem(keys().public_pem.as_bytes())
                .expect("the public key"),
            expires_in: AtomicU64::new(3599),
            token_answer: Mutex::new(None),
            token_requests: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            revoked: Mutex::new(HashSet::new()),
            refuse_all: AtomicBool::new(false),
            unauthenticated: AtomicUsize::new(0),
            sends: Mutex::new(Vec::new()),
            tries: Mutex::new(HashMap::new()),
            problems: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", post(token_endpoint))
            .fallback(fcm_endpoint)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FcmPeer {
            base_url,
            state,
            task,
        }
    }

    /// A service-account file as the Firebase console hands it out, with
    /// the test key and the peer's token endpoint.
    fn service_account(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": keys().private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "123456789012345678901",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.state.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/herald",
            "universe_domain": "googleapis.com"
        })
    }

    fn settings(&self) -> Value {
        json!({"service_account": self.service_account(), "base_url": self.base_url})
    }

    fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    fn sends(&self) -> Vec<Sent> {
        lock(&self.state.sends).clone()
    }

    fn issued(&self) -> Vec<String> {
        lock(&self.state.issued).clone()
    }

    fn assert_no_problems(&self) {
        let p = lock(&self.state.problems).clone();
        assert!(p.is_empty(), "the peer saw protocol mistakes: {p:#?}");
    }
}

fn problem(state: &PeerState, what: String) {
    lock(&state.problems).push(what);
}

/// Google's JSON error, with an `FcmError` detail when `error_code` is given.
fn google_error(
    status: StatusCode,
    gstatus: &str,
    error_code: Option<&str>,
    message: &str,
) -> Response {
    let mut error = json!({"code": status.as_u16(), "message": message, "status": gstatus});
    if let Some(c) = error_code {
        error["details"] = json!([{"@type": FCM_ERROR, "errorCode": c}]);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

/// The OAuth2 error of RFC 6749 §5.2, as Google answers a bad grant.
fn grant_error(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": what})),
    )
        .into_response()
}

async fn token_endpoint(
    State(state): State<Arc<PeerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    if let Some((status, answer)) = lock(&state.token_answer).clone() {
        return (status, Json(answer)).into_response();
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        problem(&state, format!("token request content-type {ct:?}"));
        return grant_error("not a form");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some(GRANT_TYPE) {
        problem(&state, format!("grant_type {:?}", form.get("grant_type")));
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let Some(assertion) = form.get("assertion") else {
        problem(&state, "no assertion".into());
        return grant_error("no assertion");
    };
    if let Err(why) = check_assertion(&state, assertion) {
        problem(&state, format!("assertion: {why}"));
        return grant_error(&why);
    }
    let n = lock(&state.issued).len() + 1;
    let token = format!("ya29.test-access-token-{n}");
    lock(&state.issued).push(token.clone());
    Json(json!({
        "access_token": token,
        "expires_in": state.expires_in.load(Ordering::SeqCst),
        "token_type": "Bearer"
    }))
    .into_response()
}

/// Checks the JWT as Google does: RS256 under the account's key, the
/// claims the documentation requires.
fn check_assertion(state: &PeerState, assertion: &str) -> Result<(), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("alg {:?}, want RS256", header.alg));
    }
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[&state.token_uri]);
    v.set_issuer(&[CLIENT_EMAIL]);
    v.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let data = jsonwebtoken::decode::<Value>(assertion, &state.decoding, &v)
        .map_err(|e| format!("signature or claims: {e}"))?;
    let c = data.claims;
    let scopes = c["scope"].as_str().unwrap_or("");
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return Err(format!("scope {scopes:?}"));
    }
    let (Some(iat), Some(exp)) = (c["iat"].as_u64(), c["exp"].as_u64()) else {
        return Err(format!("iat/exp not numbers: {c}"));
    };
    let now = now_s();
    if exp <= now || exp > iat + 3600 || iat > now + 60 {
        return Err(format!("iat {iat} exp {exp} now {now}"));
    }
    Ok(())
}

/// The members of a `Message` the v1 API knows; any other is refused
/// ("Invalid JSON payload received. Unknown name").
const MESSAGE_FIELDS: &[&str] = &[
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "token",
    "topic",
    "condition",
];

/// Checks the body against the documented `Message` shape.
fn check_message(body: &Value) -> Result<(), String> {
    let top = body.as_object().ok_or("body is not an object")?;
    if let Some(k) = top
        .keys()
        .find(|k| !["message", "validate_only"].contains(&k.as_str()))
    {
        return Err(format!("unknown top-level field {k}"));
    }
    let m = body["message"].as_object().ok_or("no message object")?;
    if let Some(k) = m.keys().find(|k| !MESSAGE_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown message field {k}"));
    }
    if !m.get("token").is_some_and(Value::is_string) {
        return Err("message.token is not a string".into());
    }
    let n = m
        .get("notification")
        .and_then(Value::as_object)
        .ok_or("no message.notification")?;
    for (k, v) in n {
        if !["title", "body", "image"].contains(&k.as_str()) || !v.is_string() {
            return Err(format!("message.notification.{k} = {v}"));
        }
    }
    if !n.get("body").is_some_and(Value::is_string) {
        return Err("message.notification.body missing".into());
    }
    let data = m
        .get("data")
        .and_then(Value::as_object)
        .ok_or("no message.data")?;
    // "data: map (key: string, value: string)".
    if let Some((k, v)) = data.iter().find(|(_, v)| !v.is_string()) {
        return Err(format!("message.data.{k} is not a string: {v}"));
    }
    for k in ["notification_id", "idempotency_key"] {
        if !data.contains_key(k) {
            return Err(format!("message.data.{k} missing"));
        }
    }
    // "ttl: string (Duration format)": seconds with an `s` suffix.
    if let Some(ttl) = m.get("android").map(|a| &a["ttl"]) {
        let ok = ttl.as_str().is_some_and(|t| {
            t.strip_suffix('s')
                .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
        });
        if !ok {
            return Err(format!("message.android.ttl is not a duration: {ttl}"));
        }
    }
    // APNs headers through FCM are strings; apns-expiration Unix seconds.
    if let Some(h) = m.get("apns").map(|a| &a["headers"]["apns-expiration"]) {
        if !h
            .as_str()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(format!("message.apns.headers.apns-expiration: {h}"));
        }
    }
    Ok(())
}

async fn fcm_endpoint(
    State(state): State<Arc<PeerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let want = format!("/v1/projects/{PROJECT}/messages:send");
    if method != Method::POST || uri.path() != want {
        problem(&state, format!("{method} {uri}, want POST {want}"));
        // Google's front end answers unknown paths with HTML, not an FcmError.
        return (StatusCode::NOT_FOUND, "<html>Not Found</html>").into_response();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let known = lock(&state.issued).contains(&bearer);
    if !known {
        problem(&state, format!("bearer {bearer:?} was never issued"));
    }
    if !known || state.refuse_all.load(Ordering::SeqCst) || lock(&state.revoked).contains(&bearer) {
        state.unauthenticated.fetch_add(1, Ordering::SeqCst);
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            None,
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        );
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        problem(&state, format!("send content-type {ct:?}"));
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            problem(&state, format!("body is not JSON: {e}"));
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                None,
                "Invalid JSON payload received.",
            );
        }
    };
    if let Err(why) = check_message(&body) {
        problem(&state, format!("message: {why}: {body}"));
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
            &why,
        );
    }
    let device = body["message"]["token"].as_str().unwrap_or("").to_string();
    let n = {
        let mut sends = lock(&state.sends);
        sends.push(Sent {
            device: device.clone(),
            body: body.clone(),
        });
        sends.len()
    };
    let tries = {
        let mut t = lock(&state.tries);
        let e = t.entry(device.clone()).or_insert(0);
        *e += 1;
        *e
    };
    // Device tokens chosen by the tests decide the answer.
    if device.starts_with("tok-unregistered") {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            Some("UNREGISTERED"),
            "Requested entity was not found.",
        );
    }
    if device.starts_with("tok-flaky") && tries == 1 {
        let mut r = google_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            Some("UNAVAILABLE"),
            "The service is currently unavailable.",
        );
        r.headers_mut()
            .insert("retry-after", "1".parse().expect("a header value"));
        return r;
    }
    if device.starts_with("tok-invalid") {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
            "The registration token is not a valid FCM registration token",
        );
    }
    if device.starts_with("tok-quota") {
        let mut r = google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            Some("QUOTA_EXCEEDED"),
            "Quota exceeded for quota metric 'Send requests'.",
        );
        r.headers_mut()
            .insert("retry-after", "7".parse().expect("a header value"));
        return r;
    }
    if device.starts_with("tok-internal") {
        return google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            Some("INTERNAL"),
            "Internal error encountered.",
        );
    }
    if device.starts_with("tok-mismatch") {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            Some("SENDER_ID_MISMATCH"),
            "SenderId mismatch",
        );
    }
    if device.starts_with("tok-apns-auth") {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            Some("THIRD_PARTY_AUTH_ERROR"),
            "Auth error from APNS or Web Push Service",
        );
    }
    Json(json!({"name": format!("projects/{PROJECT}/messages/0:{n}")})).into_response()
}

// ---- provider level: configure and send directly ----

fn configure(settings: &Value) -> Result<FcmClient, FieldError> {
    let roots = Roots::none();
    Fcm.client(&Configure {
        channel: Channel::Aunio,
        settings,
        hook_id: "hook-fcm-test",
        webhook_url: "http://127.0.0.1:1/v1/hooks/hook-fcm-test",
        tls: &roots,
        receipts: None,
    })
}

fn content() -> Rendered {
    Rendered {
        subject: None,
        title: Some("Appointment at 10:00".into()),
        body: "Hello Ana, see you at 10:00.".into(),
    }
}

async fn send(client: &FcmClient, to: &str) -> SendReply {
    send_before(client, to, None).await
}

/// A send with the notification's deadline `deliver_before`.
async fn send_before(client: &FcmClient, to: &str, deliver_before: Option<i64>) -> SendReply {
    let content = content();
    let now = (now_s() * 1000) as i64;
    let key = format!("key-{to}");
    client
        .send(&SendRequest {
            tenant_id: "tenant-1",
            notification_id: "notif-1",
            channel: Channel::Aunio,
            route: "aunio",
            to,
            content: &content,
            idempotency_key: &key,
            deadline: now + 60_000,
            deliver_before: deliver_before.map(|d| now + d),
            now,
        })
        .await
}

/// The error text of a reply that is not an acceptance.
fn error_of(r: &SendReply) -> &str {
    match r {
        SendReply::Accepted { .. } => "",
        SendReply::Transient { error, .. }
        | SendReply::Throttled { error, .. }
        | SendReply::Permanent { error }
        | SendReply::RecipientInvalid { error } => error,
    }
}

/// No secret in a text: neither the key nor an issued access token.
fn assert_no_secret(peer: &FcmPeer, what: &str, text: &str) {
    assert!(
        !text.contains(&key_fragment()),
        "{what} shows the private key: {text}"
    );
    assert!(
        !text.contains("PRIVATE KEY"),
        "{what} shows the private key: {text}"
    );
    for t in peer.issued() {
        assert!(!text.contains(&t), "{what} shows an access token: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_sends_the_documented_message_with_a_verified_token() {
    let peer = FcmPeer::start().await;
    let client = configure(&peer.settings()).expect("configures");

    let r = send(&client, "tok-ana-phone").await;
    assert_eq!(
        r,
        SendReply::Accepted {
            message_id: Some(format!("projects/{PROJECT}/messages/0:1"))
        }
    );
    peer.assert_no_problems();
    let sends = peer.sends();
    assert_eq!(sends.len(), 1);
    let m = &sends[0].body["message"];
    assert_eq!(m["token"], "tok-ana-phone");
    assert_eq!(m["notification"]["title"], "Appointment at 10:00");
    assert_eq!(m["notification"]["body"], "Hello Ana, see you at 10:00.");
    assert_eq!(m["data"]["notification_id"], "notif-1");
    assert_eq!(m["data"]["idempotency_key"], "key-tok-ana-phone");
    assert!(m.get("android").is_none(), "no deadline, no ttl: {m}");

    // With a deadline an hour ahead, FCM keeps it at most that long.
    let r = send_before(&client, "tok-ana-tablet", Some(3_600_000)).await;
    assert!(matches!(r, SendReply::Accepted { .. }), "{r:?}");
    peer.assert_no_problems();
    let sends = peer.sends();
    let m = &sends[1].body["message"];
    assert_eq!(m["android"]["ttl"], "3600s");
    let exp: i64 = m["apns"]["headers"]["apns-expiration"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("apns-expiration");
    assert!((exp - (now_s() as i64 + 3_600)).abs() <= 2, "{exp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_caches_the_access_token_across_sends_and_one_refresh_serves_concurrent_sends() {
    let peer = FcmPeer::start().await;
    let client = Arc::new(configure(&peer.settings()).expect("configures"));

    // Eight sends at once on a fresh client: one token request between them.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            send(&c, &format!("tok-many-{i}")).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("a send").kind(), "accepted");
    }
    assert_eq!(
        peer.token_requests(),
        1,
        "concurrent sends share one token request"
    );

    assert_eq!(send(&client, "tok-later").await.kind(), "accepted");
    assert_eq!(peer.token_requests(), 1, "the cached token is used again");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_renews_the_token_shortly_before_it_expires() {
    let peer = FcmPeer::start().await;
    // 61 s of life: renewed from one second on (a minute before expiry).
    peer.state.expires_in.store(61, Ordering::SeqCst);
    let client = configure(&peer.settings()).expect("configures");

    assert_eq!(send(&client, "tok-a").await.kind(), "accepted");
    assert_eq!(send(&client, "tok-b").await.kind(), "accepted");
    assert_eq!(peer.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(send(&client, "tok-c").await.kind(), "accepted");
    assert_eq!(
        peer.token_requests(),
        2,
        "a token within a minute of expiry is renewed"
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_classifies_the_documented_error_codes() {
    let peer = FcmPeer::start().await;
    let client = configure(&peer.settings()).expect("configures");

    let r = send(&client, "tok-unregistered-1").await;
    assert_eq!(r.kind(), "recipient_invalid", "{r:?}");
    assert!(error_of(&r).contains("UNREGISTERED"), "{r:?}");
    assert!(
        error_of(&r).contains("Requested entity was not found"),
        "{r:?}"
    );

    let r = send(&client, "tok-flaky-1").await;
    assert_eq!(
        r,
        SendReply::Transient {
            error: "FCM 503 UNAVAILABLE: The service is currently unavailable.".into(),
            retry_after_ms: Some(1_000)
        }
    );
    assert_eq!(
        send(&client, "tok-flaky-1").await.kind(),
        "accepted",
        "the retry succeeds"
    );

    let r = send(&client, "tok-quota-1").await;
    assert!(
        matches!(
            r,
            SendReply::Throttled {
                retry_after_ms: Some(7_000),
                ..
            }
        ),
        "429 says slow down, with Retry-After: {r:?}"
    );
    assert!(error_of(&r).contains("QUOTA_EXCEEDED"), "{r:?}");

    let r = send(&client, "tok-internal-1").await;
    assert_eq!(r.kind(), "transient", "{r:?}");

    let r = send(&client, "tok-invalid-1").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("INVALID_ARGUMENT"), "{r:?}");

    let r = send(&client, "tok-mismatch-1").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("SENDER_ID_MISMATCH"), "{r:?}");

    // A 401 about the app's APNs credentials is not Herald's token: no
    // refresh, refused for good.
    let r = send(&client, "tok-apns-auth-1").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("THIRD_PARTY_AUTH_ERROR"), "{r:?}");
    assert_eq!(peer.token_requests(), 1);
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_refreshes_a_refused_token_once_then_gives_up() {
    let peer = FcmPeer::start().await;
    let client = configure(&peer.settings()).expect("configures");
    assert_eq!(send(&client, "tok-1").await.kind(), "accepted");

    // The cached token is revoked: one new token, and the send goes.
    lock(&peer.state.revoked).extend(peer.issued());
    assert_eq!(send(&client, "tok-2").await.kind(), "accepted");
    assert_eq!(peer.token_requests(), 2);
    assert_eq!(peer.state.unauthenticated.load(Ordering::SeqCst), 1);

    // Every token is refused: one refresh, one retry, then permanent.
    peer.state.refuse_all.store(true, Ordering::SeqCst);
    let r = send(&client, "tok-3").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("UNAUTHENTICATED"), "{r:?}");
    assert_eq!(
        peer.token_requests(),
        3,
        "exactly one refresh per refused send"
    );
    assert_no_secret(&peer, "the 401 error", error_of(&r));
    assert_eq!(
        peer.state.unauthenticated.load(Ordering::SeqCst),
        3,
        "tok-3 was tried twice, both refused"
    );
    assert_eq!(peer.sends().len(), 2, "only tok-1 and tok-2 went through");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_token_endpoint_failures_are_classified_without_secrets() {
    let peer = FcmPeer::start().await;
    let client = configure(&peer.settings()).expect("configures");

    *lock(&peer.state.token_answer) = Some((
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
    ));
    let r = send(&client, "tok-1").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(
        error_of(&r).contains("invalid_grant: Invalid JWT Signature."),
        "{r:?}"
    );
    assert_no_secret(&peer, "a refused token request", error_of(&r));

    *lock(&peer.state.token_answer) = Some((
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable"}),
    ));
    let r = send(&client, "tok-1").await;
    assert_eq!(r.kind(), "transient", "{r:?}");
    assert_no_secret(&peer, "a failed token request", error_of(&r));

    // Nothing was sent without a token.
    assert!(peer.sends().is_empty());
    *lock(&peer.state.token_answer) = None;
    assert_eq!(send(&client, "tok-1").await.kind(), "accepted");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_network_failures_are_transient() {
    // Nothing listens there (the port of a peer just stopped).
    let peer = FcmPeer::start().await;
    let mut settings = peer.settings();
    peer.task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    settings["timeout_ms"] = json!(2_000);
    let client = configure(&settings).expect("configures");
    let r = send(&client, "tok-1").await;
    assert_eq!(r.kind(), "transient", "{r:?}");
    assert_eq!(client.timeout(), Duration::from_secs(2));
}

#[test]
fn fcm_settings_errors_name_the_field_and_never_show_the_key() {
    let sa = || {
        json!({"type": "service_account", "project_id": PROJECT, "client_email": CLIENT_EMAIL,
               "private_key": keys().private_pem, "token_uri": "https://oauth2.googleapis.com/token"})
    };
    let field = |settings: Value| -> FieldError {
        match configure(&settings) {
            Ok(_) => panic!("configured: {settings}"),
            Err(e) => e,
        }
    };
    let assert_clean = |e: &FieldError| {
        let text = format!("{e} {e:?}");
        assert!(!text.contains(&key_fragment()), "shows the key: {text}");
        assert!(!text.contains("PRIVATE KEY"), "shows the key: {text}");
    };

    // Not a key; a public key (parses as PEM, cannot sign).
    for bad in ["not a key", keys().public_pem.as_str()] {
        let mut s = sa();
        s["private_key"] = json!(bad);
        let e = field(json!({ "service_account": s }));
        assert_eq!(e.field, "settings.service_account.private_key", "{e:?}");
        assert!(!e.message.contains(bad.trim()), "{e:?}");
    }

    let e = field(json!({"service_account": sa(), "colour": "blue"}));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("settings.colour", "unknown_field"),
        "{e:?}"
    );
    assert_clean(&e);

    let mut s = sa();
    s.as_object_mut().expect("an object").remove("project_id");
    let e = field(json!({ "service_account": s }));
    assert_eq!(e.field, "settings.service_account.project_id", "{e:?}");
    assert_clean(&e);

    let mut s = sa();
    s["project_id"] = json!("../../other");
    let e = field(json!({ "service_account": s }));
    assert_eq!(e.field, "settings.service_account.project_id", "{e:?}");

    // The file pasted as a string: refused without quoting it.
    let e = field(json!({ "service_account": sa().to_string() }));
    assert_eq!(e.field, "settings.service_account", "{e:?}");
    assert_clean(&e);

    let e = field(json!({"service_account": sa(), "base_url": "ftp://fcm.example"}));
    assert_eq!(e.field, "settings.base_url", "{e:?}");
    let e = field(json!({"service_account": sa(), "timeout_ms": 0}));
    assert_eq!(e.field, "settings.timeout_ms", "{e:?}");
    let e = field(json!({}));
    assert_eq!(e.field, "settings.service_account", "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_debug_output_shows_no_key_and_no_token() {
    let peer = FcmPeer::start().await;
    let client = configure(&peer.settings()).expect("configures");
    assert_eq!(send(&client, "tok-1").await.kind(), "accepted");
    assert_no_secret(&peer, "Debug of the client", &format!("{client:?}"));
    let parsed: FcmSettings = serde_json::from_value(peer.settings()).expect("parses");
    assert_no_secret(&peer, "Debug of the settings", &format!("{parsed:?}"));
    assert_no_secret(
        &peer,
        "Debug of the service account",
        &format!("{:?}", parsed.service_account),
    );
}

// ---- end to end through the HTTP API ----

/// A client type: Aunio always, SMS when Aunio did not deliver.
fn aunio_then_sms() -> Value {
    json!({
        "audience": "client",
        "channels": [
            {"channel": "aunio", "scenario": "always"},
            {"channel": "sms", "scenario": "fallback"}
        ],
        "templates": {
            "aunio": {"en": {"title": "Appointment at {{ time }}", "body": "Hello {{ client_name }}, see you at {{ time }}."}},
            "sms": {"en": {"body": "{{ client_name }}: appointment at {{ time }}"}}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_unregistered_token_is_removed_and_sms_falls_back() {
    let peer = FcmPeer::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "aunio",
        json!({"provider": "fcm", "settings": peer.settings()}),
    )
    .await;
    app.simulator(&key, "sms", json!({"default": "delivered"}))
        .await;
    app.put_type(&key, "reminder", aunio_then_sms()).await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "phone": "+15550001111",
               "apps": [{"app": "aunio", "token": "tok-unregistered-ana", "platform": "android"}]}),
    )
    .await;

    let id = app
        .trigger(&key, json!({"type": "reminder", "client": "ana", "data": {"client_name": "Ana", "time": "10:00"}}))
        .await;
    let n = app.wait_final(&key, &id).await;

    assert!(
        ["failed", "unreachable"].contains(&outcome(&n, "aunio")),
        "a dead token: {n:#}"
    );
    let a = attempts(&n, "aunio");
    assert_eq!(a.len(), 1, "{n:#}");
    assert_eq!(a[0]["to"], "tok-unregistered-ana", "{n:#}");
    assert!(
        contains_text(&a[0], "UNREGISTERED"),
        "the attempt says why: {n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    assert_eq!(n["status"], "delivered", "{n:#}");

    let (status, ana) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(status, StatusCode::OK, "{ana}");
    let apps = ana["apps"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(apps, 0, "the dead token is gone from the client: {ana:#}");

    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    assert_eq!(outbox[0]["channel"], "sms");
    assert_eq!(outbox[0]["body"], "Ana: appointment at 10:00");

    let sends = peer.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].device, "tok-unregistered-ana");
    assert_eq!(
        sends[0].body["message"]["data"]["notification_id"],
        id.as_str()
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_unavailable_then_success_is_delivered_after_two_requests() {
    let peer = FcmPeer::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "aunio",
        json!({"provider": "fcm", "settings": peer.settings()}),
    )
    .await;
    app.simulator(&key, "sms", json!({"default": "delivered"}))
        .await;
    app.put_type(&key, "reminder", aunio_then_sms()).await;
    app.put_client(
        &key,
        "bea",
        json!({"name": "Bea", "phone": "+15550002222",
               "apps": [{"app": "aunio", "token": "tok-flaky-bea", "platform": "ios"}]}),
    )
    .await;

    let id = app
        .trigger(&key, json!({"type": "reminder", "client": "bea", "data": {"client_name": "Bea", "time": "11:00"}}))
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    let a = attempts(&n, "aunio");
    assert_eq!(a.len(), 1, "{n:#}");
    assert_eq!(a[0]["requests"], 2, "503, then accepted: {n:#}");

    let sends = peer.sends();
    assert_eq!(sends.len(), 2, "{sends:?}");
    // The retry is the same message with the same key.
    assert_eq!(sends[0].body, sends[1].body);
    assert_eq!(
        sends[0].body["message"]["notification"]["title"],
        "Appointment at 11:00"
    );
    assert_eq!(
        peer.token_requests(),
        1,
        "the retry reuses the cached token"
    );
    assert!(app.outbox(&key, &id).await.is_empty(), "no SMS");
    let (status, bea) = app.get("/v1/clients/bea", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bea["apps"][0]["token"], "tok-flaky-bea",
        "a live token stays: {bea:#}"
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_service_account_never_leaves_herald() {
    let peer = FcmPeer::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "branded_app",
        json!({"provider": "fcm", "settings": peer.settings()}),
    )
    .await;

    let (status, got) = app.get("/v1/integrations/branded_app", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["settings"]["service_account"], "set", "{got:#}");
    assert_no_secret(&peer, "GET /v1/integrations/branded_app", &got.to_string());
    let (_, all) = app.get("/v1/integrations", &key).await;
    assert_no_secret(&peer, "GET /v1/integrations", &all.to_string());

    // A PUT that leaves the secret out keeps it.
    app.integration(
        &key,
        "branded_app",
        json!({"provider": "fcm", "settings": {"base_url": peer.base_url, "timeout_ms": 5000}}),
    )
    .await;
    let (_, r) = app
        .post(
            "/v1/integrations/branded_app/test",
            &key,
            &json!({"to": "tok-test"}),
        )
        .await;
    assert_eq!(r["result"], "accepted", "{r:#}");

    // A refused token request: the error the API shows has no secret.
    *lock(&peer.state.token_answer) = Some((
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
    ));
    app.integration(
        &key,
        "branded_app",
        json!({"provider": "fcm", "settings": peer.settings()}),
    )
    .await;
    let (_, r) = app
        .post(
            "/v1/integrations/branded_app/test",
            &key,
            &json!({"to": "tok-test"}),
        )
        .await;
    assert_eq!(r["result"], "permanent", "{r:#}");
    assert!(contains_text(&r, "invalid_client"), "{r:#}");
    assert_no_secret(&peer, "a failed test send", &r.to_string());

    // A bad key is refused by the PUT, naming the field, not quoting it.
    let mut sa = peer.service_account();
    let truncated: String = keys().private_pem.chars().take(400).collect();
    sa["private_key"] = json!(truncated);
    let (status, e) = app
        .put(
            "/v1/integrations/branded_app",
            &key,
            &json!({"provider": "fcm", "settings": {"service_account": sa, "base_url": peer.base_url}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        e["error"]["field"], "settings.service_account.private_key",
        "{e}"
    );
    let shown: String = truncated.lines().nth(2).unwrap_or_default().to_string();
    assert!(
        !e.to_string().contains(&shown),
        "the error quotes the key: {e}"
    );
}
