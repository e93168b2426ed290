//! The `twilio` provider: SMS (and WhatsApp, as the `whatsapp` route of
//! the `sms` channel) through Twilio's Programmable Messaging.
//!
//! - Send: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//!   HTTP basic auth (account SID, auth token), a form body with `To`,
//!   `From` or `MessagingServiceSid`, `Body` and `StatusCallback`; Twilio
//!   answers 201 with the Message resource, whose `sid` is the message id
//!   (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
//!   An error is `{"code", "message", "more_info", "status"}`
//!   (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions),
//!   its codes listed at https://www.twilio.com/docs/api/errors.
//! - Receipts: Twilio POSTs the message's status changes, form-encoded, to
//!   `StatusCallback` (`MessageSid`, `MessageStatus`, `ErrorCode`;
//!   https://www.twilio.com/docs/messaging/guides/track-outbound-message-status),
//!   signed with `X-Twilio-Signature` ([`signature`]).
//!
//! Twilio does not dedupe sends: a crash between its 201 and Herald
//! recording it sends the message once more on the retry.

mod answer;
pub mod settings;
pub mod signature;

pub use answer::{classify, NOT_ON_WHATSAPP_CODES, RECIPIENT_CODES, TOO_MANY_REQUESTS};
use answer::{clip, describe_code};
pub use settings::{Sender, TwilioSettings, DEFAULT_BASE_URL};

use super::{
    Client, Configure, HookError, HookReceipt, HookReply, HookRequest, Provider, SendReply,
    SendRequest,
};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Route, RouteKind};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// The `twilio` provider.
pub struct Twilio;

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
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

    /// Reads only `routes` (this runs for every trigger); settings that
    /// would not configure never get here, so a bad list reads as the
    /// default.
    fn routes(&self, _channel: Channel, settings: &serde_json::Value) -> Vec<Route> {
        let routes: Option<Vec<String>> =
            settings.get("routes").and_then(|r| r.as_array()).map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            });
        let names = match routes {
            Some(r) if settings::check_routes(&r).is_ok() => r,
            _ => vec!["sms".into()],
        };
        // Twilio's two routes: WhatsApp is a messenger, the other SMS.
        names
            .into_iter()
            .map(|name| {
                let kind = if name == "whatsapp" {
                    RouteKind::Messenger
                } else {
                    RouteKind::Sms
                };
                Route::new(name, kind)
            })
            .collect()
    }
}

impl Twilio {
    /// Parses the settings and builds the client (`configure` without the
    /// `Arc`, so that tests can look at the concrete client).
    pub fn client(&self, cfg: &Configure<'_>) -> Result<TwilioClient, FieldError> {
        let checked = settings::parse(cfg.settings)?;
        let http = cfg.tls.api_client(checked.timeout, "base_url")?;
        Ok(TwilioClient {
            http,
            messages_url: checked.messages_url,
            account_sid: checked.account_sid,
            auth_token: checked.auth_token,
            sender: checked.sender,
            whatsapp_sender: checked.whatsapp_sender,
            status_callback: cfg.webhook_url.to_string(),
            timeout: checked.timeout,
        })
    }
}

/// A configured `twilio` integration.
#[derive(Debug)]
pub struct TwilioClient {
    http: reqwest::Client,
    messages_url: Url,
    account_sid: String,
    auth_token: SecretString,
    sender: Sender,
    whatsapp_sender: Option<Sender>,
    status_callback: String,
    timeout: Duration,
}

impl TwilioClient {
    fn form(&self, req: &SendRequest<'_>) -> Result<String, SendReply> {
        let whatsapp = req.route == "whatsapp";
        let mut form = form_urlencoded::Serializer::new(String::new());
        let sender = if whatsapp {
            let to = req.to.strip_prefix("whatsapp:").unwrap_or(req.to);
            form.append_pair("To", &format!("whatsapp:{to}"));
            match &self.whatsapp_sender {
                Some(s) => s,
                None => {
                    return Err(SendReply::Permanent {
                        error: "this twilio integration has no WhatsApp sender".into(),
                    })
                }
            }
        } else {
            form.append_pair("To", req.to);
            &self.sender
        };
        match sender {
            Sender::From(f) => form.append_pair("From", f),
            Sender::Service(mg) => form.append_pair("MessagingServiceSid", mg),
        };
        form.append_pair("Body", &req.content.body);
        // Twilio drops a message still queued after this many seconds
        // (1–36,000): the time left until the notification's deadline.
        if let Some(s) = req.validity_s() {
            form.append_pair("ValidityPeriod", &s.clamp(1, 36_000).to_string());
        }
        if !self.status_callback.is_empty() {
            form.append_pair("StatusCallback", &self.status_callback);
        }
        Ok(form.finish())
    }
}

