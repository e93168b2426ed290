//! The vocabulary of a cascade: channels, scenarios, audiences, confirmation
//! modes, and the rules that tie them together (SPEC.md "Channels").

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC. The engine reasons in plain
/// integers so that it stays a pure function of recorded facts.
pub type Millis = i64;

/// A delivery channel, in the vocabulary of the API.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Channel {
    /// E-mail over SMTP.
    Email,
    /// Push to the business's staff app.
    AdminApp,
    /// Push to the free consumer app.
    Aunio,
    /// Push to the business's own branded app.
    BrandedApp,
    /// The tenant's SMS/messenger integration.
    Sms,
}

impl Channel {
    /// Every channel, in the order the API lists them.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::AdminApp,
        Channel::Aunio,
        Channel::BrandedApp,
        Channel::Sms,
    ];

    /// The API name of the channel.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::AdminApp => "admin_app",
            Channel::Aunio => "aunio",
            Channel::BrandedApp => "branded_app",
            Channel::Sms => "sms",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What a support agent calls it in a sentence.
    pub fn human(self) -> &'static str {
        match self {
            Channel::Email => "e-mail",
            Channel::AdminApp => "admin app",
            Channel::Aunio => "Aunio app",
            Channel::BrandedApp => "branded app",
            Channel::Sms => "SMS",
        }
    }

    /// Scenarios the channel accepts (SPEC.md table).
    pub fn allows(self, scenario: Scenario) -> bool {
        match scenario {
            Scenario::Off | Scenario::Always => true,
            Scenario::Fallback => matches!(self, Channel::BrandedApp | Channel::Sms),
        }
    }

    /// Whether the channel can reach people of this audience.
    pub fn reaches(self, audience: Audience) -> bool {
        match self {
            Channel::Email | Channel::Sms => true,
            Channel::AdminApp => audience == Audience::Staff,
            Channel::Aunio | Channel::BrandedApp => audience == Audience::Client,
        }
    }

    /// Whether the channel is an app push channel (one attempt per device).
    pub fn is_push(self) -> bool {
        matches!(
            self,
            Channel::AdminApp | Channel::Aunio | Channel::BrandedApp
        )
    }

    /// The priority group of SPEC.md "The order": e-mail first, then the
    /// always-only push channels, then the channels that can fall back.
    pub fn priority_group(self) -> u8 {
        match self {
            Channel::Email => 0,
            Channel::AdminApp | Channel::Aunio => 1,
            Channel::BrandedApp | Channel::Sms => 2,
        }
    }

    /// How confirmation works on this channel when the integration does not say.
    pub fn default_confirm(self) -> Confirm {
        match self {
            Channel::Sms => Confirm::Receipt,
            _ => Confirm::Accepted,
        }
    }

    /// The default confirmation window in seconds.
    pub fn default_window_s(self) -> u32 {
        match self {
            Channel::Sms => 600,
            _ => 300,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a channel is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Scenario {
    /// Never sent.
    Off,
    /// Sent whatever happens on the other channels.
    Always,
    /// Sent only when the earlier channels did not get through.
    Fallback,
}

impl Scenario {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Off => "off",
            Scenario::Always => "always",
            Scenario::Fallback => "fallback",
        }
    }
}

/// Who a notification type is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Audience {
    /// The business's clients.
    Client,
    /// The business's staff.
    Staff,
}

impl Audience {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Client => "client",
            Audience::Staff => "staff",
        }
    }
}

/// Which earlier outcome makes a `fallback` channel go out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum FallbackWhen {
    /// Send when no earlier channel delivered (the cost-saving default).
    #[default]
    NoneDelivered,
    /// Send when any earlier channel failed or was unreachable.
    AnyFailed,
}

/// What counts as delivered on an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Confirm {
    /// The provider's acceptance counts as delivered.
    Accepted,
    /// Wait for a delivery receipt within the window.
    Receipt,
}

/// The outcome of one channel for one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Outcome {
    /// Not decided yet.
    Pending,
    /// Got through.
    Delivered,
    /// Sent and did not get through.
    Failed,
    /// Nothing to send to.
    Unreachable,
    /// The scenario said not to send.
    Skipped,
    /// Not sent: the deadline (the appointment's start) came first.
    Expired,
    /// Not sent: the notification was cancelled.
    Cancelled,
}

impl Outcome {
    /// Whether the outcome is final.
    pub fn is_final(self) -> bool {
        self != Outcome::Pending
    }
}

/// The overall status of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Status {
    /// Some channel has no outcome yet.
    Pending,
    /// Every channel has an outcome and at least one delivered.
    Delivered,
    /// Every channel has an outcome and none delivered.
    Failed,
    /// Waiting for its send time; nothing has started.
    Scheduled,
    /// Cancelled, and nothing was delivered.
    Cancelled,
    /// Nothing delivered, and the deadline passed.
    Expired,
}

impl Status {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Scheduled => "scheduled",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "delivered" => Some(Status::Delivered),
            "failed" => Some(Status::Failed),
            "scheduled" => Some(Status::Scheduled),
            "cancelled" => Some(Status::Cancelled),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }
}

/// Serialize and Deserialize for a unit enum derived with `remote =
/// "Self"`: written as its derive would, read from a JSON string and
/// nothing else. serde's derive also takes the map form of an enum
/// (`{"always": null}`), which the API must refuse as the wrong JSON type
/// (400), while an unknown string stays an unknown value (422).
macro_rules! string_enum {
    ($($t:ty),+ $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::{Error, IntoDeserializer};
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                    text.as_ref().into_deserializer();
                <$t>::deserialize(de).map_err(D::Error::custom)
            }
        }
    )+};
}
pub(crate) use string_enum;

string_enum!(
    Channel,
    Scenario,
    Audience,
    FallbackWhen,
    Confirm,
    Outcome,
    Status
);
