//! One send: the claimed attempt's integration resolved, its pace waited
//! for, the provider called (cut off at its timeout), and the reply turned
//! into what the store records, with what an SMS cost.

use crate::clock::Clock;
use crate::limiter::Limiter;
use crate::metrics::SendKind;
use crate::providers::{Client, SendReply, SendRequest};
use crate::service::App;
use herald_core::retry::next_retry_at;
use herald_core::{Channel, Millis};
use herald_store::{ClaimedAttempt, SendOutcome};
use rand::Rng;
use std::time::{Duration, Instant};

/// Classifies a provider's reply into what the store records. Transient
/// errors are retried with backoff while the next try still falls inside
/// the attempt's window.
pub fn classify(
    reply: &SendReply,
    claimed: &ClaimedAttempt,
    now: Millis,
    jitter: f64,
) -> SendOutcome {
    match reply {
        SendReply::Accepted { message_id } => SendOutcome::Accepted {
            provider_message_id: message_id.clone(),
            cost_micros: None,
        },
        SendReply::Permanent { error } => SendOutcome::Refused {
            error: error.clone(),
            unreachable: false,
        },
        SendReply::RecipientInvalid { error } => SendOutcome::Refused {
            error: error.clone(),
            unreachable: true,
        },
        SendReply::Transient {
            error,
            retry_after_ms,
        }
        | SendReply::Throttled {
            error,
            retry_after_ms,
        } => {
            let at = next_retry_at(now, claimed.requests.max(1), jitter, *retry_after_ms);
            if at < claimed.deadline {
                SendOutcome::Retry {
                    error: error.clone(),
                    next_try_at: at,
                }
            } else {
                SendOutcome::GaveUp {
                    error: format!("{error} (after {} tries)", claimed.requests),
                }
            }
        }
    }
}

/// Sends through a client, cut off after its timeout (and never later
/// than `limit`); a send that does not answer in time is transient.
pub async fn send_bounded(
    client: &dyn Client,
    req: &SendRequest<'_>,
    limit: Duration,
) -> SendReply {
    let timeout = client.timeout().min(limit);
    match tokio::time::timeout(timeout, client.send(req)).await {
        Ok(reply) => reply,
        Err(_) => SendReply::Transient {
            error: format!(
                "the provider did not answer within {} ms",
                timeout.as_millis()
            ),
            retry_after_ms: None,
        },
    }
}

fn integration_removed(channel: Channel) -> SendOutcome {
    SendOutcome::Refused {
        error: format!("integration removed: the {channel} channel has no integration now"),
        unreachable: false,
    }
}

/// How often a send waiting for its integration's pace asks again (a pace
/// that recovers meanwhile lets it go sooner).
const ADMIT_POLL: Duration = Duration::from_millis(100);

/// Waits until the integration's pace lets a send start; a wait longer
/// than `limit` (it would outlast the lease) is a retry then instead.
pub(super) async fn admitted(
    clock: &dyn Clock,
    limiter: &Limiter,
    hook: &str,
    rate: Option<f64>,
    limit: Duration,
) -> Result<(), SendOutcome> {
    let since = Instant::now();
    loop {
        let now = Instant::now();
        let Err(wait) = limiter.try_admit(hook, rate, now) else {
            return Ok(());
        };
        let left = wait.until.saturating_duration_since(now);
        if now.saturating_duration_since(since) + left > limit {
            let error = match (wait.slowed, rate) {
                (true, _) => "waiting: the provider asked to send slower".to_string(),
                (false, Some(rate)) => {
                    format!("waiting for the integration's limit of {rate} sends a second")
                }
                (false, None) => "waiting for the integration's send rate".to_string(),
            };
            return Err(SendOutcome::Retry {
                error,
                next_try_at: clock.now() + left.as_millis() as Millis,
            });
        }
        tokio::time::sleep(left.min(ADMIT_POLL)).await;
    }
}

