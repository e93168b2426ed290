//! Hot lookups (tenant by API key, notification types, integrations) kept
//! in memory so a trigger or a send does not go to the database for
//! configuration. Writes through this process invalidate at once; entries
//! also expire after a short time, so a change made elsewhere (another node,
//! the `tenants` command) is seen within `TTL`.

use crate::providers::Client;
use herald_core::{Channel, Millis};
use herald_store::{HookedIntegration, Integration, NotificationType, Tenant};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept per map before it is cleared (a crude bound on memory).
const MAX_ENTRIES: usize = 100_000;

/// A map whose entries expire.
pub struct TtlMap<K, V> {
    inner: RwLock<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        TtlMap {
            inner: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    /// The value if present and fresh.
    pub fn get(&self, k: &K) -> Option<V> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(k)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    /// Stores a value.
    pub fn put(&self, k: K, v: V) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
    }

    /// Forgets a value.
    pub fn forget(&self, k: &K) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.remove(k);
    }
}

/// A tenant's integrations by channel.
pub type Integrations = Arc<BTreeMap<Channel, Integration>>;

/// The service's caches.
#[derive(Default)]
pub struct Caches {
    /// Tenants by the SHA-256 of their API key.
    pub tenants: TtlMap<String, Tenant>,
    /// Notification types by (tenant, key).
    pub types: TtlMap<(String, String), Arc<NotificationType>>,
    /// Integrations by tenant (its own and the operator's it inherits).
    pub integrations: TtlMap<String, Integrations>,
    /// The operator's integrations.
    pub operator: TtlMap<(), Arc<Vec<Integration>>>,
    /// Integrations by hook id (`None`: no such hook).
    pub hooks: TtlMap<String, Option<Arc<HookedIntegration>>>,
}

/// Configured clients by hook id, each with the integration version it was
/// built from. Not expired by time: a client holds connections and tokens
/// worth keeping while its integration is unchanged.
#[derive(Default)]
pub struct Clients {
    inner: RwLock<HashMap<String, ClientEntry>>,
}

/// A client with the integration version it was built from.
pub type ClientEntry = (Millis, Arc<dyn Client>);

impl Clients {
    /// The client built from this version of the integration.
    pub fn get(&self, hook_id: &str, version: Millis) -> Option<Arc<dyn Client>> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(hook_id)
            .filter(|(v, _)| *v == version)
            .map(|(_, c)| c.clone())
    }

    /// Keeps a client built from `version`, unless one built from the same
    /// version got there first: then that one is answered and the new one
    /// dropped unused. Two clients of one integration would each hold a
    /// link (an SMPP bind), and the one replaced would take the receipts
    /// that arrive on its link away with it.
    pub fn put_first(
        &self,
        hook_id: String,
        version: Millis,
        client: Arc<dyn Client>,
    ) -> Arc<dyn Client> {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some((v, c)) = map.get(&hook_id) {
            if *v == version {
                return c.clone();
            }
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(hook_id, (version, client.clone()));
        client
    }

    /// Keeps a client.
    pub fn put(&self, hook_id: String, entry: ClientEntry) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(hook_id, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{SendReply, SendRequest};

    struct Named;

    #[async_trait::async_trait]
    impl Client for Named {
        async fn send(&self, _req: &SendRequest<'_>) -> SendReply {
            SendReply::Accepted { message_id: None }
        }
    }

    #[test]
    fn the_first_client_of_a_version_is_kept_and_a_newer_version_replaces_it() {
        let clients = Clients::default();
        let first: Arc<dyn Client> = Arc::new(Named);
        let kept = clients.put_first("h".into(), 1, first.clone());
        assert!(Arc::ptr_eq(&kept, &first));
        // A second resolve of the same version, racing the first, gets the
        // first one: one client, one link.
        let racing: Arc<dyn Client> = Arc::new(Named);
        let got = clients.put_first("h".into(), 1, racing.clone());
        assert!(Arc::ptr_eq(&got, &first));
        assert!(Arc::ptr_eq(&clients.get("h", 1).unwrap(), &first));
        // An updated integration gets its own.
        let newer: Arc<dyn Client> = Arc::new(Named);
        let got = clients.put_first("h".into(), 2, newer.clone());
        assert!(Arc::ptr_eq(&got, &newer));
        assert!(clients.get("h", 1).is_none());
    }
}
