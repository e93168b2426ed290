//! The business's console at `/`: sign-in, sessions and CSRF over plain
//! HTTP, then the whole console in a real headless Chromium
//! (`tests/browser/console_browser.py`, Playwright driving Debian's
//! Chromium), which also makes the README's screenshots.
//!
//! Without Chromium or the `playwright` Python package the browser test
//! says SKIPPED and passes, except under CI (`CI` set), where it fails:
//! `.ci/run` installs both.

use crate::helpers::{seed_data, spawn_app, spawn_app_with, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A client that does not follow redirects, so they can be checked.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client")
}

/// A cookie's `name=value` from a response's `Set-Cookie` headers.
fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let text = v.to_str().ok()?.to_string();
        let value = text
            .strip_prefix(&format!("{name}="))?
            .split(';')
            .next()?
            .to_string();
        Some((value, text))
    })
}

/// The value of a hidden `csrf` field in a page.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + 64].to_string()
}

/// Signs in through the form; returns the session cookie and its CSRF.
async fn sign_in(app: &TestApp, key: &str) -> (String, String) {
    let c = http();
    let login = c
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(login.status(), StatusCode::OK);
    let (pre, _) = cookie_of(&login, "herald_login").expect("a login cookie");
    let page = login.text().await.expect("body");
    assert!(page.contains(">API key</label>"), "{page}");
    let token = csrf_in(&page);
    let resp = c
        .post(format!("{}/login", app.base))
        .header(COOKIE, format!("herald_login={pre}"))
        .form(&[("csrf", token.as_str()), ("api_key", key)])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (session, attrs) = cookie_of(&resp, "herald_session").expect("a session cookie");
    assert_eq!(session.len(), 64, "256 random bits");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
        "{attrs}"
    );
    // Served over http here: not `Secure`, or the browser would drop it.
    assert!(!attrs.contains("Secure"), "{attrs}");
    let home = c
        .get(format!("{}/", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(home.status(), StatusCode::OK);
    let page = home.text().await.expect("body");
    (session, csrf_in(&page))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sessions_csrf_and_sign_out() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let c = http();

    // Signed out: every page leads to the sign-in form.
    for path in ["/", "/types", "/log", "/integrations", "/clients/ana"] {
        let resp = c
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(resp.headers()[LOCATION], "/login", "{path}");
    }

    // A login form posted without its token is refused, even with the key.
    let resp = c
        .post(format!("{}/login", app.base))
        .form(&[("api_key", key.as_str())])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(cookie_of(&resp, "herald_session").is_none());

    let (session, csrf) = sign_in(&app, &key).await;
    let with = |rb: reqwest::RequestBuilder| rb.header(COOKIE, format!("herald_session={session}"));

    // A form without the session's token changes nothing.
    app.put_client(&key, "ana", json!({"name": "Ana"})).await;
    for token in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let resp = with(c.post(format!("{}/clients/ana/delete", app.base)))
            .form(&[("csrf", token)])
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let (status, _) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(status, StatusCode::OK, "the client is still there");
    // With it, the form works.
    let resp = with(c.post(format!("{}/clients/ana/delete", app.base)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Sign-out ends the session on the server: the old cookie is worthless.
    let resp = with(c.post(format!("{}/logout", app.base)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = with(c.get(format!("{}/", app.base)))
        .send()
        .await
        .expect("GET /");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookies_are_secure() {
    let app = spawn_app_with(|cfg| cfg.public_url = Some("https://herald.example".into())).await;
    let key = app.create_tenant("Salon").await.api_key;
    let c = http();
    let login = c
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("GET /login");
    let (pre, attrs) = cookie_of(&login, "herald_login").expect("a login cookie");
    assert!(attrs.contains("; Secure"), "{attrs}");
    let token = csrf_in(&login.text().await.expect("body"));
    let resp = c
        .post(format!("{}/login", app.base))
        .header(COOKIE, format!("herald_login={pre}"))
        .form(&[("csrf", token.as_str()), ("api_key", key.as_str())])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, attrs) = cookie_of(&resp, "herald_session").expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(attrs.contains(part), "{attrs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rule_is_shown_next_to_its_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let (session, csrf) = sign_in(&app, &key).await;
    let resp = http()
        .post(format!("{}/types/reminder", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("audience", "client"),
            ("scenario.email", "off"),
            ("scenario.aunio", "off"),
            ("scenario.branded_app", "fallback"),
            ("scenario.sms", "off"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.expect("body");
    // The branded app's select is marked and described by the message.
    assert!(
        page.contains("name=\"scenario.branded_app\" aria-invalid=\"true\" aria-describedby=\"error-branded_app\""),
        "{page}"
    );
    assert!(
        page.contains(
            "id=\"error-branded_app\" role=\"alert\">the first enabled channel cannot be fallback"
        ),
        "{page}"
    );
    let (status, _) = app.get("/v1/notification-types/reminder", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing saved");

    // A template that does not parse: the message sits under its text box.
    let resp = http()
        .post(format!("{}/types/reminder", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("audience", "client"),
            ("scenario.sms", "always"),
            ("locales", "en"),
            ("tpl.sms.en.body", "Hi {{ client_name"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.expect("body");
    assert!(
        page.contains("name=\"tpl.sms.en.body\" rows=\"3\" aria-invalid=\"true\" aria-describedby=\"tpl-sms-en-body-error\""),
        "{page}"
    );
    assert!(page.contains("id=\"tpl-sms-en-body-error\""), "{page}");
    // What was typed is kept, so nothing has to be typed again.
    assert!(page.contains(">Hi {{ client_name</textarea>"), "{page}");
    let (status, _) = app.get("/v1/notification-types/reminder", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing saved");
}

/// A console page's body, signed in.
async fn page(app: &TestApp, session: &str, path: &str) -> String {
    let resp = http()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.expect("body")
}

/// The log's filters are applied by the store: what was sent over SMS, to
/// whom, and paging through the older ones all come from one query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filters_by_channel_and_recipient() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "reminder").await;
    // Ana has a phone only (the SMS fallback goes); Bob an e-mail too.
    app.put_client(&key, "ana", json!({"phone": "+15550001111"}))
        .await;
    app.put_client(&key, "bob", json!({"email": "bob@example.com"}))
        .await;
    let mut ids = Vec::new();
    for who in ["ana", "bob", "bob"] {
        let id = app
            .trigger(
                &key,
                json!({"type": "reminder", "client": who, "data": seed_data()}),
            )
            .await;
        app.wait_final(&key, &id).await;
        ids.push(id);
    }
    let (session, _) = sign_in(&app, &key).await;
    // The page escapes the slashes of its links: look for the row's id.
    let link = |id: &str| id.to_string();

    let sms = page(&app, &session, "/log?channel=sms").await;
    assert!(sms.contains(&link(&ids[0])), "{sms}");
    assert!(
        !sms.contains(&link(&ids[1])) && !sms.contains(&link(&ids[2])),
        "{sms}"
    );

    let bob = page(&app, &session, "/log?recipient=BO").await;
    assert!(
        bob.contains(&link(&ids[1])) && bob.contains(&link(&ids[2])),
        "{bob}"
    );
    assert!(!bob.contains(&link(&ids[0])), "{bob}");

    let none = page(&app, &session, "/log?channel=sms&recipient=bob").await;
    assert!(none.contains("No notifications match."), "{none}");

    // Older ones are one link away, with the filters kept.
    let first = page(
        &app,
        &session,
        &format!("/log?recipient=bob&before={}", ids[2]),
    )
    .await;
    assert!(
        first.contains(&link(&ids[1])) && !first.contains(&link(&ids[2])),
        "{first}"
    );
}

/// The type editor's preview follows the fields as posted, before they
/// are saved, and a broken draft shows the rule it breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_follows_unsaved_edits() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "reminder").await;
    app.put_client(&key, "ana", json!({"phone": "+15550001111"}))
        .await;
    let (session, csrf) = sign_in(&app, &key).await;
    let preview = |fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("preview_recipient", "ana".to_string()),
            (
                "preview_data",
                r#"{"client_name": "Ana", "time": "10:00"}"#.to_string(),
            ),
        ];
        form.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        let session = session.clone();
        let base = app.base.clone();
        async move {
            let resp = http()
                .post(format!("{base}/types/reminder/preview"))
                .header(COOKIE, format!("herald_session={session}"))
                .header("X-Herald-Fragment", "1")
                .form(&form)
                .send()
                .await
                .expect("POST preview");
            assert_eq!(resp.status(), StatusCode::OK);
            resp.text().await.expect("body")
        }
    };
    // Only the preview's fields: the saved type.
    let saved = preview(vec![]).await;
    assert!(saved.contains("Ana: appointment at 10:00"), "{saved}");
    // With the editor's fields: the draft, SMS always and a new text.
    let draft = preview(vec![
        ("audience", "client"),
        ("scenario.sms", "always"),
        ("locales", "en"),
        ("tpl.sms.en.body", "{{ client_name }}: moved to {{ time }}"),
    ])
    .await;
    assert!(draft.contains("Ana: moved to 10:00"), "{draft}");
    let (_, stored) = app.get("/v1/notification-types/reminder", &key).await;
    assert!(
        !stored.to_string().contains("moved"),
        "nothing saved: {stored}"
    );
    // A draft that breaks a rule says so, as a save would.
    let broken = preview(vec![("audience", "client"), ("scenario.sms", "fallback")]).await;
    assert!(broken.contains("cannot be fallback"), "{broken}");
}

/// The type form has no fields for quiet hours and `critical`: saving it
/// keeps them as stored. The timeline shows a reminder's schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_keeps_quiet_hours_and_shows_a_schedule() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "reminder",
        serde_json::json!({"audience": "client",
            "channels": [{"channel": "email", "scenario": "always"}, {"channel": "sms", "scenario": "fallback"}],
            "quiet_hours": {"from": "21:00", "until": "08:00", "channels": ["sms"], "mode": "defer"},
            "critical": true}),
    )
    .await;
    let (session, csrf) = sign_in(&app, &key).await;
    let resp = http()
        .post(format!("{}/types/reminder", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("audience", "client"),
            ("scenario.email", "always"),
            ("scenario.sms", "off"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (status, t) = app.get("/v1/notification-types/reminder", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        t["channels"].as_array().map(Vec::len),
        Some(1),
        "the form's change is saved (the SMS is off): {t}"
    );
    assert_eq!(t["quiet_hours"]["until"], "08:00", "quiet hours kept: {t}");
    assert_eq!(t["critical"], true, "critical kept: {t}");

    app.put_client(&key, "c1", serde_json::json!({"email": "ana@example.com"}))
        .await;
    let (status, v) = app
        .post(
            "/v1/notifications",
            &key,
            &serde_json::json!({"type": "reminder", "client": "c1",
                "booking": {"id": "bk-9", "starts_at": "2099-01-02T10:00:00Z"},
                "send_before_start": "24h"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let page = http()
        .get(format!("{}/log/{id}", app.base))
        .header(COOKIE, format!("herald_session={session}"))
        .send()
        .await
        .expect("GET timeline")
        .text()
        .await
        .expect("body");
    assert!(page.contains("<strong>scheduled</strong>"), "{page}");
    assert!(page.contains("bk-9"), "{page}");
    assert!(page.contains("planned to start"), "{page}");
}

/// Chromium from `HERALD_CHROMIUM` or Debian's package.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("HERALD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.exists().then_some(path)
}

/// A Python with Playwright: `HERALD_PEER_PYTHON`, else `python3`.
fn playwright_python() -> Option<String> {
    let candidates = std::env::var("HERALD_PEER_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .into_iter()
        .chain(["python3".to_string()]);
    for python in candidates {
        let ok = std::process::Command::new(&python)
            .args(["-c", "import playwright.sync_api"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let (Some(browser), Some(python)) = (chromium(), playwright_python()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium and the playwright Python package (.ci/run installs both)"
        );
        eprintln!(
            "\n*** SKIPPED the_console_in_a_real_browser: needs /usr/bin/chromium (apt-get install chromium) \
             and a Python with playwright (pip install playwright; HERALD_PEER_PYTHON) ***\n"
        );
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.simulators_everywhere(&key).await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = manifest.join("../../docs/screenshots");
    std::fs::create_dir_all(&shots).expect("docs/screenshots");
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(&python)
            .arg(manifest.join("tests/browser/console_browser.py"))
            .env("HERALD_BASE", &app.base)
            .env("HERALD_KEY", &key)
            .env("HERALD_CHROMIUM", &browser)
            .env("HERALD_SCREENSHOTS", &shots)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser test finishes within 4 minutes")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // What the browser made, as the API sees it.
    let id = report["notification"].as_str().expect("an id");
    let n = app.wait_final(&key, id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    let outcomes: Vec<&str> = n["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes,
        ["unreachable", "unreachable", "unreachable", "delivered"],
        "{n:#}"
    );
    let (_, admin) = app.get("/v1/integrations/admin_app", &key).await;
    assert_eq!(admin["provider"], "webhook", "{admin}");
    assert_eq!(admin["settings"]["secret"], "set", "{admin}");
    for name in [
        "login",
        "overview",
        "types",
        "type",
        "type-rule-broken",
        "integrations",
        "clients",
        "client",
        "staff",
        "log",
        "timeline",
        "dry-run",
        "timeline-phone",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}"
        );
    }
}
