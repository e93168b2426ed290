//! Chains: an `sms` integration that is a provider per route, tried in
//! order (WhatsApp's Cloud API, then an SMPP link), each route with its own
//! settings, secrets, confirmation rule and window (API.md "Messenger then
//! SMS"). Stored as one integration of provider `chain` whose settings list
//! the routes, so the claim, the per-integration bound and the receipts'
//! matching work on it as on any integration; the chain's client hands each
//! send to the route's provider, and each route that calls back has a
//! webhook of its own, `/v1/hooks/{hook id}.{route}`.

use super::chain_client::ChainClient;
use super::integration_input::{check_window, settings_object};
use super::integrations::{kept_hook_id, Unconfigured};
use super::App;
use crate::api::model::ChainRouteView;
use crate::error::{invalid, Result};
use crate::providers::{Client, Provider};
use crate::secrets;
use herald_core::{Channel, Confirm, FieldError, Route};
use herald_store::{Integration, Owner};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// The provider name a chain is stored under.
pub const CHAIN: &str = "chain";

/// At most this many routes in a chain.
const MAX_ROUTES: usize = 4;

/// One route of a chain as a PUT gives it.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    /// The route's name (`whatsapp`, `sms`), one the provider offers.
    pub route: String,
    /// The provider that serves it.
    pub provider: String,
    /// The provider's settings.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// What counts as delivered on this route.
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// This route's window in seconds.
    #[serde(default)]
    pub window_s: Option<u32>,
}

impl std::fmt::Debug for RouteInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = super::integration_input::setting_names(&self.settings);
        f.debug_struct("RouteInput")
            .field("route", &self.route)
            .field("provider", &self.provider)
            .field("settings", &names)
            .field("confirm", &self.confirm)
            .field("window_s", &self.window_s)
            .finish()
    }
}

/// One route of a chain as stored: its secrets sealed, its confirmation
/// rule and window resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredRoute {
    route: String,
    provider: String,
    settings: Value,
    confirm: Confirm,
    window_s: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredChain {
    routes: Vec<StoredRoute>,
}

fn stored_chain(i: &Integration) -> Result<StoredChain, FieldError> {
    serde_json::from_value(i.settings.clone()).map_err(|e| {
        FieldError::new(
            "routes",
            "corrupt",
            format!("the stored chain does not read: {e}"),
        )
    })
}

fn valid_route_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Prefixes a member's error with its place in the chain.
fn in_route(i: usize, e: FieldError) -> FieldError {
    FieldError {
        field: format!("routes[{i}].{}", e.field),
        ..e
    }
}

impl App {
    fn member_provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// The routes of a channel's integration in order, with their kinds
    /// (and, for a chain, each route's confirmation rule and window).
    pub fn routes_of(&self, channel: Channel, i: &Integration) -> Vec<Route> {
        if i.provider == CHAIN {
            let Ok(chain) = stored_chain(i) else {
                return vec![Route::direct(channel)];
            };
            return chain
                .routes
                .iter()
                .map(|r| {
                    let kind = self
                        .member_provider(&r.provider)
                        .and_then(|p| {
                            p.routes(channel, &r.settings)
                                .into_iter()
                                .find(|x| x.name == r.route)
                        })
                        .map_or(herald_core::RouteKind::Sms, |x| x.kind);
                    Route::new(r.route.clone(), kind).with_confirmation(r.confirm, r.window_s)
                })
                .collect();
        }
        match self.providers.get(&i.provider) {
            Some(p) => p.routes(channel, &i.settings),
            None => vec![Route::direct(channel)],
        }
    }

