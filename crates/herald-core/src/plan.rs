//! What the cascade decides over: the plan fixed when a notification is
//! accepted, the facts recorded about its attempts, and the decision's
//! shape. Plain data, serialized as the store keeps it.

use crate::channel::{Channel, Confirm, FallbackWhen, Millis, Outcome, Scenario, Status};
use serde::{Deserialize, Serialize};

/// Whether a channel has somewhere to send, decided at trigger time from the
/// recipient, their opt-outs and the tenant's integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reach {
    /// The addresses (e-mail, phone, device tokens) to send to.
    Addresses {
        /// One attempt chain per address.
        to: Vec<String>,
    },
    /// Nothing to send to, and why.
    Unreachable {
        /// A sentence for a support agent.
        reason: String,
    },
}

/// One channel of a notification as planned when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPlan {
    /// The channel.
    pub channel: Channel,
    /// Its scenario in the notification type.
    pub scenario: Scenario,
    /// Where it can send.
    pub reach: Reach,
    /// Routes tried in order for each address (WhatsApp, then SMS); push
    /// and e-mail have one route named after the channel.
    pub routes: Vec<Route>,
    /// What counts as delivered.
    pub confirm: Confirm,
    /// The confirmation window of each attempt, in seconds.
    pub window_s: u32,
}

impl ChannelPlan {
    fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The kind of one of its routes, by name.
    pub fn route_kind(&self, name: &str) -> Option<RouteKind> {
        self.route(name).map(|r| r.kind)
    }

    /// What counts as delivered on a route: its own rule when it has one
    /// (each provider of a chain has its own), else the channel's.
    pub fn confirm_of(&self, route: &str) -> Confirm {
        self.route(route)
            .and_then(|r| r.confirm)
            .unwrap_or(self.confirm)
    }

    /// The confirmation window of an attempt on a route, in seconds.
    pub fn window_s_of(&self, route: &str) -> u32 {
        self.route(route)
            .and_then(|r| r.window_s)
            .unwrap_or(self.window_s)
    }

    /// The confirmation window of an attempt on a route.
    pub fn window_ms_of(&self, route: &str) -> Millis {
        Millis::from(self.window_s_of(route)) * 1000
    }

    /// The routes' names, in order.
    pub fn route_names(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.name.clone()).collect()
    }
}

/// What a route is: the cascade treats a refusal on each differently, so
/// the provider that offers the route says which it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum RouteKind {
    /// A messenger (WhatsApp, Viber…): a number may simply not be on it,
    /// which makes the route unreachable and the next route go.
    Messenger,
    /// SMS itself: a refused number is a failure.
    Sms,
    /// The channel itself (e-mail, a push app): one route.
    Direct,
}

crate::channel::string_enum!(RouteKind);

/// The routes Herald knows on the `sms` channel, in the names providers
/// and attempts use: the messengers aggregators offer, and SMS itself.
pub const KNOWN_ROUTES: [(&str, RouteKind); 5] = [
    ("whatsapp", RouteKind::Messenger),
    ("viber", RouteKind::Messenger),
    ("telegram", RouteKind::Messenger),
    ("rcs", RouteKind::Messenger),
    ("sms", RouteKind::Sms),
];

/// A known route of the `sms` channel by name.
pub fn known_route(name: &str) -> Option<Route> {
    KNOWN_ROUTES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, kind)| Route::new(*n, *kind))
}

/// The known routes' names, for error messages.
pub fn known_route_names() -> String {
    KNOWN_ROUTES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One route of a channel: its name (as attempts record it), its kind,
/// and, when a chain gives each provider its own, the route's
/// confirmation rule and window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "RouteRepr")]
pub struct Route {
    /// `whatsapp`, `sms`, or the channel's name.
    pub name: String,
    /// What it is.
    pub kind: RouteKind,
    /// What counts as delivered on this route, when not the channel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
    /// This route's window in seconds, when not the channel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u32>,
}

impl Route {
    /// A route of a kind.
    pub fn new(name: impl Into<String>, kind: RouteKind) -> Route {
        Route {
            name: name.into(),
            kind,
            confirm: None,
            window_s: None,
        }
    }

    /// The route with its own confirmation rule and window.
    pub fn with_confirmation(mut self, confirm: Confirm, window_s: u32) -> Route {
        self.confirm = Some(confirm);
        self.window_s = Some(window_s);
        self
    }

    /// The one route of a channel that has no routes of its own.
    pub fn direct(channel: crate::Channel) -> Route {
        Route::new(channel.as_str(), RouteKind::Direct)
    }
}

/// How a route is stored: plans written before routes had kinds hold
/// only names, and then `sms` was SMS and any other name a messenger.
#[derive(Deserialize)]
#[serde(untagged)]
enum RouteRepr {
    Full {
        name: String,
        kind: RouteKind,
        #[serde(default)]
        confirm: Option<Confirm>,
        #[serde(default)]
        window_s: Option<u32>,
    },
    Name(String),
}

impl From<RouteRepr> for Route {
    fn from(r: RouteRepr) -> Route {
        match r {
            RouteRepr::Full {
                name,
                kind,
                confirm,
                window_s,
            } => Route {
                name,
                kind,
                confirm,
                window_s,
            },
            RouteRepr::Name(name) => Route::from(name.as_str()),
        }
    }
}

/// A route by the names Herald's plans used before routes had kinds (and
/// that tests use): `sms` is SMS, a channel's name is that channel, any
/// other name a messenger. Providers say their routes' kinds instead.
impl From<&str> for Route {
    fn from(name: &str) -> Route {
        let kind = match name {
            "sms" => RouteKind::Sms,
            "email" | "admin_app" | "aunio" | "branded_app" => RouteKind::Direct,
            _ => RouteKind::Messenger,
        };
        Route::new(name, kind)
    }
}

/// The static part of a notification's cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// When a `fallback` channel goes out.
    pub fallback_when: FallbackWhen,
    /// The channels in the type's order.
    pub channels: Vec<ChannelPlan>,
}

