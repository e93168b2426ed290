//! Provider secrets through the real binary: sealed in the database file,
//! never in a GET, a log line (at debug level) or an error; the key file is
//! made once with mode 0600 and opens the secrets again after a restart.

use crate::helpers::{Api, ADMIN_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A `herald serve` process (killed when dropped).
pub(crate) struct Serve {
    pub(crate) child: tokio::process::Child,
    pub(crate) api: Api,
}

/// Starts `herald serve` over `dir/herald.db`, logging to `log`.
pub(crate) async fn serve(dir: &Path, log: &Path) -> Serve {
    let stderr = std::fs::File::create(log).expect("a log file");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("serve")
        .current_dir(dir)
        .env("HERALD_LISTEN", "127.0.0.1:0")
        .env(
            "HERALD_DATABASE_URL",
            format!("sqlite://{}", dir.join("herald.db").display()),
        )
        .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("HERALD_SECRET_KEY")
        .env("HERALD_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .expect("herald serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return rest.split_whitespace().next().map(str::to_string);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("herald prints its address");
    // Keep reading: a closed pipe would make the server's next line fail.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Serve {
        child,
        api: Api::new(format!("http://{addr}")),
    }
}

fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_at_rest_and_never_shown_or_logged() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let log1 = dir.path().join("serve-1.log");
    let mut s = serve(dir.path(), &log1).await;
    let key = s.api.create_tenant("Salon").await.api_key;
    let password = format!("pw-{}", uuid::Uuid::now_v7().simple());
    let hook_secret = format!("whsec-{}", uuid::Uuid::now_v7().simple());
    // Nothing listens on port 9 of loopback: every send fails, so errors
    // are made, recorded and logged.
    let smtp = json!({"provider": "smtp", "settings": {
        "host": "127.0.0.1", "port": 9, "tls": "none", "username": "salon",
        "password": password, "from": "Salon One <no-reply@salon.example>", "timeout_ms": 2000}});
    let hook = json!({"provider": "webhook", "settings": {
        "url": "http://127.0.0.1:9/herald", "secret": hook_secret, "timeout_ms": 2000}});
    // Push keys made now; a line from the middle of each PEM must never show.
    let rsa_pem = {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .expect("an RSA key")
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 PEM")
            .to_string()
    };
    let ec_pem = rcgen::KeyPair::generate()
        .expect("a P-256 key")
        .serialize_pem();
    let middle = |pem: &str| {
        let lines: Vec<&str> = pem.lines().collect();
        lines[lines.len() / 2].to_string()
    };
    let (rsa_line, ec_line) = (middle(&rsa_pem), middle(&ec_pem));
    let fcm = json!({"provider": "fcm", "settings": {
        "service_account": {"type": "service_account", "project_id": "salon-one",
            "client_email": "herald@salon-one.iam.gserviceaccount.com",
            "private_key": rsa_pem, "token_uri": "http://127.0.0.1:9/token"},
        "base_url": "http://127.0.0.1:9", "timeout_ms": 2000}});
    let apns = json!({"provider": "apns", "confirm": "accepted", "settings": {
        "key_p8": ec_pem, "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ",
        "topic": "com.salonone.app", "base_url": "https://127.0.0.1:9", "timeout_ms": 2000}});
    let twilio_token = format!("twtok{}", uuid::Uuid::now_v7().simple());
    let wa_token = format!("EAAG{}", uuid::Uuid::now_v7().simple());
    let wa_app_secret = format!("appsec{}", uuid::Uuid::now_v7().simple());
    let wa_verify = format!("verify{}", uuid::Uuid::now_v7().simple());
    // SMPP passwords are at most 8 characters.
    let smpp_password = format!("p{}", &uuid::Uuid::now_v7().simple().to_string()[25..32]);
    let secrets = [
        password.clone(),
        hook_secret.clone(),
        rsa_line.clone(),
        ec_line.clone(),
        twilio_token.clone(),
        wa_token.clone(),
        wa_app_secret.clone(),
        wa_verify.clone(),
        smpp_password.clone(),
    ];
    let shows_a_secret = |text: &str| secrets.iter().any(|s| text.contains(s.as_str()));
    for (channel, body) in [
        ("email", &smtp),
        ("sms", &hook),
        ("aunio", &fcm),
        ("branded_app", &apns),
    ] {
        let (status, got) = s
            .api
            .put(&format!("/v1/integrations/{channel}"), &key, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{channel}: {got}");
        assert!(!shows_a_secret(&got.to_string()), "{got}");
    }
    let (_, all) = s.api.get("/v1/integrations", &key).await;
    assert!(!shows_a_secret(&all.to_string()), "{all}");
    for (channel, field) in [
        ("email", "password"),
        ("sms", "secret"),
        ("aunio", "service_account"),
        ("branded_app", "key_p8"),
    ] {
        let (_, got) = s
            .api
            .get(&format!("/v1/integrations/{channel}"), &key)
            .await;
        assert_eq!(got["settings"][field], "set", "{got}");
    }
    for (channel, field) in [
        ("email", "password"),
        ("sms", "secret"),
        ("aunio", "service_account"),
        ("branded_app", "key_p8"),
    ] {
        let (_, got) = s
            .api
            .get(&format!("/v1/integrations/{channel}"), &key)
            .await;
        assert_eq!(got["settings"][field], "set", "{got}");
    }

    s.api
        .put_type(
            &key,
            "t",
            json!({"audience": "client", "channels": [
                {"channel": "email", "scenario": "always"},
                {"channel": "aunio", "scenario": "always"},
                {"channel": "branded_app", "scenario": "always"},
                {"channel": "sms", "scenario": "always"}]}),
        )
        .await;
    s.api
        .put_client(
            &key,
            "ana",
            json!({"email": "ana@example.com", "phone": "+15550001111", "apps": [
                {"app": "aunio", "token": "fcm-token-ana", "platform": "android"},
                {"app": "branded_app", "token": "a1b2c3d4e5f6", "platform": "ios"}]}),
        )
        .await;
    let id = s
        .api
        .trigger(&key, json!({"type": "t", "client": "ana"}))
        .await;
    // Wait until both channels have recorded an error.
    let start = Instant::now();
    let n: Value = loop {
        let n = s.api.notification(&key, &id).await;
        let errors = n["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["attempts"][0]["error"].is_string())
            .count();
        if errors == 4 {
            break n;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{n:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!shows_a_secret(&n.to_string()), "{n:#}");
    for (channel, to) in [
        ("email", "ana@example.com"),
        ("sms", "+15550001111"),
        ("aunio", "fcm-token-ana"),
        ("branded_app", "a1b2c3d4e5f6"),
    ] {
        let (status, got) = s
            .api
            .post(
                &format!("/v1/integrations/{channel}/test"),
                &key,
                &json!({ "to": to }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["result"], "transient", "{channel}: {got}");
        assert!(!shows_a_secret(&got.to_string()), "{got}");
    }

    // The SMS providers, one after the other on the sms channel.
    let twilio = json!({"provider": "twilio", "settings": {
        "account_sid": format!("AC{}", "0".repeat(32)), "auth_token": twilio_token,
        "from": "+15550009999", "base_url": "http://127.0.0.1:9", "timeout_ms": 2000}});
    let whatsapp = json!({"provider": "whatsapp", "settings": {
        "phone_number_id": "1234567890", "access_token": wa_token, "app_secret": wa_app_secret,
        "verify_token": wa_verify, "base_url": "http://127.0.0.1:9", "timeout_ms": 2000}});
    let smpp = json!({"provider": "smpp", "settings": {
        "host": "127.0.0.1", "port": 9, "system_id": "salon1", "password": smpp_password,
        "source_addr": "SalonOne", "timeout_ms": 2000}});
    for body in [&twilio, &whatsapp, &smpp] {
        let (status, got) = s.api.put("/v1/integrations/sms", &key, body).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert!(!shows_a_secret(&got.to_string()), "{got}");
        let (status, got) = s
            .api
            .post(
                "/v1/integrations/sms/test",
                &key,
                &json!({"to": "+15550001111"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["result"], "transient", "{body}: {got}");
        assert!(!shows_a_secret(&got.to_string()), "{got}");
    }

    // Sealed at rest: neither the database nor its WAL holds the secrets.
    for f in ["herald.db", "herald.db-wal"] {
        let path = dir.path().join(f);
        for secret in &secrets {
            assert!(!file_contains(&path, secret), "{f} holds a secret");
        }
    }
    let key_file = dir.path().join("herald.db.secret-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("the key file was made")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sealed_key = std::fs::read_to_string(&key_file).unwrap();

    // After a restart the same key opens the secrets: sends still reach
    // the (closed) port instead of failing as unreadable.
    s.child.kill().await.ok();
    let log2 = dir.path().join("serve-2.log");
    let s = serve(dir.path(), &log2).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), sealed_key);
    let (_, got) = s
        .api
        .post(
            "/v1/integrations/email/test",
            &key,
            &json!({"to": "ana@example.com"}),
        )
        .await;
    assert_eq!(got["result"], "transient", "{got}");

    for log in [&log1, &log2] {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(!shows_a_secret(&text), "the log holds a secret");
    }
}
