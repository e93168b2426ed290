//! The `herald` command line, end to end: `tenants create` writes a tenant
//! the server then accepts, `send --wait` triggers and prints the finished
//! cascade, `show` prints the timeline, and errors reach the user.

use crate::crash::Herald;
use serde_json::json;
use std::process::Output;

async fn herald(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env_remove("HERALD_API_KEY")
        .env_remove("HERALD_URL")
        .env_remove("HERALD_DATABASE_URL")
        .output()
        .await
        .expect("herald runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_create_send_and_show_work_against_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("herald.db").display());

    let created = herald(&["tenants", "create", "Salon CLI", "--database-url", &db]).await;
    assert!(created.status.success(), "{created:?}");
    let out = stdout(&created);
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .unwrap_or_else(|| panic!("no API key in {out:?}"))
        .trim()
        .to_string();
    assert!(key.starts_with("hk_"), "{key}");

    let server = Herald::start(dir.path(), 0).await;
    let api = &server.api;
    api.simulator(&key, "email", json!({})).await;
    api.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"}],
               "templates": {"email": {"en": {"subject": "At {{ time }}", "body": "Hi"}}}}),
    )
    .await;
    api.put_client(&key, "ana", json!({"email": "ana@example.com"}))
        .await;

    let url = api.base.clone();
    let sent = herald(&[
        "send",
        "--type",
        "reminder",
        "--client",
        "ana",
        "--data",
        r#"{"time": "10:00"}"#,
        "--wait",
        "--url",
        &url,
        "--api-key",
        &key,
    ])
    .await;
    assert!(sent.status.success(), "{sent:?}");
    let out = stdout(&sent);
    let id = out.lines().next().unwrap_or_default().trim().to_string();
    assert_eq!(id.len(), 36, "first line is the id: {out}");
    assert!(out.contains("DELIVERED"), "{out}");
    assert!(
        out.contains("ana@example.com via email: delivered"),
        "{out}"
    );

    let shown = herald(&["show", &id, "--url", &url, "--api-key", &key]).await;
    assert!(shown.status.success(), "{shown:?}");
    let out = stdout(&shown);
    assert!(out.contains("reminder"), "{out}");
    assert!(
        out.contains("email") && out.contains("delivered: accepted by the provider"),
        "{out}"
    );

    let missing = herald(&[
        "show",
        "00000000-0000-7000-8000-000000000000",
        "--url",
        &url,
        "--api-key",
        &key,
    ])
    .await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{missing:?}"
    );

    let bad = herald(&[
        "send",
        "--type",
        "reminder",
        "--client",
        "ana",
        "--data",
        "[1]",
        "--url",
        &url,
        "--api-key",
        &key,
    ])
    .await;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("JSON object"),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_explains_the_commands() {
    let help = herald(&["--help"]).await;
    assert!(help.status.success());
    let out = stdout(&help);
    for cmd in ["serve", "tenants", "send", "show"] {
        assert!(out.contains(cmd), "{cmd} missing from --help: {out}");
    }
    let serve = stdout(&herald(&["serve", "--help"]).await);
    for word in ["HERALD_LISTEN", "HERALD_DATABASE_URL", "HERALD_ADMIN_TOKEN"] {
        assert!(
            serve.contains(word),
            "{word} missing from serve --help: {serve}"
        );
    }
}