    /// Creates or replaces a chain: every route's provider checked, its
    /// settings configured into a client, its secrets sealed (a route of
    /// the same name and provider keeps the secrets a PUT leaves out).
    pub(super) async fn put_chain(
        &self,
        owner: Owner<'_>,
        channel: Channel,
        input: super::IntegrationInput,
    ) -> Result<Integration> {
        if channel != Channel::Sms {
            return Err(invalid(
                "routes",
                "chain_not_for_channel",
                format!("a chain of providers serves the sms channel only, not {channel}"),
            ));
        }
        if settings_object(input.settings, "settings")?
            .values()
            .any(|v| !v.is_null())
        {
            return Err(invalid(
                "settings",
                "settings_of_a_chain",
                "a chain has no settings of its own: each route has its settings",
            ));
        }
        let routes = input.routes.unwrap_or_default();
        if routes.is_empty() || routes.len() > MAX_ROUTES {
            return Err(invalid(
                "routes",
                "wrong_length",
                format!("a chain has 1 to {MAX_ROUTES} routes"),
            ));
        }
        let existing = self
            .store
            .get_integration(owner, channel)
            .await?
            .filter(|e| e.provider == CHAIN);
        let old = existing
            .as_ref()
            .and_then(|e| stored_chain(e).ok())
            .unwrap_or_default();
        let confirm = input.confirm.unwrap_or(channel.default_confirm());
        let window_s = input.window_s.unwrap_or(channel.default_window_s());
        let mut stored = Vec::with_capacity(routes.len());
        for (i, r) in routes.into_iter().enumerate() {
            let field = |f: &str| format!("routes[{i}].{f}");
            if !valid_route_name(&r.route) {
                return Err(invalid(
                    field("route"),
                    "invalid_route",
                    "a route's name is 1 to 32 lowercase letters, digits or _",
                ));
            }
            if stored.iter().any(|s: &StoredRoute| s.route == r.route) {
                return Err(invalid(
                    field("route"),
                    "duplicate_route",
                    format!("route {} is already in the chain", r.route),
                ));
            }
            check_window(r.window_s, &field("window_s"))?;
            let provider = match self.member_provider(&r.provider) {
                Some(p) if r.provider != CHAIN => p.clone(),
                _ => {
                    return Err(invalid(
                        field("provider"),
                        "unknown_provider",
                        format!(
                            "unknown provider {:?}; known: {}",
                            r.provider,
                            self.providers.names().join(", ")
                        ),
                    ))
                }
            };
            if !provider.supports(channel) {
                return Err(invalid(
                    field("provider"),
                    "provider_not_for_channel",
                    format!("provider {} cannot serve the {channel} channel", r.provider),
                ));
            }
            let given = settings_object(r.settings, &field("settings"))?;
            let kept = old
                .routes
                .iter()
                .find(|o| o.route == r.route && o.provider == r.provider)
                .and_then(|o| o.settings.as_object());
            let settings = Value::Object(self.merge_settings(given, provider.secrets(), kept));
            let offered = provider.routes(channel, &settings);
            if !offered.iter().any(|x| x.name == r.route) {
                let names: Vec<&str> = offered.iter().map(|x| x.name.as_str()).collect();
                return Err(invalid(
                    field("route"),
                    "route_not_offered",
                    format!(
                        "provider {} offers the route(s) {} with these settings, not {}",
                        r.provider,
                        names.join(", "),
                        r.route
                    ),
                ));
            }
            stored.push(StoredRoute {
                route: r.route,
                provider: r.provider,
                settings,
                confirm: r.confirm.unwrap_or(confirm),
                window_s: r.window_s.unwrap_or(window_s),
            });
        }
        let integration = Integration {
            channel,
            provider: CHAIN.into(),
            settings: serde_json::to_value(StoredChain { routes: stored })
                .map_err(|e| invalid("routes", "invalid", e.to_string()))?,
            confirm,
            window_s,
            updated_at: super::now_ms(),
            hook_id: kept_hook_id(existing.as_ref()),
            inherited: false,
            max_per_second: input.max_per_second,
            price_per_segment: input.price_per_segment,
        };
        let client = match self.chain_client(&integration) {
            Ok(c) => c,
            Err(Unconfigured::Settings(e)) => return Err(e.into()),
            Err(Unconfigured::Secret(e)) => {
                return Err(invalid("routes", "unreadable_secret", e.to_string()))
            }
        };
        self.save_integration(owner, integration, client).await
    }

