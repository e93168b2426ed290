//! The `smtp` provider against a real SMTP server: aiosmtpd, driven by
//! `tests/peers/smtp_peer.py`, started per test as a child process. The
//! peer's behaviours follow RFC 5321 (reply codes, §4.2), RFC 3463
//! (enhanced status codes), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS)
//! and RFC 4954 (AUTH); the script's header names which for each.
//!
//! Without aiosmtpd these tests say SKIPPED and pass, except under CI
//! (`CI` set), where they fail: `pip install aiosmtpd`, or point
//! `HERALD_PEER_PYTHON` at an interpreter that has it.

use herald::providers::smtp::{settings, Smtp, SmtpClient};
use herald::providers::tls::Roots;
use herald::providers::{Client, Configure, Provider, SendReply, SendRequest};
use herald_core::{Channel, Rendered};
use peer::{Certs, Peer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starting and reading the SMTP peer.
mod peer {
    use serde_json::Value;
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::{Duration, Instant};
    use tempfile::TempDir;

    /// How long the peer may take to start listening.
    const START_BOUND: Duration = Duration::from_secs(20);
    /// How long a test waits for the peer to report something.
    const EVENT_BOUND: Duration = Duration::from_secs(20);

    /// The Python that has aiosmtpd: `HERALD_PEER_PYTHON`, else `python3`
    /// if it can import aiosmtpd. None means skip (panics under CI, where a
    /// skipped peer would hide a missing install step).
    pub fn python() -> Option<String> {
        if let Ok(p) = std::env::var("HERALD_PEER_PYTHON") {
            if !p.is_empty() {
                return Some(p);
            }
        }
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some("python3".into());
        }
        if std::env::var_os("CI").is_some() {
            panic!(
                "\n\n*** the SMTP peer needs aiosmtpd: `pip install aiosmtpd`, \
                 or set HERALD_PEER_PYTHON to a python that has it ***\n"
            );
        }
        eprintln!(
            "\n*** SKIPPED: aiosmtpd not installed (pip install aiosmtpd), \
             or set HERALD_PEER_PYTHON ***\n"
        );
        None
    }

    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/smtp_peer.py")
    }

    /// A running peer; killed when dropped.
    pub struct Peer {
        child: Child,
        port: u16,
        events: Arc<Mutex<Vec<Value>>>,
        _dir: TempDir,
    }

    impl Peer {
        /// Starts the peer with a config (see the script's header) and waits
        /// until it listens. None when aiosmtpd is not there (skip).
        pub fn start(config: Value) -> Option<Peer> {
            let python = python()?;
            let dir = tempfile::tempdir().expect("a temp dir");
            let config_path = dir.path().join("peer.json");
            std::fs::write(&config_path, config.to_string()).expect("peer config written");
            let mut child = Command::new(&python)
                .arg(script())
                .arg(&config_path)
                // The peer also stops when this pipe closes, should the
                // test process die without dropping it.
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {python} {}: {e}", script().display()));
            let stdout = child.stdout.take().expect("peer stdout");
            let events = Arc::new(Mutex::new(Vec::new()));
            let (port_tx, port_rx) = mpsc::channel();
            let sink = events.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    let Ok(event) = serde_json::from_str::<Value>(&line) else {
                        eprintln!("smtp peer said: {line}");
                        continue;
                    };
                    if event["event"] == "listening" {
                        let _ = port_tx.send(event["port"].as_u64().unwrap_or(0) as u16);
                    } else {
                        sink.lock().expect("events lock").push(event);
                    }
                }
            });
            let port = match port_rx.recv_timeout(START_BOUND) {
                Ok(p) if p != 0 => p,
                _ => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("the SMTP peer did not start listening ({status:?})");
                }
            };
            Some(Peer {
                child,
                port,
                events,
                _dir: dir,
            })
        }

        /// The port it listens on (127.0.0.1).
        pub fn port(&self) -> u16 {
            self.port
        }

        /// Everything it reported so far, but its start.
        pub fn events(&self) -> Vec<Value> {
            self.events.lock().expect("events lock").clone()
        }

        /// The messages whose data it received.
        pub fn messages(&self) -> Vec<Value> {
            self.of("message")
        }

        /// The RCPT TO commands it answered.
        pub fn rcpts(&self) -> Vec<Value> {
            self.of("rcpt")
        }

        fn of(&self, kind: &str) -> Vec<Value> {
            self.events()
                .into_iter()
                .filter(|e| e["event"] == kind)
                .collect()
        }

        /// Waits until it has received `n` messages, and returns them.
        pub async fn wait_messages(&self, n: usize) -> Vec<Value> {
            self.wait_of("message", n).await
        }

        /// Waits until it has answered `n` RCPT TO commands (its lines are
        /// read as they come, so the last may lag the answer it sent).
        pub async fn wait_rcpts(&self, n: usize) -> Vec<Value> {
            self.wait_of("rcpt", n).await
        }

        async fn wait_of(&self, kind: &str, n: usize) -> Vec<Value> {
            let start = Instant::now();
            loop {
                let m = self.of(kind);
                if m.len() >= n {
                    return m;
                }
                if start.elapsed() > EVENT_BOUND {
                    panic!(
                        "the SMTP peer got {} {kind} events, not {n}: {:#?}",
                        m.len(),
                        self.events()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A test CA and a certificate it signed for `localhost` and
    /// 127.0.0.1, written to a temp dir for the peer.
    pub struct Certs {
        /// The CA, PEM: what Herald is told to trust.
        pub ca_pem: String,
        /// `{"cert": path, "key": path}` for the peer's config.
        pub paths: Value,
        _dir: TempDir,
    }

    impl Certs {
        /// Makes a CA and a server certificate.
        pub fn new() -> Certs {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
            };
            let ca_key = KeyPair::generate().expect("CA key");
            let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(DnType::CommonName, "Herald SMTP test CA");
            ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let ca = ca.self_signed(&ca_key).expect("CA certificate");
            let key = KeyPair::generate().expect("server key");
            let mut leaf =
                CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                    .expect("server params");
            leaf.distinguished_name
                .push(DnType::CommonName, "localhost");
            let leaf = leaf
                .signed_by(&key, &ca, &ca_key)
                .expect("server certificate");
            let dir = tempfile::tempdir().expect("a temp dir");
            let cert_path = dir.path().join("server.pem");
            let key_path = dir.path().join("server.key");
            std::fs::write(&cert_path, leaf.pem()).expect("cert written");
            std::fs::write(&key_path, key.serialize_pem()).expect("key written");
            Certs {
                ca_pem: ca.pem(),
                paths: serde_json::json!({"cert": cert_path, "key": key_path}),
                _dir: dir,
            }
        }
    }
}

const FROM: &str = "Salon One <no-reply@salon.example>";
const PASSWORD: &str = "s3cret-Pa55word-never-shown";
const BODY: &str = "Grüße, Zoë — 10:00";

/// Plain-text settings for a local peer.
fn plain(peer: &Peer) -> Value {
    json!({"host": "127.0.0.1", "port": peer.port(), "tls": "none", "from": FROM})
}

fn configure(settings: &Value, roots: &Roots) -> Arc<dyn Client> {
    match try_configure(settings, roots) {
        Ok(c) => c,
        Err(e) => panic!("configure {settings}: {e}"),
    }
}

fn try_configure(
    settings: &Value,
    roots: &Roots,
) -> Result<Arc<dyn Client>, herald_core::FieldError> {
    Smtp.configure(&Configure {
        channel: Channel::Email,
        settings,
        hook_id: "hook-test",
        webhook_url: "http://127.0.0.1/v1/hooks/hook-test",
        tls: roots,
        receipts: None,
    })
}

fn content(subject: &str) -> Rendered {
    Rendered {
        subject: Some(subject.to_string()),
        title: None,
        body: BODY.to_string(),
    }
}

async fn send(client: &dyn Client, to: &str, key: &str, content: &Rendered) -> SendReply {
    let now = chrono::Utc::now().timestamp_millis();
    client
        .send(&SendRequest {
            tenant_id: "t-1",
            notification_id: "n-1",
            channel: Channel::Email,
            route: "email",
            to,
            content,
            idempotency_key: key,
            deadline: now + 60_000,
            deliver_before: None,
            now,
        })
        .await
}

fn error_of(reply: &SendReply) -> &str {
    match reply {
        SendReply::Transient { error, .. }
        | SendReply::Throttled { error, .. }
        | SendReply::Permanent { error }
        | SendReply::RecipientInvalid { error } => error,
        SendReply::Accepted { .. } => panic!("accepted, expected an error"),
    }
}

/// The body as a mail client shows it (the decoder may keep a final newline).
fn shown_body(m: &Value) -> &str {
    m["body"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches(['\r', '\n'])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sends_the_message_as_rendered_with_a_stable_message_id() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let mut settings = plain(&peer);
    settings["reply_to"] = json!("Front Desk <desk@salon.example>");
    let client = configure(&settings, &Roots::none());

    let first = send(&*client, "ana@example.com", "att-1", &content("Grüße")).await;
    let repeat = send(&*client, "ana@example.com", "att-1", &content("Grüße")).await;
    let other = send(&*client, "ana@example.com", "att-2", &content("Other")).await;

    let m = peer.wait_messages(3).await;
    assert_eq!(m[0]["mail_from"], "no-reply@salon.example", "{:#}", m[0]);
    assert_eq!(m[0]["rcpt_tos"], json!(["ana@example.com"]), "{:#}", m[0]);
    assert_eq!(m[0]["from"], FROM, "{:#}", m[0]);
    assert_eq!(m[0]["to"], "ana@example.com", "{:#}", m[0]);
    assert_eq!(
        m[0]["reply_to"], "Front Desk <desk@salon.example>",
        "{:#}",
        m[0]
    );
    assert_eq!(m[0]["subject"], "Grüße", "{:#}", m[0]);
    assert_eq!(shown_body(&m[0]), BODY, "{:#}", m[0]);
    assert_eq!(m[0]["content_type"], "text/plain", "{:#}", m[0]);
    assert_eq!(m[0]["charset"], "utf-8", "{:#}", m[0]);
    assert_eq!(m[0]["tls"], false, "{:#}", m[0]);

    let id = m[0]["message_id"]
        .as_str()
        .expect("a Message-ID")
        .to_string();
    assert_eq!(
        first,
        SendReply::Accepted {
            message_id: Some(id.clone())
        },
        "the answer carries the Message-ID sent"
    );
    assert_eq!(m[1]["message_id"], id.as_str(), "same key, same Message-ID");
    assert_eq!(repeat, first);
    assert_ne!(m[2]["message_id"], id.as_str(), "another key, another one");
    assert_eq!(
        m[0]["client_port"], m[2]["client_port"],
        "the three sends went through one session, kept open: {m:#?}"
    );
    assert!(matches!(other, SendReply::Accepted { .. }), "{other:?}");
    assert_eq!(m[2]["subject"], "Other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_550_at_rcpt_is_recipient_invalid() {
    let Some(peer) = Peer::start(json!({"refuse": ["ghost@example.com"]})) else {
        return;
    };
    let client = configure(&plain(&peer), &Roots::none());

    let reply = send(&*client, "ghost@example.com", "att-1", &content("Hi")).await;

    assert!(
        matches!(reply, SendReply::RecipientInvalid { .. }),
        "{reply:?}"
    );
    let e = error_of(&reply);
    assert!(e.contains("550") && e.contains("no such user"), "{e}");
    let rcpts = peer.wait_rcpts(1).await;
    assert_eq!(rcpts.len(), 1, "{rcpts:#?}");
    assert!(peer.messages().is_empty(), "no data after a refused RCPT");

    // The refusal broke nothing: the next recipient goes through.
    let ok = send(&*client, "ana@example.com", "att-2", &content("Hi")).await;
    assert!(matches!(ok, SendReply::Accepted { .. }), "{ok:?}");
    assert_eq!(
        peer.wait_messages(1).await[0]["rcpt_tos"],
        json!(["ana@example.com"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_451_is_transient_and_the_next_try_is_accepted() {
    let Some(peer) = Peer::start(json!({"busy": {"bea@example.com": 1}})) else {
        return;
    };
    let client = configure(&plain(&peer), &Roots::none());

    let first = send(&*client, "bea@example.com", "att-1", &content("Hi")).await;
    assert!(matches!(first, SendReply::Transient { .. }), "{first:?}");
    let e = error_of(&first);
    assert!(e.contains("451") && e.contains("try later"), "{e}");
    assert!(peer.messages().is_empty());

    let second = send(&*client, "bea@example.com", "att-1", &content("Hi")).await;
    assert!(matches!(second, SendReply::Accepted { .. }), "{second:?}");
    assert_eq!(peer.wait_messages(1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refused_sender_is_permanent_not_the_recipients_fault() {
    let Some(peer) = Peer::start(json!({"refuse_sender": true})) else {
        return;
    };
    let client = configure(&plain(&peer), &Roots::none());

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Permanent { .. }), "{reply:?}");
    assert!(error_of(&reply).contains("553 5.1.8"), "{reply:?}");
    assert!(peer.rcpts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_with_the_test_ca() {
    let certs = Certs::new();
    let Some(peer) = Peer::start(json!({"starttls": certs.paths})) else {
        return;
    };
    let roots = Roots::from_pem(certs.ca_pem.clone().into_bytes()).expect("test CA");
    let settings =
        json!({"host": "localhost", "port": peer.port(), "tls": "starttls", "from": FROM});
    let client = configure(&settings, &roots);

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Accepted { .. }), "{reply:?}");
    let m = peer.wait_messages(1).await;
    assert_eq!(m[0]["tls"], true, "sent inside TLS: {:#}", m[0]);
    assert_eq!(shown_body(&m[0]), BODY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_required_but_not_offered_sends_nothing() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let settings =
        json!({"host": "127.0.0.1", "port": peer.port(), "tls": "starttls", "from": FROM});
    let client = configure(&settings, &Roots::none());

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(!matches!(reply, SendReply::Accepted { .. }), "{reply:?}");
    assert!(
        error_of(&reply).to_lowercase().contains("starttls"),
        "{reply:?}"
    );
    assert!(
        peer.rcpts().is_empty(),
        "no plaintext fallback: {:#?}",
        peer.events()
    );
    assert!(peer.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_untrusted_certificate_sends_nothing() {
    let certs = Certs::new();
    let Some(peer) = Peer::start(json!({"starttls": certs.paths})) else {
        return;
    };
    // The test CA is not trusted here: only the built-in roots.
    let settings =
        json!({"host": "localhost", "port": peer.port(), "tls": "starttls", "from": FROM});
    let client = configure(&settings, &Roots::none());

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(!matches!(reply, SendReply::Accepted { .. }), "{reply:?}");
    assert!(peer.rcpts().is_empty(), "{:#?}", peer.events());
    assert!(peer.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_implicit_tls_with_the_test_ca() {
    let certs = Certs::new();
    let Some(peer) = Peer::start(json!({"implicit_tls": certs.paths})) else {
        return;
    };
    let roots = Roots::from_pem(certs.ca_pem.clone().into_bytes()).expect("test CA");
    let settings = json!({"host": "localhost", "port": peer.port(), "tls": "tls", "from": FROM});
    let client = configure(&settings, &roots);

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Accepted { .. }), "{reply:?}");
    assert_eq!(
        peer.wait_messages(1).await[0]["rcpt_tos"],
        json!(["ana@example.com"])
    );
}

/// A peer with STARTTLS that requires AUTH as `salon` / [`PASSWORD`].
fn auth_peer(certs: &Certs) -> Option<Peer> {
    Peer::start(
        json!({"starttls": certs.paths, "auth": {"username": "salon", "password": PASSWORD}}),
    )
}

fn auth_settings(peer: &Peer, password: &str) -> Value {
    json!({"host": "localhost", "port": peer.port(), "tls": "starttls", "from": FROM,
           "username": "salon", "password": password})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_auth_with_the_right_password() {
    let certs = Certs::new();
    let Some(peer) = auth_peer(&certs) else {
        return;
    };
    let roots = Roots::from_pem(certs.ca_pem.clone().into_bytes()).expect("test CA");
    let client = configure(&auth_settings(&peer, PASSWORD), &roots);

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Accepted { .. }), "{reply:?}");
    let m = peer.wait_messages(1).await;
    assert_eq!(m[0]["auth_user"], "salon", "{:#}", m[0]);
    assert_eq!(m[0]["tls"], true, "{:#}", m[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_password_never_shows_in_debug_or_a_failed_auth() {
    let certs = Certs::new();
    let Some(peer) = auth_peer(&certs) else {
        return;
    };
    let roots = Roots::from_pem(certs.ca_pem.clone().into_bytes()).expect("test CA");
    let wrong = "wrong-Pa55word-also-secret";

    let parsed = settings::parse(&auth_settings(&peer, wrong)).expect("settings");
    let shown = format!("{parsed:?} {parsed:#?}");
    assert!(!shown.contains(wrong), "settings Debug: {shown}");
    let client = SmtpClient::new(parsed, roots.pem()).expect("client");
    let shown = format!("{client:?} {client:#?}");
    assert!(!shown.contains(wrong), "client Debug: {shown}");
    assert!(shown.contains("salon"), "the user name is shown: {shown}");

    let reply = send(&client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Permanent { .. }), "{reply:?}");
    let e = error_of(&reply);
    assert!(e.contains("535"), "the server's refusal is named: {e}");
    assert!(!e.contains(wrong) && !e.contains(PASSWORD), "{e}");
    assert!(!format!("{reply:?}").contains(wrong));
    assert!(peer.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_stuck_server_times_out_as_transient_and_the_session_is_not_reused() {
    let Some(peer) = Peer::start(json!({"hang": ["slow@example.com"]})) else {
        return;
    };
    let mut settings = plain(&peer);
    settings["timeout_ms"] = json!(500);
    let client = configure(&settings, &Roots::none());
    assert_eq!(client.timeout(), Duration::from_millis(500));

    let start = Instant::now();
    let reply = send(&*client, "slow@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Transient { .. }), "{reply:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "bounded by the timeout: {:?}",
        start.elapsed()
    );
    // The next message must not ride on the stuck transaction.
    let next = send(&*client, "ana@example.com", "att-2", &content("Next")).await;
    assert!(matches!(next, SendReply::Accepted { .. }), "{next:?}");
    let m = peer.wait_messages(1).await;
    assert_eq!(m[0]["rcpt_tos"], json!(["ana@example.com"]), "{m:#?}");
    assert_eq!(m[0]["subject"], "Next");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_send_dropped_half_way_leaves_no_session_behind() {
    // The worker bounds every send by the client's timeout and drops the
    // send's future when it runs out; the session it held must not carry
    // the next message.
    let Some(peer) = Peer::start(json!({"hang": ["slow@example.com"]})) else {
        return;
    };
    let client = configure(&plain(&peer), &Roots::none());
    let warm = send(&*client, "ana@example.com", "att-0", &content("Warm")).await;
    assert!(matches!(warm, SendReply::Accepted { .. }), "{warm:?}");

    let c = content("Stuck");
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        send(&*client, "slow@example.com", "att-1", &c),
    )
    .await;
    assert!(cut.is_err(), "the stuck send was cut off: {cut:?}");

    let next = send(&*client, "bea@example.com", "att-2", &content("Next")).await;
    assert!(matches!(next, SendReply::Accepted { .. }), "{next:?}");
    let m = peer.wait_messages(2).await;
    assert_eq!(m.len(), 2, "{m:#?}");
    assert_eq!(m[1]["rcpt_tos"], json!(["bea@example.com"]), "{m:#?}");
    assert_eq!(m[1]["subject"], "Next");
    assert_ne!(
        m[0]["client_port"], m[1]["client_port"],
        "a new session after the cut-off one: {m:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_unreachable_server_is_transient() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let settings = json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": FROM});
    let client = configure(&settings, &Roots::none());

    let reply = send(&*client, "ana@example.com", "att-1", &content("Hi")).await;

    assert!(matches!(reply, SendReply::Transient { .. }), "{reply:?}");
    assert!(
        error_of(&reply).contains(&format!("127.0.0.1:{port}")),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_settings_errors_name_the_field() {
    let base = json!({"host": "127.0.0.1", "from": FROM});
    let cases = [
        ("from", json!("no mailbox here"), "settings.from"),
        ("tls", json!("ssl"), "settings.tls"),
        ("colour", json!("red"), "settings.colour"),
        ("username", json!("salon"), "settings.password"),
        ("timeout_ms", json!(999_999), "settings.timeout_ms"),
    ];
    for (key, value, field) in cases {
        let mut s = base.clone();
        s[key] = value;
        match try_configure(&s, &Roots::none()) {
            Err(e) => assert_eq!(e.field, field, "{s}: {e}"),
            Ok(_) => panic!("{s} was taken"),
        }
    }
    assert!(try_configure(&base, &Roots::none()).is_ok());
    assert!(Smtp.supports(Channel::Email) && !Smtp.supports(Channel::Sms));
    assert_eq!(Smtp.secrets(), ["password"]);
}

// ---- Through the HTTP API -------------------------------------------------

use crate::helpers::{assert_error, attempts, contains_text, of_channel, outcome, spawn_app};
use reqwest::StatusCode;

/// E-mail always, SMS as the fallback; the SMS on the simulator.
async fn email_then_sms(app: &crate::helpers::TestApp, key: &str, smtp: Value) {
    app.integration(key, "email", json!({"provider": "smtp", "settings": smtp}))
        .await;
    app.integration(
        key,
        "sms",
        json!({"provider": "simulator", "settings": {"default": "delivered", "receipt_ms": 20}, "confirm": "receipt"}),
    )
    .await;
    app.put_type(
        key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"},
                            {"channel": "sms", "scenario": "fallback"}],
               "templates": {
                   "email": {"en": {"subject": "Termin um {{ time }}",
                                    "body": "Grüße, {{ name }} — {{ time }}"}},
                   "sms": {"en": {"body": "{{ name }}: {{ time }}"}}}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_e2e_refused_recipient_fails_the_email_and_the_sms_fallback_goes() {
    let Some(peer) = Peer::start(json!({"refuse": ["zoe@example.com"]})) else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    email_then_sms(&app, &key, plain(&peer)).await;
    app.put_client(
        &key,
        "zoe",
        json!({"name": "Zoë", "email": "zoe@example.com", "phone": "+15550001111"}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "zoe", "data": {"name": "Zoë", "time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(outcome(&n, "email"), "failed", "{n:#}");
    let email = attempts(&n, "email");
    assert_eq!(email.len(), 1, "{n:#}");
    assert_eq!(
        email[0]["requests"], 1,
        "refused for good, not retried: {n:#}"
    );
    let error = email[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("550") && error.contains("no such user"),
        "{n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    assert_eq!(n["status"], "delivered", "{n:#}");

    let outbox = app.outbox(&key, &id).await;
    let sms = of_channel(&outbox, "sms");
    assert_eq!(sms.len(), 1, "{outbox:#?}");
    assert_eq!(sms[0]["to"], "+15550001111", "{outbox:#?}");
    assert_eq!(sms[0]["body"], "Zoë: 10:00", "{outbox:#?}");
    assert_eq!(peer.wait_rcpts(1).await.len(), 1, "{:#?}", peer.events());
    assert!(peer.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_e2e_busy_twice_then_delivered_with_one_message_id() {
    // 451 at the end of DATA, so the peer sees every try's headers.
    let Some(peer) = Peer::start(json!({"busy": {"ana@example.com": 2}, "busy_at": "data"})) else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    email_then_sms(&app, &key, plain(&peer)).await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550002222"}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "ana", "data": {"name": "Ana", "time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    let email = attempts(&n, "email");
    assert_eq!(email.len(), 1, "{n:#}");
    assert_eq!(email[0]["requests"], 3, "two 451s, then accepted: {n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");

    let m = peer.wait_messages(3).await;
    assert_eq!(m.len(), 3, "{m:#?}");
    let replies: Vec<&str> = m.iter().map(|x| x["reply"].as_str().unwrap()).collect();
    assert_eq!(
        replies,
        ["451 4.3.0 try later", "451 4.3.0 try later", "250 OK"],
        "{m:#?}"
    );
    let id0 = m[0]["message_id"].as_str().expect("a Message-ID");
    assert!(
        m.iter().all(|x| x["message_id"] == id0),
        "one Message-ID across the tries: {m:#?}"
    );
    assert_eq!(m[2]["subject"], "Termin um 10:00");
    assert_eq!(shown_body(&m[2]), "Grüße, Ana — 10:00");
    assert_eq!(m[2]["from"], FROM);
    assert!(app.outbox(&key, &id).await.is_empty(), "no SMS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_e2e_the_password_is_set_never_shown_and_bad_settings_are_named() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    let settings = json!({"host": "smtp.salon.example", "port": 2525, "tls": "starttls",
                          "username": "salon", "password": PASSWORD, "from": FROM,
                          "reply_to": "desk@salon.example", "timeout_ms": 5000});

    let (status, put) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "smtp", "settings": settings}),
        )
        .await;
    assert!(status.is_success(), "{status} {put}");
    assert!(!contains_text(&put, PASSWORD), "PUT answer: {put}");

    let (status, got) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["provider"], "smtp", "{got}");
    assert_eq!(got["settings"]["password"], "set", "{got}");
    assert_eq!(got["settings"]["username"], "salon", "{got}");
    assert_eq!(got["settings"]["host"], "smtp.salon.example", "{got}");
    assert!(!contains_text(&got, PASSWORD), "GET: {got}");

    for (field, value, named) in [
        ("from", json!("nobody"), "settings.from"),
        ("tls", json!("ssl"), "settings.tls"),
        ("colour", json!("red"), "settings.colour"),
    ] {
        let mut bad = settings.clone();
        bad[field] = value;
        let (status, body) = app
            .put(
                "/v1/integrations/email",
                &key,
                &json!({"provider": "smtp", "settings": bad}),
            )
            .await;
        assert_error(
            &format!("PUT smtp with a bad {field}"),
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(named),
        );
        assert!(!contains_text(&body, PASSWORD), "{body}");
    }
}
