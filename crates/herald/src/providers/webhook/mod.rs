//! The `webhook` provider: every channel as a signed JSON POST to the
//! business's own gateway, which then delivers however it likes and may
//! send receipts back, signed the same way (API.md, "Real providers").
//!
//! The contract is Herald's own, so this module is its reference: the
//! body, the `Idempotency-Key` and `Herald-Signature` headers
//! ([`signature`]), the answers and the receipts.

mod settings;
pub mod signature;

pub use settings::{WebhookSettings, DEFAULT_TIMEOUT};

use super::{
    retry_after_ms, Client, Configure, HookError, HookReceipt, HookReply, HookRequest, Provider,
    SendReply, SendRequest,
};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Rendered};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How much of a gateway's error answer is kept in a message.
const MAX_DETAIL: usize = 200;

/// The `webhook` provider.
pub struct Webhook;

impl Provider for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn supports(&self, _channel: Channel) -> bool {
        true
    }

    fn secrets(&self) -> &'static [&'static str] {
        &["secret"]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        Ok(Arc::new(self.client(cfg)?))
    }

    fn calls_back(&self) -> bool {
        true
    }
}

impl Webhook {
    /// Parses the settings and builds the client (`configure` without the
    /// `Arc`, so that tests can look at the concrete client).
    pub fn client(&self, cfg: &Configure<'_>) -> Result<WebhookClient, FieldError> {
        let checked = settings::parse(cfg.settings)?;
        let http = cfg.tls.api_client(checked.timeout, "url")?;
        Ok(WebhookClient {
            http,
            url: checked.url,
            secret: checked.secret,
            timeout: checked.timeout,
        })
    }
}

/// A configured `webhook` integration.
#[derive(Debug)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: Url,
    secret: SecretString,
    timeout: Duration,
}

/// What Herald POSTs to the gateway.
#[derive(Serialize)]
struct Outgoing<'a> {
    notification_id: &'a str,
    channel: &'a str,
    route: &'a str,
    to: &'a str,
    /// `{"subject"?, "title"?, "body"}`.
    content: &'a Rendered,
    idempotency_key: &'a str,
}

/// The gateway's optional answer to a send.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    message_id: Option<String>,
}

/// A receipt the gateway POSTs back.
#[derive(Deserialize)]
struct Receipt {
    message_id: String,
    status: String,
    #[serde(default)]
    error: Option<String>,
}

/// The first [`MAX_DETAIL`] characters of a gateway's answer, on one line.
fn clip(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_DETAIL {
        out.push('…');
    }
    out
}

/// Classifies a gateway's answer.
fn classify(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    key: &str,
) -> SendReply {
    if status.is_success() {
        let id = serde_json::from_slice::<Answer>(body)
            .ok()
            .and_then(|a| a.message_id)
            .filter(|id| !id.is_empty());
        // Without its own id the gateway's receipts name the idempotency
        // key, which Herald matches as well.
        return SendReply::Accepted {
            message_id: Some(id.unwrap_or_else(|| key.to_string())),
        };
    }
    let detail = clip(body);
    let error = if detail.trim().is_empty() {
        format!("the gateway answered {status}")
    } else {
        format!("the gateway answered {status}: {detail}")
    };
    match status.as_u16() {
        410 => SendReply::RecipientInvalid { error },
        429 => SendReply::Throttled {
            error,
            retry_after_ms: retry_after_ms(headers),
        },
        408 | 500..=599 => SendReply::Transient {
            error,
            retry_after_ms: retry_after_ms(headers),
        },
        _ => SendReply::Permanent { error },
    }
}

#[async_trait]
impl Client for WebhookClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let body = Outgoing {
            notification_id: req.notification_id,
            channel: req.channel.as_str(),
            route: req.route,
            to: req.to,
            content: req.content,
            idempotency_key: req.idempotency_key,
        };
        let body = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                return SendReply::Permanent {
                    error: format!("the webhook body could not be encoded: {e}"),
                }
            }
        };
        let t = req.now.div_euclid(1_000);
        let sig = signature::sign(self.secret.expose_secret().as_bytes(), t, &body);
        let resp = self
            .http
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", req.idempotency_key)
            .header(signature::HEADER, sig)
            .body(body)
            .send()
            .await;
        match super::read_answer(resp, "the gateway").await {
            Ok((status, headers, bytes)) => classify(status, &headers, &bytes, req.idempotency_key),
            Err(reply) => reply,
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn hook(&self, req: &HookRequest) -> Result<HookReply, HookError> {
        let header = req
            .headers
            .get(signature::HEADER)
            .map(|v| v.to_str().unwrap_or_default());
        signature::verify(
            self.secret.expose_secret().as_bytes(),
            header,
            &req.body,
            req.now.div_euclid(1_000),
        )
        .map_err(|e| HookError::Unauthorized(e.to_string()))?;
        if req.method != http::Method::POST {
            return Err(HookError::BadRequest(format!(
                "receipts are POSTed, not sent with {}",
                req.method
            )));
        }
        let r: Receipt = serde_json::from_slice(&req.body).map_err(|e| {
            HookError::BadRequest(format!(
                "a receipt is {{\"message_id\", \"status\": \"delivered\"|\"failed\", \"error\"}}: {}",
                crate::json::strip_position(&e.to_string())
            ))
        })?;
        let delivered = match r.status.as_str() {
            "delivered" => true,
            "failed" => false,
            other => {
                return Err(HookError::BadRequest(format!(
                    "status must be delivered or failed, not {}",
                    clip(other.as_bytes())
                )))
            }
        };
        if r.message_id.is_empty() {
            return Err(HookError::BadRequest("message_id must not be empty".into()));
        }
        Ok(HookReply {
            receipts: vec![HookReceipt {
                message_id: r.message_id,
                delivered,
                error: if delivered { None } else { r.error },
            }],
            body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16) -> &'static str {
        let status = http::StatusCode::from_u16(status).expect("a status");
        classify(status, &http::HeaderMap::new(), b"", "key-1").detailed_kind()
    }

    #[test]
    fn answers_map_to_the_cascade_kinds() {
        for (status, want) in [
            (200, "accepted"),
            (202, "accepted"),
            (204, "accepted"),
            (410, "recipient_invalid"),
            (408, "transient"),
            (429, "throttled"),
            (500, "transient"),
            (503, "transient"),
            (400, "permanent"),
            (401, "permanent"),
            (404, "permanent"),
            (422, "permanent"),
            (301, "permanent"),
        ] {
            assert_eq!(kind(status), want, "{status}");
        }
    }

    #[test]
    fn the_message_id_is_the_gateways_or_the_key() {
        let ok = http::StatusCode::OK;
        let h = http::HeaderMap::new();
        assert_eq!(
            classify(ok, &h, br#"{"message_id": "gw-1"}"#, "key-1"),
            SendReply::Accepted {
                message_id: Some("gw-1".into())
            }
        );
        assert_eq!(
            classify(ok, &h, b"queued", "key-1"),
            SendReply::Accepted {
                message_id: Some("key-1".into())
            }
        );
    }
}