    /// Builds a chain's client: one client per route, each configured as
    /// that provider's own integration would be, with receipts matched
    /// against the chain's messages and callbacks at the route's webhook.
    pub(super) fn chain_client(
        &self,
        i: &Integration,
    ) -> std::result::Result<Arc<dyn Client>, Unconfigured> {
        let chain = stored_chain(i).map_err(Unconfigured::Settings)?;
        let mut members = Vec::with_capacity(chain.routes.len());
        for (n, r) in chain.routes.iter().enumerate() {
            let provider = self.member_provider(&r.provider).ok_or_else(|| {
                Unconfigured::Settings(FieldError::new(
                    format!("routes[{n}].provider"),
                    "unknown_provider",
                    format!("provider {} is not available in this build", r.provider),
                ))
            })?;
            let webhook = format!("{}.{}", i.hook_id, r.route);
            let client = self
                .configure_provider(
                    provider.as_ref(),
                    i.channel,
                    &r.settings,
                    &i.hook_id,
                    &webhook,
                )
                .map_err(|e| match e {
                    Unconfigured::Settings(e) => Unconfigured::Settings(in_route(n, e)),
                    other => other,
                })?;
            members.push((r.route.clone(), client));
        }
        Ok(Arc::new(ChainClient { members }))
    }

    /// A chain as a GET shows it: each route with its settings redacted
    /// as its provider's own integration would be, and its webhook URL
    /// when its provider calls back.
    pub(super) fn chain_routes_view(&self, i: &Integration) -> Vec<ChainRouteView> {
        let Ok(chain) = stored_chain(i) else {
            return Vec::new();
        };
        chain
            .routes
            .iter()
            .map(|r| {
                let provider = self.member_provider(&r.provider);
                let names = provider.map(|p| p.secrets()).unwrap_or(&[]);
                let webhook_url = provider
                    .is_some_and(|p| p.calls_back())
                    .then(|| self.webhook_url(&format!("{}.{}", i.hook_id, r.route)));
                ChainRouteView {
                    route: r.route.clone(),
                    provider: r.provider.clone(),
                    settings: secrets::redact(&r.settings, names),
                    confirm: r.confirm,
                    window_s: r.window_s,
                    webhook_url,
                }
            })
            .collect()
    }
}

/// The name, settings and webhook of a chain's routes are checked by
/// configuring them; these tests cover what needs no provider.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn route_names_are_plain() {
        assert!(valid_route_name("whatsapp"));
        assert!(valid_route_name("sms_2"));
        assert!(!valid_route_name(""));
        assert!(!valid_route_name("Whats App"));
        assert!(!valid_route_name("a.b"));
        assert!(!valid_route_name(&"x".repeat(33)));
    }

    #[test]
    fn a_route_input_shows_no_setting_values_in_debug() {
        let r: RouteInput = serde_json::from_value(json!({
            "route": "whatsapp", "provider": "whatsapp",
            "settings": {"access_token": "EAAG-secret"}
        }))
        .unwrap();
        let shown = format!("{r:?}");
        assert!(shown.contains("access_token"), "{shown}");
        assert!(!shown.contains("EAAG-secret"), "{shown}");
    }

    #[test]
    fn a_member_error_names_its_route() {
        let e = in_route(
            1,
            FieldError::new("settings.host", "missing_field", "host is required"),
        );
        assert_eq!(e.field, "routes[1].settings.host");
    }

    #[test]
    fn an_unknown_stored_shape_is_an_error_not_a_panic() {
        let i = Integration {
            channel: Channel::Sms,
            provider: CHAIN.into(),
            settings: json!({"routes": "no"}),
            confirm: Confirm::Receipt,
            window_s: 600,
            updated_at: 0,
            hook_id: "h".into(),
            inherited: false,
            max_per_second: None,
            price_per_segment: None,
        };
        assert!(stored_chain(&i).is_err());
    }
}
