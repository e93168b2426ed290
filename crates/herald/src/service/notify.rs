//! Notifications: planning a trigger (reach, routes, rendered texts),
//! accepting it durably, the dry run, and receipts coming back.

use super::schedule::{schedule_of, BookingInput, Timing};
use super::{check_id, App};
use crate::error::{invalid, Result, ServiceError};
use herald_core::{
    preview, reach, Audience, ChannelPlan, Millis, Plan, PlannedStart, PreviewChannel, Reach,
    Recipient, Rendered, Scenario, Schedule, Status, TypeConfig,
};
use herald_store::{Accepted, BookingLink, IncomingReceipt, NewNotification, ReceiptMatch, Tenant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A trigger as the API (and the CLI) send it; the preview takes the same
/// body. Exactly one of `client` and `staff`, fitting the type's audience.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerInput {
    /// The notification type key.
    #[serde(rename = "type")]
    pub type_key: String,
    /// The client, for a client type.
    #[serde(default)]
    pub client: Option<String>,
    /// The staff member, for a staff type.
    #[serde(default)]
    pub staff: Option<String>,
    /// What the templates need (a variable a template uses and `data`
    /// lacks → 422 `data.<name>`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Makes a retried trigger create nothing new.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The appointment it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingInput>,
    /// Start the cascade at this time (RFC 3339) instead of now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// Start the cascade this long before `booking.starts_at` (`24h`, `90m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_before_start: Option<String>,
    /// No attempt starts at or after this time (RFC 3339); default the
    /// booking's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_before: Option<String>,
}

impl TriggerInput {
    fn timing(&self) -> Timing<'_> {
        Timing {
            booking: self.booking.as_ref(),
            send_at: self.send_at.as_deref(),
            send_before_start: self.send_before_start.as_deref(),
            deliver_before: self.deliver_before.as_deref(),
        }
    }
}

/// A planned notification, before it is stored.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The type.
    pub type_key: String,
    /// Client or staff.
    pub audience: Audience,
    /// Recipient id.
    pub recipient_id: String,
    /// The recipient as stored now.
    pub recipient: Recipient,
    /// The cascade plan.
    pub plan: Plan,
    /// Rendered texts, per channel.
    pub rendered: Vec<Option<Rendered>>,
    /// When it may send (send time, deadline, quiet hours resolved).
    pub schedule: Schedule,
    /// The appointment it is about.
    pub booking: Option<BookingLink>,
    /// When it was planned.
    pub now: Millis,
}

/// One channel of a preview.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewItem {
    /// What would happen and why.
    #[serde(flatten)]
    pub channel: PreviewChannel,
    /// When it would start and why then.
    #[serde(skip)]
    pub start: PlannedStart,
    /// The text that would be sent.
    pub rendered: Option<Rendered>,
}

/// What a trigger did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triggered {
    /// A new notification, and its status (`scheduled` or `pending`).
    Created(String, Status),
    /// The notification of an earlier trigger with the same key.
    Existing(String),
}

impl App {
    /// Plans a trigger: finds the type and recipient, decides reach and
    /// routes per channel, and renders every channel that may be sent.
    pub async fn plan(&self, tenant: &Tenant, input: &TriggerInput) -> Result<Planned> {
        self.plan_as(tenant, input, None).await
    }