#[async_trait]
impl Client for TwilioClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let body = match self.form(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let resp = self
            .http
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await;
        match super::read_answer(resp, "Twilio").await {
            Ok((status, headers, bytes)) => classify(status, &headers, &bytes, req.route),
            Err(reply) => reply,
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn hook(&self, req: &HookRequest) -> Result<HookReply, HookError> {
        let params = signature::params(&req.body);
        let header = req
            .headers
            .get(signature::HEADER)
            .map(|v| v.to_str().unwrap_or_default());
        signature::verify(
            self.auth_token.expose_secret().as_bytes(),
            header,
            &req.url,
            &params,
        )
        .map_err(|e| HookError::Unauthorized(e.to_string()))?;
        if req.method != http::Method::POST {
            return Err(HookError::BadRequest(format!(
                "status callbacks are POSTed, not sent with {}",
                req.method
            )));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // `SmsSid`/`SmsStatus` are the older names Twilio still sends.
        let sid = get("MessageSid").or_else(|| get("SmsSid"));
        let status = get("MessageStatus").or_else(|| get("SmsStatus"));
        let (Some(sid), Some(status)) = (sid, status) else {
            return Err(HookError::BadRequest(
                "a status callback carries MessageSid and MessageStatus".into(),
            ));
        };
        let delivered = match status {
            // `read` is WhatsApp's: delivered and seen.
            "delivered" | "read" => true,
            "undelivered" | "failed" => false,
            // queued, sending, sent, accepted, scheduled, canceled, …: no
            // news for the cascade yet.
            _ => return Ok(HookReply::default()),
        };
        let error = (!delivered).then(|| {
            let code = get("ErrorCode").unwrap_or("");
            let what = get("ErrorMessage")
                .map(clip)
                .unwrap_or_else(|| describe_code(code).to_string());
            match (code.is_empty(), what.is_empty()) {
                (true, _) => format!("Twilio: message {status}"),
                (false, true) => format!("Twilio {}: message {status}", clip(code)),
                (false, false) => format!("Twilio {}: {what} (message {status})", clip(code)),
            }
        });
        Ok(HookReply {
            receipts: vec![HookReceipt {
                message_id: sid.to_string(),
                delivered,
                error,
            }],
            body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(status: u16, body: serde_json::Value, route: &str) -> &'static str {
        let status = http::StatusCode::from_u16(status).expect("a status");
        classify(
            status,
            &http::HeaderMap::new(),
            body.to_string().as_bytes(),
            route,
        )
        .detailed_kind()
    }

    fn twilio_error(code: u64) -> serde_json::Value {
        json!({"code": code, "message": "m", "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": 400})
    }

    #[test]
    fn answers_map_to_the_cascade_kinds() {
        assert_eq!(kind(201, json!({"sid": "SM1"}), "sms"), "accepted");
        assert_eq!(kind(201, json!({}), "sms"), "permanent");
        for code in [21211, 21614, 21610] {
            assert_eq!(kind(400, twilio_error(code), "sms"), "recipient_invalid");
        }
        assert_eq!(
            kind(400, twilio_error(63003), "whatsapp"),
            "recipient_invalid"
        );
        assert_eq!(kind(400, twilio_error(63003), "sms"), "permanent");
        assert_eq!(kind(429, twilio_error(20429), "sms"), "throttled");
        assert_eq!(kind(400, twilio_error(20429), "sms"), "throttled");
        assert_eq!(kind(429, json!({}), "sms"), "throttled");
        assert_eq!(kind(500, json!("oops"), "sms"), "transient");
        assert_eq!(kind(503, json!({}), "sms"), "transient");
        assert_eq!(kind(401, twilio_error(20003), "sms"), "permanent");
        assert_eq!(kind(400, twilio_error(21602), "sms"), "permanent");
        assert_eq!(kind(302, json!({}), "sms"), "permanent");
    }

    #[test]
    fn the_error_names_the_code_and_message() {
        let r = classify(
            http::StatusCode::BAD_REQUEST,
            &http::HeaderMap::new(),
            br#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "status": 400}"#,
            "sms",
        );
        assert_eq!(
            r,
            SendReply::RecipientInvalid {
                error: "Twilio 400 error 21211: The 'To' number +1555 is not a valid phone number."
                    .into()
            }
        );
    }

    #[test]
    fn routes_read_only_the_routes() {
        let t = Twilio;
        let sms = Route::new("sms", RouteKind::Sms);
        let wa = Route::new("whatsapp", RouteKind::Messenger);
        assert_eq!(t.routes(Channel::Sms, &json!({})), vec![sms.clone()]);
        assert_eq!(
            t.routes(Channel::Sms, &json!({"routes": ["whatsapp", "sms"]})),
            vec![wa, sms.clone()]
        );
        assert_eq!(t.routes(Channel::Sms, &json!({"routes": ["x"]})), vec![sms]);
    }
}
