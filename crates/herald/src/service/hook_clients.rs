//! Integrations resolved for sending by hook id: the stored integration
//! (cached) and the client every send through it shares, rebuilt only when
//! the integration changed; a chain's route by `{hook id}.{route}`.

use super::App;
use crate::error::Result;
use crate::providers::{Client, SendReply, SendRequest};
use herald_store::HookedIntegration;
use std::sync::Arc;

/// An integration resolved for sending: whose it is, and its client.
#[derive(Clone)]
pub struct Resolved {
    /// The integration as stored (secrets sealed).
    pub hooked: HookedIntegration,
    /// The client every send through it shares.
    pub client: Arc<dyn Client>,
}

impl App {
    /// The integration behind a hook id with its client (cached; the
    /// client is rebuilt only when the integration changed).
    /// A route of a chain has a webhook of its own, `{hook id}.{route}`:
    /// its client is that route's provider's.
    pub async fn resolve_hook(&self, hook_id: &str) -> Result<Option<Resolved>> {
        let (base, route) = match hook_id.split_once('.') {
            Some((base, route)) => (base, Some(route)),
            None => (hook_id, None),
        };
        let Some(r) = self.resolve_base_hook(base).await? else {
            return Ok(None);
        };
        match route {
            None => Ok(Some(r)),
            Some(route) => Ok(r.client.member(route).map(|client| Resolved {
                hooked: r.hooked,
                client,
            })),
        }
    }

    async fn resolve_base_hook(&self, hook_id: &str) -> Result<Option<Resolved>> {
        let key = hook_id.to_string();
        let hooked = match self.caches.hooks.get(&key) {
            Some(h) => h,
            None => {
                let h = self.store.integration_by_hook(hook_id).await?.map(Arc::new);
                self.caches.hooks.put(key.clone(), h.clone());
                h
            }
        };
        let Some(hooked) = hooked else {
            return Ok(None);
        };
        let version = hooked.integration.updated_at;
        let client = match self.clients.get(&key, version) {
            Some(c) => c,
            None => {
                let c = match self.configure(&hooked.integration) {
                    Ok(c) => c,
                    Err(e) => Arc::new(Unusable(e)),
                };
                // Sends and `open_links` resolve concurrently at start.
                self.clients.put_first(key, version, c)
            }
        };
        Ok(Some(Resolved {
            hooked: (*hooked).clone(),
            client,
        }))
    }
}

/// The client of an integration whose settings no longer configure (a
/// secret sealed under another key, a provider missing from this build):
/// every send through it fails with the reason.
struct Unusable(String);

#[async_trait::async_trait]
impl Client for Unusable {
    async fn send(&self, _req: &SendRequest<'_>) -> SendReply {
        SendReply::Permanent {
            error: self.0.clone(),
        }
    }
}
