//! Tests of the dispatcher's pure parts: classifying answers, timeouts.

use super::*;
use herald_core::{Audience, Channel, Rendered};

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