/// What an answer tells the integration's pace: a throttling answer slows
/// it down, an accepted send lets it recover; any other answer (a 5xx, a
/// timeout) concerns that message only.
pub(super) fn pace(
    limiter: &Limiter,
    hook: &str,
    rate: Option<f64>,
    started: Instant,
    reply: &SendReply,
    now: Instant,
) {
    match reply {
        SendReply::Throttled { retry_after_ms, .. } => {
            let after = retry_after_ms.map(|ms| Duration::from_millis(ms.max(0) as u64));
            limiter.throttled(hook, rate, started, after, now)
        }
        SendReply::Accepted { .. } => limiter.went_through(hook, rate, now),
        _ => {}
    }
}

/// Sends one claimed attempt through its integration, at its pace, and
/// tells what the store records for it.
pub(super) async fn send_one(
    app: &App,
    limiter: &Limiter,
    claimed: &ClaimedAttempt,
    limit: Duration,
) -> SendOutcome {
    let now = app.now();
    if now >= claimed.deadline {
        return SendOutcome::GaveUp {
            error: "the window closed before the message could be sent".into(),
        };
    }
    let Some(hook) = &claimed.via_hook else {
        return integration_removed(claimed.channel);
    };
    let resolved = match app.resolve_hook(hook).await {
        Ok(Some(r)) => r,
        Ok(None) => return integration_removed(claimed.channel),
        Err(e) => {
            return SendOutcome::Retry {
                error: format!("store unavailable: {e}"),
                next_try_at: now + 1_000,
            }
        }
    };
    let rate = resolved.hooked.integration.max_per_second;
    if let Err(outcome) = admitted(&*app.clock(), limiter, hook, rate, limit).await {
        return outcome;
    }
    if app.now() >= claimed.deadline {
        return SendOutcome::GaveUp {
            error: "the window closed while waiting for the integration's send rate".into(),
        };
    }
    let started = Instant::now();
    let now = app.now();
    if claimed.fallback && claimed.requests == 1 {
        app.metrics.fallback_reaction(now - claimed.created_at);
    }
    let req = SendRequest {
        tenant_id: &claimed.tenant_id,
        notification_id: &claimed.notification_id,
        channel: claimed.channel,
        route: &claimed.route,
        to: &claimed.to,
        content: &claimed.content,
        idempotency_key: &claimed.idempotency_key,
        deadline: claimed.deadline,
        deliver_before: claimed.deliver_before,
        now,
    };
    let reply = send_bounded(resolved.client.as_ref(), &req, limit).await;
    pace(limiter, hook, rate, started, &reply, Instant::now());
    let kind = match &reply {
        SendReply::Accepted { .. } => SendKind::Accepted,
        SendReply::Transient { .. } | SendReply::Throttled { .. } => SendKind::Transient,
        SendReply::Permanent { .. } => SendKind::Refused,
        SendReply::RecipientInvalid { .. } => SendKind::Unreachable,
    };
    app.metrics.send(claimed.channel, kind);
    let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
    let mut outcome = classify(&reply, claimed, app.now(), jitter);
    if let SendOutcome::Accepted { cost_micros, .. } = &mut outcome {
        *cost_micros = sms_cost(app, &resolved.hooked.integration, claimed);
    }
    outcome
}

/// What an accepted SMS costs: its segments times the integration's price,
/// in millionths; `None` when unpriced or not an SMS route (a messenger).
fn sms_cost(
    app: &App,
    integration: &herald_store::Integration,
    claimed: &ClaimedAttempt,
) -> Option<i64> {
    let price = integration.price_per_segment?;
    let kind = app
        .routes_of(claimed.channel, integration)
        .into_iter()
        .find(|r| r.name == claimed.route)?
        .kind;
    if kind != herald_core::RouteKind::Sms {
        return None;
    }
    let segments = herald_core::sms::sms_size(&claimed.content.body).segments;
    Some((f64::from(segments) * price * 1_000_000.0).round() as i64)
}
