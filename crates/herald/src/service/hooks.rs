//! What reaches an integration from outside a send: receipt webhooks
//! routed by hook id, links opened at start for providers whose receipts
//! come on a connection of their own, and test sends.

use super::App;
use crate::error::{invalid, Result, ServiceError};
use crate::providers::{HookError, HookReply, HookRequest, SendReply, SendRequest};
use herald_core::{Channel, Rendered};
use herald_store::{IncomingReceipt, ReceiptMatch};
use std::time::Duration;

/// How often, and how far apart, a callback's receipt that matches no sent
/// message is matched again before it is taken as unknown (about two
/// seconds in all: well inside a provider's callback timeout).
const UNKNOWN_RECEIPT_TRIES: usize = 8;
const UNKNOWN_RECEIPT_WAIT: Duration = Duration::from_millis(250);

/// What a receipt webhook call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// What the provider said, verified.
    pub reply: HookReply,
    /// Receipts that matched one of the integration's messages.
    pub recorded: usize,
}

/// Why a webhook call was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// No integration has that hook id.
    #[error("no webhook with that id")]
    UnknownHook,
    /// The provider refused the call.
    #[error(transparent)]
    Provider(#[from] HookError),
    /// Herald could not take it now.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl App {
    /// Opens the links of every integration whose provider keeps one.
    pub async fn open_links(&self) {
        let names = self
            .providers
            .iter()
            .filter(|(_, p)| p.keeps_a_link())
            .map(|(name, _)| name.to_string())
            // A chain's routes may keep links; opening one that keeps none
            // does nothing.
            .chain(std::iter::once(super::chain::CHAIN.to_string()));
        for name in names {
            let name = name.as_str();
            let all = match self.store.integrations_of_provider(name).await {
                Ok(all) => all,
                Err(e) => {
                    tracing::warn!("listing the {name} integrations to open their links: {e}");
                    continue;
                }
            };
            for h in all {
                if let Ok(Some(r)) = self.resolve_hook(&h.integration.hook_id).await {
                    r.client.open().await;
                }
            }
        }
    }

    /// Sends one test message through the tenant's integration of a
    /// channel (its own, else the operator's) now.
    pub async fn test_integration(
        &self,
        tenant_id: &str,
        channel: Channel,
        to: &str,
    ) -> Result<SendReply> {
        let to = to.trim();
        if to.is_empty() || to.chars().count() > super::MAX_ID {
            return Err(invalid(
                "to",
                "invalid_address",
                "to must be an address, phone number or device token of 1 to 255 characters",
            ));
        }
        match channel {
            Channel::Email if herald_core::recipient::parse_email(to).is_none() => {
                return Err(invalid(
                    "to",
                    "invalid_email",
                    "to must be an e-mail address",
                ))
            }
            Channel::Sms if herald_core::recipient::parse_phone(to).is_none() => {
                return Err(invalid(
                    "to",
                    "invalid_phone",
                    "to must be a phone number in E.164 form (+15550001111)",
                ))
            }
            _ => {}
        }
        let all = self.integrations(tenant_id).await?;
        let Some(i) = all.get(&channel) else {
            return Err(ServiceError::NotFound(format!(
                "an integration for the {channel} channel"
            )));
        };
        let Some(r) = self.resolve_hook(&i.hook_id).await? else {
            return Err(ServiceError::NotFound(format!(
                "an integration for the {channel} channel"
            )));
        };
        let content = Rendered {
            subject: Some("Herald test message".into()),
            title: Some("Herald test".into()),
            body: format!("This is a test message from Herald through your {channel} integration."),
        };
        let key = format!("test-{}", uuid::Uuid::now_v7());
        let now = self.now();
        let route = self
            .routes_of(channel, i)
            .into_iter()
            .next()
            .map(|r| r.name)
            .unwrap_or_else(|| channel.as_str().to_string());
        let req = SendRequest {
            tenant_id,
            notification_id: "test",
            channel,
            route: &route,
            to,
            content: &content,
            idempotency_key: &key,
            deadline: now + 60_000,
            deliver_before: None,
            now,
        };
        Ok(crate::worker::send_bounded(r.client.as_ref(), &req, crate::worker::MAX_SEND).await)
    }

    /// Takes a provider's callback at `/v1/hooks/{hook id}`: the provider's
    /// client verifies and parses it; each receipt is matched only within
    /// the messages sent through this integration.
    pub async fn take_hook(
        &self,
        hook_id: &str,
        req: HookRequest,
    ) -> std::result::Result<HookOutcome, HookFailure> {
        let Some(r) = self.resolve_hook(hook_id).await? else {
            return Err(HookFailure::UnknownHook);
        };
        let reply = r.client.hook(&req).await?;
        let mut recorded = 0;
        for rc in &reply.receipts {
            let receipt = IncomingReceipt {
                // A chain's route reports under the chain's hook, which its
                // messages were sent through.
                hook_id: r.hooked.integration.hook_id.clone(),
                provider_message_id: Some(rc.message_id.clone()),
                // Providers that echo the attempt's key as their id still
                // match before the send's answer is recorded.
                idempotency_key: Some(rc.message_id.clone()),
                delivered: rc.delivered,
                error: rc.error.clone(),
                at: req.now,
            };
            // A provider may call back before the worker has recorded the
            // send's answer, which carries the message id (Twilio posts its
            // first status within milliseconds of the 201, and does not post
            // it again): the callback waits a little for that answer rather
            // than dropping the receipt as unknown.
            let mut m = self.ingest_receipt(receipt.clone()).await?;
            for _ in 0..UNKNOWN_RECEIPT_TRIES {
                if !matches!(m, ReceiptMatch::Unknown) {
                    break;
                }
                tokio::time::sleep(UNKNOWN_RECEIPT_WAIT).await;
                m = self.ingest_receipt(receipt.clone()).await?;
            }
            if !matches!(m, ReceiptMatch::Unknown) {
                recorded += 1;
            }
        }
        Ok(HookOutcome { reply, recorded })
    }
}
