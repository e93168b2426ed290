//! The `whatsapp` provider: the WhatsApp Business Cloud API, as the
//! `whatsapp` route of the SMS/messenger channel (API.md, "Real providers"
//! and "Messenger then SMS").
//!
//! Meta's pages this follows: "Cloud API > Reference > Messages" (the send
//! body, text and template forms), "Cloud API > Support > Error codes"
//! ([`reply`]), "Graph API > Webhooks > Getting started" (the GET
//! verification and `X-Hub-Signature-256`) and "Cloud API > Webhooks >
//! messages" (status notifications) ([`hook`]).
//!
//! The Cloud API does not dedupe: a send retried after a crash between the
//! POST and the recording of its answer is sent twice.

pub mod hook;
pub mod reply;
mod settings;

pub use settings::{Template, WhatsappSettings, DEFAULT_BASE_URL};

use super::{
    Client, Configure, HookError, HookReply, HookRequest, Provider, SendReply, SendRequest,
};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Route, RouteKind};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The route this provider serves.
pub const ROUTE: &str = "whatsapp";

/// The `whatsapp` provider.
pub struct Whatsapp;

impl Provider for Whatsapp {
    fn name(&self) -> &'static str {
        "whatsapp"
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    fn secrets(&self) -> &'static [&'static str] {
        settings::SECRETS
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        Ok(Arc::new(self.client(cfg)?))
    }

    fn calls_back(&self) -> bool {
        true
    }

    fn routes(&self, _channel: Channel, _settings: &serde_json::Value) -> Vec<Route> {
        vec![Route::new(ROUTE, RouteKind::Messenger)]
    }
}

impl Whatsapp {
    /// Parses the settings and builds the client (`configure` without the
    /// `Arc`, so that tests can look at the concrete client).
    pub fn client(&self, cfg: &Configure<'_>) -> Result<WhatsappClient, FieldError> {
        let c = settings::parse(cfg.settings)?;
        let http = cfg.tls.api_client(c.timeout, "base_url")?;
        Ok(WhatsappClient {
            http,
            messages_url: c.messages_url,
            access_token: c.access_token,
            app_secret: c.app_secret,
            verify_token: c.verify_token,
            template: c.template,
            timeout: c.timeout,
        })
    }
}

/// A configured `whatsapp` integration.
#[derive(Debug)]
pub struct WhatsappClient {
    http: reqwest::Client,
    messages_url: Url,
    access_token: SecretString,
    app_secret: SecretString,
    verify_token: SecretString,
    template: Option<Template>,
    timeout: Duration,
}

/// The digits of an E.164 number (`+15550001111` → `15550001111`), the
/// form the Cloud API's `to` takes.
pub fn wa_digits(to: &str) -> Option<String> {
    let rest = to.trim().strip_prefix('+').unwrap_or(to.trim());
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

impl WhatsappClient {
    /// The JSON body of one message ("Cloud API > Reference > Messages").
    pub fn message_body(&self, to_digits: &str, text: &str) -> serde_json::Value {
        match &self.template {
            None => json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to_digits,
                "type": "text",
                "text": {"body": text},
            }),
            Some(t) => json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to_digits,
                "type": "template",
                "template": {
                    "name": t.name,
                    "language": {"code": t.language},
                    "components": [{
                        "type": "body",
                        "parameters": [{"type": "text", "text": text}],
                    }],
                },
            }),
        }
    }

    fn scrub(&self, s: String) -> String {
        let mut s = s;
        for secret in [&self.access_token, &self.app_secret, &self.verify_token] {
            let v = secret.expose_secret();
            if !v.is_empty() && s.contains(v) {
                s = s.replace(v, "[redacted]");
            }
        }
        s
    }
}

#[async_trait]
impl Client for WhatsappClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let Some(to) = wa_digits(req.to) else {
            return SendReply::RecipientInvalid {
                error: "not an E.164 phone number, so not a WhatsApp number".into(),
            };
        };
        let body = self.message_body(&to, &req.content.body);
        let resp = self
            .http
            .post(self.messages_url.clone())
            .bearer_auth(self.access_token.expose_secret())
            .json(&body)
            .send()
            .await;
        match super::read_answer(resp, "WhatsApp").await {
            Ok((status, headers, bytes)) => {
                reply::classify(status, &headers, &bytes, &|s| self.scrub(s))
            }
            Err(SendReply::Transient {
                error,
                retry_after_ms,
            }) => SendReply::Transient {
                error: self.scrub(error),
                retry_after_ms,
            },
            Err(reply) => reply,
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn hook(&self, req: &HookRequest) -> Result<HookReply, HookError> {
        if req.method == http::Method::GET {
            return hook::handshake(&req.query, self.verify_token.expose_secret().as_bytes());
        }
        if req.method != http::Method::POST {
            return Err(HookError::BadRequest(format!(
                "Meta calls with GET (verification) or POST (notifications), not {}",
                req.method
            )));
        }
        let header = req
            .headers
            .get(hook::SIGNATURE_HEADER)
            .map(|v| v.to_str().unwrap_or_default());
        hook::verify_signature(
            self.app_secret.expose_secret().as_bytes(),
            header,
            &req.body,
        )?;
        hook::receipts(&req.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_digits() {
        assert_eq!(wa_digits("+15550001111").as_deref(), Some("15550001111"));
        assert_eq!(
            wa_digits("+44 20 7946-0018").as_deref(),
            Some("442079460018")
        );
        assert_eq!(wa_digits("ana@example.com"), None);
        assert_eq!(wa_digits("+"), None);
        assert_eq!(wa_digits("+1234567890123456"), None);
    }
}