/// What the provider has said about an attempt so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptState {
    /// Stored; queued, in flight, or waiting to retry after a transient error.
    Open,
    /// The provider accepted the message at `at`.
    Accepted {
        /// When the acceptance was answered.
        at: Millis,
    },
    /// The provider refused the message for good.
    Refused {
        /// When.
        at: Millis,
        /// The provider's words.
        error: String,
        /// The address or device is dead or not on this route. On the `sms`
        /// channel this makes the route `unreachable` (the next route is
        /// tried); on e-mail and push a refusal is `failed` either way.
        unreachable: bool,
    },
    /// Transient errors until the window closed.
    GaveUp {
        /// When Herald stopped retrying.
        at: Millis,
        /// The last error.
        error: String,
    },
}

/// A delivery or failure receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFact {
    /// Delivered (true) or failed (false).
    pub delivered: bool,
    /// When it arrived.
    pub at: Millis,
    /// The provider's reason for a failure.
    pub error: Option<String>,
}

/// Whether something that happened at `at` falls outside a window ending at
/// `deadline`. Windows are `[created_at, deadline)`: at the deadline itself
/// `decide` has already called the attempt failed, so a receipt then is late.
pub fn is_late_at(deadline: Millis, at: Millis) -> bool {
    at >= deadline
}

/// Everything recorded about one attempt: one message to one address over one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFacts {
    /// Index of the channel in the plan.
    pub channel_idx: usize,
    /// The route.
    pub route: String,
    /// The address or device token.
    pub to: String,
    /// When the attempt was stored; its window starts here.
    pub created_at: Millis,
    /// The provider's answer so far.
    pub state: AttemptState,
    /// Receipts in arrival order.
    pub receipts: Vec<ReceiptFact>,
}

impl AttemptFacts {
    /// The end of this attempt's confirmation window (its route's). The
    /// window is half-open, `[created_at, deadline)`: an answer or receipt
    /// stamped at the deadline or later is late, and at `now == deadline`
    /// an attempt without an answer has already failed.
    pub fn deadline(&self, plan: &ChannelPlan) -> Millis {
        self.created_at + plan.window_ms_of(&self.route)
    }

    /// Whether a receipt (or answer) arriving at `at` is after the window.
    pub fn is_late(&self, plan: &ChannelPlan, at: Millis) -> bool {
        is_late_at(self.deadline(plan), at)
    }
}

/// An attempt `decide` wants created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartAttempt {
    /// Index of the channel in the plan.
    pub channel_idx: usize,
    /// The route.
    pub route: String,
    /// The address or device token.
    pub to: String,
}

/// A channel's outcome and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelVerdict {
    /// The outcome so far.
    pub outcome: Outcome,
    /// Why, for a support agent.
    pub reason: String,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// One verdict per channel, in plan order.
    pub channels: Vec<ChannelVerdict>,
    /// Attempts to create (and send) now.
    pub start: Vec<StartAttempt>,
    /// Call `decide` again at this time even if nothing else happens.
    pub wake_at: Option<Millis>,
    /// The notification's status.
    pub status: Status,
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn routes_stored_as_names_read_with_the_old_meaning() {
        let r: Vec<Route> = serde_json::from_str(r#"["whatsapp", "sms"]"#).unwrap();
        assert_eq!(
            r,
            vec![
                Route::new("whatsapp", RouteKind::Messenger),
                Route::new("sms", RouteKind::Sms)
            ]
        );
        // Written with their kinds, read back the same.
        let plain = Route::new("text", RouteKind::Sms);
        let back: Route = serde_json::from_value(serde_json::to_value(&plain).unwrap()).unwrap();
        assert_eq!(back, plain);
    }
}