    /// [`App::plan`] with `draft` in place of the saved type (the console's
    /// live preview of unsaved edits); the draft is checked as a save would
    /// check it, so a broken rule is the same error here.
    pub async fn plan_as(
        &self,
        tenant: &Tenant,
        input: &TriggerInput,
        draft: Option<TypeConfig>,
    ) -> Result<Planned> {
        check_id("type", &input.type_key)?;
        let (audience, recipient_id) = match (&input.client, &input.staff) {
            (Some(c), None) => (Audience::Client, c.clone()),
            (None, Some(s)) => (Audience::Staff, s.clone()),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "staff",
                    "one_recipient",
                    "give exactly one of client and staff, not both",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "client",
                    "required",
                    "give exactly one of client and staff",
                ))
            }
        };
        let field = audience.as_str();
        check_id(field, &recipient_id)?;
        if let Some(k) = &input.idempotency_key {
            check_id("idempotency_key", k)?;
        }
        let now = self.now();
        let (mut schedule, booking) = schedule_of(input.timing(), now)?;
        let t = match draft {
            Some(config) => {
                config.validate()?;
                std::sync::Arc::new(herald_store::NotificationType {
                    key: input.type_key.clone(),
                    config,
                    updated_at: 0,
                })
            }
            None => self
                .notification_type(&tenant.id, &input.type_key)
                .await?
                .ok_or_else(|| {
                    invalid(
                        "type",
                        "unknown_type",
                        format!("no notification type {:?}", input.type_key),
                    )
                })?,
        };
        if t.config.audience != audience {
            return Err(invalid(
                field,
                "wrong_audience",
                format!(
                    "type {} is for a {}, not a {field}",
                    t.key,
                    t.config.audience.as_str()
                ),
            ));
        }
        let recipient = self
            .store
            .get_recipient(&tenant.id, audience, &recipient_id)
            .await?
            .ok_or_else(|| {
                invalid(
                    field,
                    "unknown_recipient",
                    format!("no {field} {recipient_id:?}"),
                )
            })?;
        let integrations = self.integrations(&tenant.id).await?;
        let empty = serde_json::Map::new();
        let data = input.data.as_ref().unwrap_or(&empty);
        let mut channels = Vec::with_capacity(t.config.channels.len());
        let mut rendered = Vec::with_capacity(t.config.channels.len());
        for s in &t.config.channels {
            let integration = integrations.get(&s.channel);
            let routes = match integration {
                Some(i) => self.routes_of(s.channel, i),
                None => vec![herald_core::Route::direct(s.channel)],
            };
            let reach = if s.scenario == Scenario::Off {
                Reach::Unreachable {
                    reason: "off".into(),
                }
            } else {
                reach(s.channel, audience, &recipient, integration.is_some())
            };
            let text = if s.scenario == Scenario::Off {
                None
            } else {
                Some(herald_core::template::render(
                    &t.config, &t.key, s.channel, &recipient, data,
                )?)
            };
            rendered.push(text);
            channels.push(ChannelPlan {
                channel: s.channel,
                scenario: s.scenario,
                reach,
                routes,
                confirm: integration.map_or(s.channel.default_confirm(), |i| i.confirm),
                window_s: integration.map_or(s.channel.default_window_s(), |i| i.window_s),
            });
        }
        schedule.quiet = self.quiet_hours_for(tenant, &t.config, &recipient).await?;
        Ok(Planned {
            schedule,
            booking,
            now,
            type_key: t.key.clone(),
            audience,
            recipient_id,
            recipient,
            plan: Plan {
                fallback_when: t.config.fallback_when,
                channels,
            },
            rendered,
        })
    }

    /// Accepts a trigger: plans it, stores it durably, wakes the workers.
    pub async fn trigger(&self, tenant: &Tenant, input: TriggerInput) -> Result<Triggered> {
        let planned = self.plan(tenant, &input).await?;
        // Absent data and `{}` are the same request.
        let mut canonical = input.clone();
        canonical.data.get_or_insert_with(Default::default);
        let body = serde_json::to_vec(&canonical)
            .map_err(|e| invalid("data", "invalid", e.to_string()))?;
        let n = NewNotification {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.id.clone(),
            type_key: planned.type_key,
            audience: planned.audience,
            recipient_id: planned.recipient_id,
            data: serde_json::Value::Object(input.data.unwrap_or_default()),
            idempotency_key: input.idempotency_key,
            keys_expire_before: Some(planned.now - self.idempotency_window_ms()),
            request_sha256: hex::encode(Sha256::digest(&body)),
            plan: planned.plan,
            rendered: planned.rendered,
            created_at: planned.now,
            schedule: planned.schedule,
            booking: planned.booking,
        };
        let status = if n.schedule.send_at.is_some_and(|at| at > n.created_at) {
            Status::Scheduled
        } else {
            Status::Pending
        };
        match self.store.accept_notification(n).await? {
            Accepted::Created(id) => {
                self.metrics.accepted();
                if status == Status::Scheduled {
                    self.metrics.scheduled();
                }
                self.work.notify_one();
                Ok(Triggered::Created(id, status))
            }
            Accepted::Existing(id) => Ok(Triggered::Existing(id)),
            Accepted::Conflict(id) => Err(ServiceError::Conflict(format!(
                "idempotency_key was used for notification {id} with a different body"
            ))),
        }
    }

    /// The dry run of a trigger: the plan and the texts, nothing stored.
    pub async fn preview(
        &self,
        tenant: &Tenant,
        input: &TriggerInput,
    ) -> Result<(Planned, Vec<PreviewItem>)> {
        self.preview_as(tenant, input, None).await
    }

    /// [`App::preview`] of a draft of the type (see [`App::plan_as`]).
    pub async fn preview_as(
        &self,
        tenant: &Tenant,
        input: &TriggerInput,
        draft: Option<TypeConfig>,
    ) -> Result<(Planned, Vec<PreviewItem>)> {
        let planned = self.plan_as(tenant, input, draft).await?;
        let items = preview(&planned.plan)
            .into_iter()
            .zip(planned.rendered.iter())
            .map(|(channel, r)| PreviewItem {
                start: planned.schedule.planned_start(channel.channel, planned.now),
                channel,
                rendered: r.clone(),
            })
            .collect();
        Ok((planned, items))
    }

    /// Takes several receipts at once (the simulator's due ones) into the
    /// cascade: the store records them in one transaction. One answer per
    /// receipt, in order.
    pub async fn ingest_receipts(&self, rs: Vec<IncomingReceipt>) -> Vec<Result<ReceiptMatch>> {
        let answers = self.store.record_receipts(rs).await;
        let mut moved = false;
        let out = answers
            .into_iter()
            .map(|m| {
                let m = m?;
                if let ReceiptMatch::Recorded { late } = m {
                    self.metrics.receipt(late);
                    moved = true;
                }
                Ok(m)
            })
            .collect();
        if moved {
            self.work.notify_one();
        }
        out
    }

    /// Takes a provider's receipt (webhook or simulator) into the cascade.
    pub async fn ingest_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        let m = self.store.record_receipt(r).await?;
        if let ReceiptMatch::Recorded { late } = m {
            self.metrics.receipt(late);
            self.work.notify_one();
        }
        Ok(m)
    }
}
