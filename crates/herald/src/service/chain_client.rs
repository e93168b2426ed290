//! A chain's client: each send goes to its route's provider, and each
//! route calls back at its own webhook.

use crate::providers::{Client, HookError, HookReply, HookRequest, SendReply, SendRequest};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// A chain's client: each send goes to its route's provider.
pub(super) struct ChainClient {
    pub(super) members: Vec<(String, Arc<dyn Client>)>,
}

impl ChainClient {
    fn of(&self, route: &str) -> Option<&Arc<dyn Client>> {
        self.members
            .iter()
            .find(|(r, _)| r == route)
            .map(|(_, c)| c)
    }
}

#[async_trait]
impl Client for ChainClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        match self.of(req.route) {
            Some(c) => c.send(req).await,
            // The chain was changed after the attempt was planned.
            None => SendReply::Permanent {
                error: format!("the chain has no route {} now", req.route),
            },
        }
    }

    fn timeout(&self) -> Duration {
        self.members
            .iter()
            .map(|(_, c)| c.timeout())
            .max()
            .unwrap_or(crate::providers::DEFAULT_TIMEOUT)
    }

    async fn open(&self) {
        for (_, c) in &self.members {
            c.open().await;
        }
    }

    async fn hook(&self, _req: &HookRequest) -> Result<HookReply, HookError> {
        // Each route calls back at its own webhook.
        Err(HookError::NotSupported)
    }

    fn member(&self, route: &str) -> Option<Arc<dyn Client>> {
        self.of(route).cloned()
    }
}
