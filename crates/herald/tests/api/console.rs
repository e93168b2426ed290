//! The browser console at `/`: served as HTML, and, in a real headless
//! Chromium, it shows the tenant's log and a notification's cascade as the
//! API reports them.

use crate::helpers::{seed_data, spawn_app};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_page_is_served_at_the_root() {
    let app = spawn_app().await;
    let resp = reqwest::get(format!("{}/", app.base)).await.expect("GET /");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = resp.text().await.expect("body");
    assert!(page.contains("/v1/notifications"), "{page}");
}

/// Chromium from `HERALD_CHROMIUM` or Debian's package; `.ci/run` installs it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("HERALD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_log_and_a_cascade_in_a_real_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (.ci/run installs it)"
        );
        eprintln!("\n*** SKIPPED the_console_shows_the_log_and_a_cascade_in_a_real_browser: no Chromium at /usr/bin/chromium (apt-get install chromium, or set HERALD_CHROMIUM) ***\n");
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(&key, "ana", json!({"name": "Ana", "phone": "+15550001111"}))
        .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
        )
        .await;
    app.wait_final(&key, &id).await;

    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("{}/#key={key}&n={id}", app.base);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finishes")
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    // The log row, the cascade's reasons, and the SMS attempt with its receipt.
    for want in [
        "client ana",
        "unreachable: client has no e-mail address",
        "unreachable: client has no branded app installed",
        "delivered: delivery receipt",
        "+15550001111 via sms: delivered",
        "receipt delivered",
    ] {
        assert!(dom.contains(want), "{want:?} not in the page:\n{dom}");
    }
    // The key left the address bar and never reached the DOM.
    assert!(!dom.contains(&key), "the API key is in the page");
}
