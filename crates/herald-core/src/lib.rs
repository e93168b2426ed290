//! Herald's pure core: the vocabulary of cascades, configuration rules,
//! templates, the cascade decision and retry timing. No I/O, no clock.

pub mod channel;
pub mod config;
pub mod engine;
pub mod error;
pub mod plan;
pub mod preview;
pub mod recipient;
pub mod retry;
pub mod schedule;
pub mod sms;
pub mod template;
mod verdict;

pub use channel::{Audience, Channel, Confirm, FallbackWhen, Millis, Outcome, Scenario, Status};
pub use config::{ChannelSetting, TemplateText, TypeConfig};
pub use engine::{
    decide, decide_scheduled, preview, AttemptFacts, AttemptState, ChannelPlan, ChannelVerdict,
    Decision, Plan, PreviewChannel, Reach, ReceiptFact, StartAttempt,
};
pub use error::FieldError;
pub use plan::{known_route, known_route_names, Route, RouteKind, KNOWN_ROUTES};
pub use recipient::{reach, AppInstall, Platform, Recipient};
pub use schedule::{PlannedStart, QuietHours, QuietMode, Schedule};
pub use template::Rendered;
