//! A plan in two parts, the same on every backend: its *shape* (the plan
//! with every channel's reach emptied), which every notification of a type
//! and configuration shares and which is stored once; and its *reach*, kept
//! on the notification: per channel the array of its addresses, or the
//! string saying why it is unreachable. A plan with its addresses in it
//! would be stored once per recipient instead of once per type.

use crate::codec::{corrupt, encode};
use crate::Result;
use herald_core::{Plan, Reach};
use serde::{Deserialize, Serialize};

/// The plan's shape: what notifications of a type share.
pub(crate) fn shape_of(plan: &Plan) -> Plan {
    let mut shape = plan.clone();
    for c in &mut shape.channels {
        c.reach = Reach::Addresses { to: Vec::new() };
    }
    shape
}

/// A shape as its stored text (`plans.doc` on SQLite, `plans.plan` on
/// PostgreSQL).
pub(crate) fn shape_doc(shape: &Plan) -> Result<String> {
    encode(shape, "plan shape")
}

/// A stored shape as its plan.
pub(crate) fn shape_from(doc: &str) -> Result<Plan> {
    serde_json::from_str(doc).map_err(|e| corrupt("plan shape", e))
}

/// One channel's reach as stored: its addresses or why it has none.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredReach {
    To(Vec<String>),
    Unreachable(String),
}

/// The notification's `reach` column of a plan.
pub(crate) fn reach_doc(plan: &Plan) -> Result<String> {
    let reach: Vec<StoredReach> = plan
        .channels
        .iter()
        .map(|c| match &c.reach {
            Reach::Addresses { to } => StoredReach::To(to.clone()),
            Reach::Unreachable { reason } => StoredReach::Unreachable(reason.clone()),
        })
        .collect();
    encode(&reach, "reach")
}

/// The notification's plan from its shape and `reach` column (`None`: a
/// row copied by the migration, whose plan row is the whole plan).
pub(crate) fn plan_from(shape: &Plan, reach: Option<&str>) -> Result<Plan> {
    let Some(reach) = reach else {
        return Ok(shape.clone());
    };
    let reach: Vec<StoredReach> = serde_json::from_str(reach).map_err(|e| corrupt("reach", e))?;
    if reach.len() != shape.channels.len() {
        return Err(corrupt(
            "reach",
            format!(
                "{} channels for a plan of {}",
                reach.len(),
                shape.channels.len()
            ),
        ));
    }
    let mut plan = shape.clone();
    for (c, r) in plan.channels.iter_mut().zip(reach) {
        c.reach = match r {
            StoredReach::To(to) => Reach::Addresses { to },
            StoredReach::Unreachable(reason) => Reach::Unreachable { reason },
        };
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::{Channel, ChannelPlan, Confirm, FallbackWhen, Route, Scenario};

    fn channel(channel: Channel, reach: Reach) -> ChannelPlan {
        ChannelPlan {
            channel,
            scenario: Scenario::Always,
            reach,
            routes: vec![Route::direct(channel)],
            confirm: Confirm::Receipt,
            window_s: 300,
        }
    }

    #[test]
    fn a_plan_is_its_shape_and_its_reach() {
        let plan = Plan {
            fallback_when: FallbackWhen::NoneDelivered,
            channels: vec![
                channel(
                    Channel::Email,
                    Reach::Addresses {
                        to: vec!["ana@example.com".into()],
                    },
                ),
                channel(
                    Channel::Sms,
                    Reach::Unreachable {
                        reason: "no phone".into(),
                    },
                ),
            ],
        };
        let shape = shape_of(&plan);
        let mut other = plan.clone();
        other.channels[0].reach = Reach::Addresses {
            to: vec!["bo@example.com".into(), "~x".into()],
        };
        // Two recipients, one shape.
        assert_eq!(
            shape_doc(&shape_of(&other)).unwrap(),
            shape_doc(&shape).unwrap()
        );
        let doc = reach_doc(&plan).unwrap();
        assert_eq!(doc, r#"[["ana@example.com"],"no phone"]"#);
        let shape = shape_from(&shape_doc(&shape).unwrap()).unwrap();
        assert_eq!(plan_from(&shape, Some(&doc)).unwrap(), plan);
        assert_eq!(
            plan_from(&shape, Some(&reach_doc(&other).unwrap())).unwrap(),
            other
        );
        // A whole plan (a migrated row) with no reach column.
        assert_eq!(plan_from(&plan, None).unwrap(), plan);
        assert!(plan_from(&shape, Some(r#"[["a"]]"#)).is_err());
        assert!(plan_from(&shape, Some("[1,2]")).is_err());
    }
}
