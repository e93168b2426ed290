//! The `herald` command line, end to end: `tenants create` writes a tenant
//! the server then accepts, `send --wait` triggers and prints the finished
//! cascade, `show` prints the timeline, `bench` hands over to herald-bench,
//! and errors reach the user.

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
    for cmd in [
        "serve", "worker", "migrate", "tenants", "send", "show", "bench",
    ] {
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

/// A directory holding a copy of `herald`, where `herald bench` looks for
/// `herald-bench` beside it.
fn herald_alone() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let herald = dir.path().join("herald");
    std::fs::copy(env!("CARGO_BIN_EXE_herald"), &herald).expect("copy herald");
    (dir, herald)
}

async fn run(program: &std::path::Path, args: &[&str]) -> Output {
    tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_without_herald_bench_beside_it_says_how_to_build_it() {
    let (_dir, herald) = herald_alone();
    let out = run(&herald, &["bench", "--duration", "1"]).await;
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("herald-bench"), "{err}");
    assert!(
        err.contains("cargo build --release -p herald -p herald-bench"),
        "{err}"
    );
}

/// `herald bench` starts the `herald-bench` beside it with every argument
/// and, unless `--herald` is given, this `herald` as the one to measure;
/// its failure is the command's. The stand-in writes down its arguments.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_hands_its_arguments_to_herald_bench_with_this_herald() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, herald) = herald_alone();
    let seen = dir.path().join("args");
    let stand_in = dir.path().join("herald-bench");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nfor a in \"$@\"; do [ \"$a\" = --fail ] && exit 3; done\nexit 0\n",
            seen.display()
        ),
    )
    .expect("write the stand-in");
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Another test's process may be forked, holding the file open for
    // writing until it execs (ETXTBSY): wait until the stand-in runs.
    for _ in 0..100 {
        match std::process::Command::new(&stand_in).status() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => break,
        }
    }
    let args = |o: &Output| {
        assert!(o.status.success(), "{o:?}");
        std::fs::read_to_string(&seen).expect("the stand-in ran")
    };

    let out = run(
        &herald,
        &[
            "bench",
            "--database-url",
            "postgres://x/y",
            "--workers",
            "0,1",
        ],
    )
    .await;
    assert_eq!(
        args(&out),
        format!(
            "--herald\n{}\n--database-url\npostgres://x/y\n--workers\n0,1\n",
            herald.display()
        )
    );
    // --help is herald-bench's, not herald's.
    let out = run(&herald, &["bench", "--help"]).await;
    assert_eq!(
        args(&out),
        format!("--herald\n{}\n--help\n", herald.display())
    );
    // A --herald of the caller's is left alone.
    let out = run(
        &herald,
        &["bench", "--herald=/opt/herald", "--duration", "5"],
    )
    .await;
    assert_eq!(args(&out), "--herald=/opt/herald\n--duration\n5\n");

    let failed = run(&herald, &["bench", "--fail"]).await;
    assert!(!failed.status.success(), "{failed:?}");
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("herald-bench failed"),
        "{failed:?}"
    );
}
