//! Tests of the dispatcher's pure parts: classifying answers, timeouts.

use super::send::{admitted, pace};
use super::*;
use crate::providers::{Client, SendReply, SendRequest};
use herald_core::{Audience, Channel, Rendered};
use herald_store::SendOutcome;
use std::time::Instant;

fn claimed(requests: u32, deadline: Millis) -> ClaimedAttempt {
    ClaimedAttempt {
        id: "a".into(),
        notification_id: "n".into(),
        tenant_id: "t".into(),
        audience: Audience::Client,
        recipient_id: "c".into(),
        channel: Channel::Sms,
        route: "sms".into(),
        to: "+15550001111".into(),
        idempotency_key: "k".into(),
        content: Rendered::default(),
        requests,
        created_at: 0,
        deadline,
        via_hook: Some("h".into()),
        fallback: false,
        deliver_before: None,
    }
}

#[test]
fn transient_error_is_retried_inside_the_window() {
    let reply = SendReply::Transient {
        error: "503".into(),
        retry_after_ms: None,
    };
    assert_eq!(
        classify(&reply, &claimed(1, 10_000), 0, 0.0),
        SendOutcome::Retry {
            error: "503".into(),
            next_try_at: 1_000
        }
    );
    assert_eq!(
        classify(&reply, &claimed(3, 10_000), 0, 0.0),
        SendOutcome::Retry {
            error: "503".into(),
            next_try_at: 4_000
        }
    );
}

#[test]
fn transient_error_past_the_window_gives_up() {
    let reply = SendReply::Transient {
        error: "429".into(),
        retry_after_ms: Some(20_000),
    };
    assert!(matches!(
        classify(&reply, &claimed(1, 10_000), 0, 0.0),
        SendOutcome::GaveUp { .. }
    ));
}

/// A provider that never answers.
struct Hung;

#[async_trait::async_trait]
impl Client for Hung {
    async fn send(&self, _req: &SendRequest<'_>) -> SendReply {
        std::future::pending().await
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_provider_is_cut_off_at_its_timeout_and_never_past_the_limit() {
    let content = Rendered::default();
    let req = SendRequest {
        tenant_id: "t",
        notification_id: "n",
        channel: Channel::Email,
        route: "email",
        to: "a@example.com",
        content: &content,
        idempotency_key: "k",
        deadline: 0,
        deliver_before: None,
        now: 0,
    };
    let start = tokio::time::Instant::now();
    let reply = send_bounded(&Hung, &req, Duration::from_secs(60)).await;
    assert!(matches!(reply, SendReply::Transient { .. }), "{reply:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    let start = tokio::time::Instant::now();
    send_bounded(&Hung, &req, Duration::from_secs(2)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[test]
fn leases_outlast_every_send() {
    let cfg = WorkerConfig::default();
    assert!(MAX_SEND.as_millis() < cfg.lease_ms as u128);
}

#[test]
fn dead_token_is_refused_as_unreachable() {
    let reply = SendReply::RecipientInvalid {
        error: "gone".into(),
    };
    assert_eq!(
        classify(&reply, &claimed(1, 10_000), 0, 0.0),
        SendOutcome::Refused {
            error: "gone".into(),
            unreachable: true
        }
    );
}

#[test]
fn a_throttled_message_is_retried_like_a_transient_one() {
    let reply = SendReply::Throttled {
        error: "429".into(),
        retry_after_ms: Some(3_000),
    };
    assert_eq!(
        classify(&reply, &claimed(1, 10_000), 0, 0.0),
        SendOutcome::Retry {
            error: "429".into(),
            next_try_at: 3_000
        }
    );
}

#[test]
fn throttling_slows_the_integration_a_5xx_or_timeout_does_not() {
    let limiter = Limiter::default();
    let t0 = Instant::now();
    let transient = SendReply::Transient {
        error: "503".into(),
        retry_after_ms: Some(60_000),
    };
    for _ in 0..10 {
        pace(&limiter, "h", None, t0, &transient, t0);
    }
    assert_eq!(limiter.try_admit("h", None, t0), Ok(()), "a 5xx");
    let throttled = SendReply::Throttled {
        error: "429".into(),
        retry_after_ms: Some(2_000),
    };
    pace(&limiter, "h", None, t0, &throttled, t0);
    let wait = limiter.try_admit("h", None, t0).unwrap_err();
    assert_eq!(wait.until - t0, Duration::from_secs(2));
    assert!(wait.slowed);
    // Accepted sends let it recover (here: to unpaced, and forgotten).
    let later = t0 + Duration::from_secs(3);
    let accepted = SendReply::Accepted { message_id: None };
    let mut now = later;
    let mut sent = 0;
    while sent < 40 {
        match limiter.try_admit("h", None, now) {
            Ok(()) => {
                pace(&limiter, "h", None, now, &accepted, now);
                sent += 1;
            }
            Err(w) => now = w.until,
        }
    }
    assert_eq!(limiter.try_admit("h", None, now), Ok(()));
    assert_eq!(limiter.try_admit("h", None, now), Ok(()), "unpaced again");
}

#[tokio::test(start_paused = true)]
async fn a_send_waits_for_its_pace_and_a_wait_past_the_limit_is_a_retry() {
    let limiter = Limiter::default();
    let t0 = Instant::now();
    let throttled = SendReply::Throttled {
        error: "429".into(),
        retry_after_ms: Some(2_000),
    };
    pace(&limiter, "h", None, t0, &throttled, t0);
    let start = tokio::time::Instant::now();
    assert!(admitted(
        &crate::clock::SystemClock,
        &limiter,
        "h",
        None,
        Duration::from_secs(60)
    )
    .await
    .is_ok());
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    pace(
        &limiter,
        "h",
        None,
        Instant::now(),
        &throttled,
        Instant::now(),
    );
    let r = admitted(
        &crate::clock::SystemClock,
        &limiter,
        "h",
        None,
        Duration::from_secs(1),
    )
    .await;
    assert!(
        matches!(&r, Err(SendOutcome::Retry { error, .. }) if error.contains("slower")),
        "{r:?}"
    );
}
