//! What the providers that speak HTTP share: an answer read whole, a failed
//! request described by its cause, and `Retry-After` in seconds.

use super::SendReply;
use herald_core::Millis;

/// An HTTP provider's answer read whole: status, headers and body, or the
/// transient reply for a request that failed or a body that could not be
/// read (`who` names the provider in the error: "Twilio", "FCM").
pub async fn read_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    who: &str,
) -> Result<(http::StatusCode, http::HeaderMap, bytes::Bytes), SendReply> {
    let resp = sent.map_err(|e| SendReply::Transient {
        error: format!("{who} {}", transport_error(&e)),
        retry_after_ms: None,
    })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    match resp.bytes().await {
        Ok(body) => Ok((status, headers, body)),
        Err(e) => Err(SendReply::Transient {
            error: format!(
                "{who} answered {status}, body unreadable: {}",
                transport_error(&e)
            ),
            retry_after_ms: None,
        }),
    }
}

/// Describes a failed HTTP request by its kind and innermost cause
/// (connection refused, DNS, TLS), for providers over HTTP.
pub fn transport_error(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut s = format!("{what}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if inner.source().is_none() {
            s.push_str(&format!(": {inner}"));
        }
        src = inner.source();
    }
    s
}

/// Reads an HTTP `Retry-After` header given in seconds (the form FCM,
/// APNs and most gateways use) as milliseconds.
pub fn retry_after_ms(headers: &http::HeaderMap) -> Option<Millis> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some((secs.min(86_400) * 1_000) as Millis)
}
