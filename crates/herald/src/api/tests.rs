//! Router-level tests over an in-memory store: routing, auth, error shapes
//! and status codes, without a database or a server.

use super::router;
use crate::providers::{Client, Configure, Provider, Registry, SendReply, SendRequest};
use crate::service::App;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use herald_core::{Audience, Channel, FieldError, Millis, Recipient, Status};
use herald_store::{
    Accepted, ClaimBudget, ClaimedAttempt, HookedIntegration, IncomingReceipt, Integration,
    ListQuery, NewNotification, NotificationRecord, NotificationSummary, NotificationType,
    OutboxQuery, Owner, ReceiptMatch, SendResult, SimAnswer, SimMessage, SimReceiptDue, SimSend,
    SimStore, Store, StoreError, Tenant,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// Everything the mock keeps.
#[derive(Default)]
struct Data {
    meta: HashMap<String, String>,
    tenants: HashMap<String, Tenant>,
    integrations: HashMap<(Option<String>, Channel), Integration>,
    types: HashMap<(String, String), NotificationType>,
    recipients: HashMap<(String, Audience, String), Recipient>,
    notifications: Vec<(NewNotification, NotificationRecord)>,
    outbox: Vec<(String, SimMessage)>,
}

/// A store in memory, enough for the API's calls.
#[derive(Default)]
struct MockStore {
    data: Mutex<Data>,
    down: bool,
}

impl MockStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap()
    }
}

#[async_trait]
impl Store for MockStore {
    async fn ping(&self) -> Result<(), StoreError> {
        if self.down {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().meta.get(key).cloned())
    }
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock().meta.insert(key.into(), value.into());
        Ok(())
    }
    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<(), StoreError> {
        self.lock()
            .tenants
            .insert(api_key_sha256.into(), tenant.clone());
        Ok(())
    }
    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self.lock().tenants.get(api_key_sha256).cloned())
    }
    async fn put_integration(&self, owner: Owner<'_>, i: &Integration) -> Result<(), StoreError> {
        self.lock()
            .integrations
            .insert((owner_key(owner), i.channel), i.clone());
        Ok(())
    }
    async fn get_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<Option<Integration>, StoreError> {
        Ok(self
            .lock()
            .integrations
            .get(&(owner_key(owner), channel))
            .cloned())
    }
    async fn list_integrations(&self, owner: Owner<'_>) -> Result<Vec<Integration>, StoreError> {
        let key = owner_key(owner);
        let mut v: Vec<Integration> = self
            .lock()
            .integrations
            .iter()
            .filter(|((t, _), _)| *t == key)
            .map(|(_, i)| i.clone())
            .collect();
        v.sort_by_key(|i| i.channel);
        Ok(v)
    }
    async fn delete_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .integrations
            .remove(&(owner_key(owner), channel))
            .is_some())
    }
    async fn integrations_of_provider(
        &self,
        provider: &str,
    ) -> Result<Vec<HookedIntegration>, StoreError> {
        Ok(self
            .lock()
            .integrations
            .iter()
            .filter(|(_, i)| i.provider == provider)
            .map(|((t, _), i)| HookedIntegration {
                tenant_id: t.clone(),
                integration: i.clone(),
            })
            .collect())
    }
    async fn integration_by_hook(
        &self,
        hook_id: &str,
    ) -> Result<Option<HookedIntegration>, StoreError> {
        Ok(self
            .lock()
            .integrations
            .iter()
            .find(|(_, i)| i.hook_id == hook_id)
            .map(|((t, _), i)| HookedIntegration {
                tenant_id: t.clone(),
                integration: i.clone(),
            }))
    }
    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<(), StoreError> {
        self.lock()
            .types
            .insert((tenant_id.into(), t.key.clone()), t.clone());
        Ok(())
    }
    async fn get_type(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<NotificationType>, StoreError> {
        Ok(self
            .lock()
            .types
            .get(&(tenant_id.to_string(), key.to_string()))
            .cloned())
    }
    async fn list_types(&self, tenant_id: &str) -> Result<Vec<NotificationType>, StoreError> {
        let mut v: Vec<NotificationType> = self
            .lock()
            .types
            .iter()
            .filter(|((t, _), _)| t == tenant_id)
            .map(|(_, x)| x.clone())
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(v)
    }
    async fn put_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
        r: &Recipient,
    ) -> Result<(), StoreError> {
        self.lock()
            .recipients
            .insert((tenant_id.into(), kind, id.into()), r.clone());
        Ok(())
    }
    async fn get_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<Option<Recipient>, StoreError> {
        Ok(self
            .lock()
            .recipients
            .get(&(tenant_id.to_string(), kind, id.to_string()))
            .cloned())
    }
    async fn accept_notification(&self, n: NewNotification) -> Result<Accepted, StoreError> {
        let mut d = self.lock();
        if let Some(k) = &n.idempotency_key {
            if let Some((old, _)) = d
                .notifications
                .iter()
                .find(|(o, _)| o.tenant_id == n.tenant_id && o.idempotency_key.as_ref() == Some(k))
            {
                return Ok(if old.request_sha256 == n.request_sha256 {
                    Accepted::Existing(old.id.clone())
                } else {
                    Accepted::Conflict(old.id.clone())
                });
            }
        }
        let rec = NotificationRecord {
            id: n.id.clone(),
            tenant_id: n.tenant_id.clone(),
            type_key: n.type_key.clone(),
            audience: n.audience,
            recipient_id: n.recipient_id.clone(),
            data: n.data.clone(),
            idempotency_key: n.idempotency_key.clone(),
            status: Status::Pending,
            created_at: n.created_at,
            updated_at: n.created_at,
            plan: n.plan.clone(),
            rendered: n.rendered.clone(),
            verdicts: vec![],
            wake_at: None,
            attempts: vec![],
            schedule: n.schedule.clone(),
            booking: n.booking.clone(),
        };
        let id = n.id.clone();
        d.notifications.push((n, rec));
        Ok(Accepted::Created(id))
    }
    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        Ok(self
            .lock()
            .notifications
            .iter()
            .find(|(_, r)| r.tenant_id == tenant_id && r.id == id)
            .map(|(_, r)| r.clone()))
    }
    async fn list_notifications(
        &self,
        tenant_id: &str,
        q: &ListQuery,
    ) -> Result<Vec<NotificationSummary>, StoreError> {
        let d = self.lock();
        let mut v: Vec<NotificationSummary> = d
            .notifications
            .iter()
            .rev()
            .map(|(_, r)| r)
            .filter(|r| r.tenant_id == tenant_id)
            .filter(|r| q.before.as_ref().is_none_or(|b| r.id < *b))
            .map(|r| NotificationSummary {
                id: r.id.clone(),
                type_key: r.type_key.clone(),
                audience: r.audience,
                recipient_id: r.recipient_id.clone(),
                status: r.status,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect();
        v.truncate(q.limit);
        Ok(v)
    }
    async fn claim_attempts(
        &self,
        _now: Millis,
        _limit: usize,
        _lease_ms: Millis,
        _budget: &ClaimBudget,
    ) -> Result<Vec<ClaimedAttempt>, StoreError> {
        Ok(vec![])
    }
    async fn record_send_results(&self, _results: Vec<SendResult>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn record_receipt(&self, _r: IncomingReceipt) -> Result<ReceiptMatch, StoreError> {
        Ok(ReceiptMatch::Unknown)
    }
    async fn wake_due(&self, _now: Millis, _limit: usize) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn next_due_at(&self) -> Result<Option<Millis>, StoreError> {
        Ok(None)
    }

    async fn delete_type(&self, tenant_id: &str, key: &str) -> Result<bool, StoreError> {
        let k = (tenant_id.to_string(), key.to_string());
        Ok(self.lock().types.remove(&k).is_some())
    }
    async fn delete_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<bool, StoreError> {
        let k = (tenant_id.to_string(), kind, id.to_string());
        Ok(self.lock().recipients.remove(&k).is_some())
    }
    async fn list_recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &herald_store::RecipientQuery,
    ) -> Result<Vec<(String, Recipient)>, StoreError> {
        let d = self.lock();
        let mut found: Vec<(String, Recipient)> = d
            .recipients
            .iter()
            .filter(|((t, k, id), _)| {
                t == tenant_id && *k == kind && q.after.as_ref().is_none_or(|a| id > a)
            })
            .map(|((_, _, id), r)| (id.clone(), r.clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.truncate(q.limit);
        Ok(found)
    }
    async fn cancel_notification(&self, _: &str, _: &str, _: Millis) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn cancel_booking(
        &self,
        _: &str,
        _: &str,
        _: Millis,
    ) -> Result<Option<herald_store::BookingCancelled>, StoreError> {
        Ok(None)
    }
    async fn reschedule_booking(
        &self,
        _: &str,
        _: &str,
        _: Millis,
        _: Millis,
    ) -> Result<Option<usize>, StoreError> {
        Ok(None)
    }
    async fn tenant_timezone(&self, _: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    async fn set_tenant_timezone(&self, _: &str, _: Option<&str>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn prune(
        &self,
        _now: Millis,
        _limits: herald_store::PruneLimits,
    ) -> Result<herald_store::Pruned, StoreError> {
        Ok(herald_store::Pruned::default())
    }
}

#[async_trait]
impl SimStore for MockStore {
    async fn sim_send(&self, _s: SimSend) -> Result<SimAnswer, StoreError> {
        Err(StoreError::Corrupt("not in the mock".into()))
    }
    async fn sim_due_receipts(
        &self,
        _now: Millis,
        _limit: usize,
    ) -> Result<Vec<SimReceiptDue>, StoreError> {
        Ok(vec![])
    }
    async fn sim_mark_sent(&self, _ids: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>, StoreError> {
        Ok(None)
    }
    async fn sim_outbox(
        &self,
        tenant_id: &str,
        q: &OutboxQuery,
    ) -> Result<Vec<SimMessage>, StoreError> {
        let d = self.lock();
        Ok(d.outbox
            .iter()
            .filter(|(t, m)| t == tenant_id && q.channel.is_none_or(|c| c == m.channel))
            .map(|(_, m)| m.clone())
            .take(q.limit)
            .collect())
    }
    async fn sim_prune(
        &self,
        _before: Millis,
        _limit: usize,
    ) -> Result<herald_store::Pruned, StoreError> {
        Ok(herald_store::Pruned::default())
    }
}

fn owner_key(owner: Owner<'_>) -> Option<String> {
    match owner {
        Owner::Tenant(t) => Some(t.to_string()),
        Owner::Operator => None,
    }
}

/// A provider for every channel with a secret setting `token`.
struct TestProvider;

/// Its client: refuses everything.
struct TestClient;

#[async_trait]
impl Client for TestClient {
    async fn send(&self, _req: &SendRequest<'_>) -> SendReply {
        SendReply::Permanent {
            error: "test".into(),
        }
    }
}

impl Provider for TestProvider {
    fn name(&self) -> &'static str {
        "simulator"
    }
    fn supports(&self, _channel: Channel) -> bool {
        true
    }
    fn secrets(&self) -> &'static [&'static str] {
        &["token"]
    }
    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        match cfg.settings.get("latency_ms") {
            Some(v) if v.as_u64().is_none_or(|n| n > 60_000) => Err(FieldError::new(
                "settings.latency_ms",
                "out_of_range",
                "latency_ms must be 0 to 60000",
            )),
            _ => Ok(Arc::new(TestClient)),
        }
    }
}

const ADMIN: &str = "ha_admin";

struct Env {
    router: Router,
    store: Arc<MockStore>,
}

async fn env_with(store: MockStore) -> Env {
    let store = Arc::new(store);
    let app = App::with_sim(
        store.clone(),
        Some(store.clone() as Arc<dyn SimStore>),
        Registry::default().with(Arc::new(TestProvider)),
        crate::service::Env::ephemeral(),
    );
    app.ensure_admin_token(Some(ADMIN)).await.unwrap();
    Env {
        router: router(app),
        store,
    }
}

async fn env() -> Env {
    env_with(MockStore::default()).await
}

impl Env {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(s) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(s.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    async fn tenant(&self, name: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/tenants",
                Some(ADMIN),
                Some(&json!({ "name": name }).to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["api_key"].as_str().unwrap().to_string()
    }
}

fn assert_error(v: &Value, code: &str, field: Option<&str>) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert_eq!(v["error"]["field"].as_str(), field, "{v}");
}

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_json() {
    let e = env().await;
    let (s, v) = e.call(Method::GET, "/nope", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, v) = e
        .call(Method::DELETE, "/v1/integrations", Some("x"), None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, "method_not_allowed", None);
    let (s, v) = e.call(Method::GET, "/v1/tenants", None, None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, "method_not_allowed", None);
    let req = Request::builder()
        .method(Method::PATCH)
        .uri("/v1/clients/c1")
        .body(Body::empty())
        .unwrap();
    let res = e.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().get(header::ALLOW).is_some());
}

#[tokio::test]
async fn tenants_need_the_admin_token() {
    let e = env().await;
    let body = Some(r#"{"name":"Salon One"}"#);
    let (s, v) = e.call(Method::POST, "/v1/tenants", None, body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&v, "unauthorized", None);
    let (s, _) = e
        .call(Method::POST, "/v1/tenants", Some("wrong"), body)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let key = e.tenant("Salon One").await;
    assert!(key.starts_with("hk_"));
    let (s, v) = e.call(Method::POST, "/v1/tenants", Some(&key), body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&v, "forbidden", None);
    let (s, v) = e
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(r#"{"name":"x","colour":1}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, "unknown_field", Some("colour"));
    let (s, v) = e
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(r#"{}"#))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, "required", Some("name"));
    let (s, v) = e
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(r#"{"name":"#),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "malformed_json", None);
    let (s, v) = e
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(r#"{"name":5}"#),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "wrong_type", Some("name"));
    let (s, v) = e
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(r#"{"name":"  "}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, "invalid_name", Some("name"));
}

#[tokio::test]
async fn bodies_must_be_json_and_small() {
    let e = env().await;
    let key = e.tenant("A").await;
    let req = |ct: Option<&str>, body: String| {
        let mut b = Request::builder()
            .method(Method::PUT)
            .uri("/v1/clients/c1")
            .header(header::AUTHORIZATION, format!("Bearer {key}"));
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body)).unwrap()
    };
    let (s, v) = e.send(req(None, "{}".into())).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&v, "unsupported_media_type", None);
    let (s, _) = e.send(req(Some("text/plain"), "{}".into())).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = e
        .send(req(Some("application/json; charset=utf-8"), "{}".into()))
        .await;
    assert_eq!(s, StatusCode::OK);
    let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(2 * 1024 * 1024));
    let (s, v) = e.send(req(Some("application/json"), big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&v, "body_too_large", None);
    // Just under the limit is read (and then judged on its content).
    let near = format!(r#"{{"name":"{}"}}"#, "a".repeat(1024 * 1024 - 20));
    let (s, v) = e.send(req(Some("application/json"), near)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_error(&v, "too_long", Some("name"));
}

#[tokio::test]
async fn integrations_roundtrip_redacted_and_isolated() {
    let e = env().await;
    let a = e.tenant("A").await;
    let b = e.tenant("B").await;
    let (s, v) = e.call(Method::GET, "/v1/integrations", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&v, "unauthorized", None);
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/integrations/fax",
            Some(&a),
            Some(r#"{"provider":"simulator"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, v) = e
        .call(Method::GET, "/v1/integrations/sms", Some(&a), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let body = r#"{"provider":"simulator","settings":{"token":"s3cret","default":"delivered"},"window_s":null}"#;
    let (s, v) = e
        .call(Method::PUT, "/v1/integrations/sms", Some(&a), Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["confirm"], "receipt");
    assert_eq!(v["window_s"], 600);
    assert_eq!(v["settings"]["token"], "set");
    assert!(v["updated_at"].as_str().unwrap().ends_with('Z'));
    let (s, v) = e
        .call(Method::GET, "/v1/integrations/sms", Some(&a), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["settings"]["token"], "set");
    // At rest the secret is sealed: the stored settings hold no plaintext.
    let stored = e.store.lock().integrations.values().next().unwrap().clone();
    assert!(
        !stored.settings.to_string().contains("s3cret"),
        "{stored:?}"
    );
    assert!(crate::secrets::is_sealed(&stored.settings["token"]));
    // A PUT that leaves the secret out (or sends back "set") keeps it;
    // `null` clears it.
    for body in [
        r#"{"provider":"simulator","settings":{"default":"failed"}}"#,
        r#"{"provider":"simulator","settings":{"token":"set"}}"#,
    ] {
        let (s, v) = e
            .call(Method::PUT, "/v1/integrations/sms", Some(&a), Some(body))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["settings"]["token"], "set", "{body}: {v}");
        let kept = e.store.lock().integrations.values().next().unwrap().clone();
        assert_eq!(kept.settings["token"], stored.settings["token"], "{body}");
        assert_eq!(kept.hook_id, stored.hook_id, "the hook id stays");
    }
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/integrations/sms",
            Some(&a),
            Some(r#"{"provider":"simulator","settings":{"token":null}}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["settings"]["token"], "not set", "{v}");
    let (_, v) = e
        .call(Method::GET, "/v1/integrations", Some(&a), None)
        .await;
    assert_eq!(v["integrations"].as_array().unwrap().len(), 1);
    let (_, v) = e
        .call(Method::GET, "/v1/integrations", Some(&b), None)
        .await;
    assert_eq!(v["integrations"], json!([]));
    let (s, _) = e
        .call(Method::GET, "/v1/integrations/sms", Some(&b), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for (body, field) in [
        (r#"{"provider":"simulator","window_s":0}"#, "window_s"),
        (r#"{"provider":"simulator","window_s":259201}"#, "window_s"),
        (r#"{"provider":"simulator","window_s":-1}"#, "window_s"),
        (r#"{"provider":"simulator","confirm":"maybe"}"#, "confirm"),
        (r#"{"provider":"carrier_pigeon"}"#, "provider"),
        (
            r#"{"provider":"simulator","settings":{"latency_ms":70000}}"#,
            "settings.latency_ms",
        ),
        (r#"{"confirm":"receipt"}"#, "provider"),
    ] {
        let (s, v) = e
            .call(Method::PUT, "/v1/integrations/sms", Some(&a), Some(body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/integrations/sms",
            Some(&a),
            Some(r#"{"provider":"simulator","window_s":"600"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "wrong_type", Some("window_s"));
}

const TYPE: &str = r#"{"audience":"client","channels":[{"channel":"email","scenario":"always"},{"channel":"sms","scenario":"fallback"}],
  "templates":{"email":{"en":{"subject":"Hi {{ client_name }}","body":"See you"}}}}"#;

#[tokio::test]
async fn types_and_recipients() {
    let e = env().await;
    let a = e.tenant("A").await;
    let b = e.tenant("B").await;
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/notification-types/reminder",
            Some(&a),
            Some(TYPE),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["key"], "reminder");
    assert_eq!(v["fallback_when"], "none_delivered");
    assert_eq!(v["default_locale"], "en");
    assert_eq!(v["channels"][1]["scenario"], "fallback");
    let (s, v) = e
        .call(
            Method::GET,
            "/v1/notification-types/reminder",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["templates"]["email"]["en"]["subject"],
        "Hi {{ client_name }}"
    );
    let (_, v) = e
        .call(Method::GET, "/v1/notification-types", Some(&a), None)
        .await;
    assert_eq!(v["notification_types"].as_array().unwrap().len(), 1);
    let (s, _) = e
        .call(
            Method::GET,
            "/v1/notification-types/reminder",
            Some(&b),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let bad = r#"{"audience":"client","channels":[{"channel":"email","scenario":"always"},{"channel":"aunio","scenario":"fallback"}]}"#;
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/notification-types/t2",
            Some(&a),
            Some(bad),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "channels[1].scenario");
    let unk = r#"{"audience":"client","channels":[{"channel":"email","scenario":"always","colour":"red"}]}"#;
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/notification-types/t2",
            Some(&a),
            Some(unk),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, "unknown_field", Some("channels[0].colour"));
    let long = format!("/v1/notification-types/{}", "k".repeat(256));
    let (s, v) = e.call(Method::PUT, &long, Some(&a), Some(TYPE)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let client = r#"{"name":"Ana","email":"ana@example.com","phone":"+15550001111","locale":"pt-BR","opt_out":null,
        "apps":[{"app":"aunio","token":"tok1","platform":"ios"}]}"#;
    let (s, v) = e
        .call(Method::PUT, "/v1/clients/c1", Some(&a), Some(client))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], "c1");
    assert_eq!(v["apps"][0]["token"], "tok1");
    let (s, v) = e.call(Method::GET, "/v1/clients/c1", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["email"], "ana@example.com");
    assert_eq!(v["opt_out"], json!([]));
    let (s, _) = e.call(Method::GET, "/v1/clients/c1", Some(&b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = e.call(Method::GET, "/v1/staff/c1", Some(&a), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/staff/s1",
            Some(&a),
            Some(r#"{"apps":[{"app":"aunio","token":"t"}]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "apps[0].app");
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/clients/c2",
            Some(&a),
            Some(r#"{"email":"nope"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "email");
    let (s, v) = e
        .call(
            Method::PUT,
            "/v1/clients/c2",
            Some(&a),
            Some(r#"{"opt_out":["fax"]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "opt_out[0]");
}

#[tokio::test]
async fn notifications_trigger_log_and_preview() {
    let e = env().await;
    let a = e.tenant("A").await;
    let b = e.tenant("B").await;
    e.call(
        Method::PUT,
        "/v1/integrations/email",
        Some(&a),
        Some(r#"{"provider":"simulator"}"#),
    )
    .await;
    let (s, _) = e
        .call(
            Method::PUT,
            "/v1/notification-types/reminder",
            Some(&a),
            Some(TYPE),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    e.call(
        Method::PUT,
        "/v1/clients/c1",
        Some(&a),
        Some(r#"{"email":"ana@example.com"}"#),
    )
    .await;

    let trig =
        r#"{"type":"reminder","client":"c1","data":{"client_name":"Ana"},"idempotency_key":"k1"}"#;
    let (s, v) = e
        .call(
            Method::POST,
            "/v1/notifications/preview",
            Some(&a),
            Some(trig),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["type"], "reminder");
    assert_eq!(v["client"], "c1");
    assert_eq!(v["channels"][0]["action"], "send");
    assert_eq!(v["channels"][0]["rendered"]["subject"], "Hi Ana");
    assert_eq!(v["channels"][1]["action"], "unreachable");
    assert!(e.store.lock().notifications.is_empty());

    let (s, v) = e
        .call(Method::POST, "/v1/notifications", Some(&a), Some(trig))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "pending");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = e
        .call(Method::POST, "/v1/notifications", Some(&a), Some(trig))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    let other =
        r#"{"type":"reminder","client":"c1","data":{"client_name":"Bo"},"idempotency_key":"k1"}"#;
    let (s, v) = e
        .call(Method::POST, "/v1/notifications", Some(&a), Some(other))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&v, "conflict", None);

    let (s, v) = e
        .call(
            Method::GET,
            &format!("/v1/notifications/{id}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["client"], "c1");
    assert_eq!(v["channels"][0]["channel"], "email");
    assert_eq!(v["channels"][0]["outcome"], "pending");
    assert_eq!(v["channels"][0]["rendered"]["subject"], "Hi Ana");
    let (s, _) = e
        .call(
            Method::GET,
            &format!("/v1/notifications/{id}"),
            Some(&b),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = e
        .call(Method::GET, "/v1/notifications/preview", Some(&a), None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    for (body, code, field) in [
        (
            r#"{"type":"reminder","client":"nobody","data":{"client_name":"A"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "client",
        ),
        (
            r#"{"type":"nope","client":"c1"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "type",
        ),
        (
            r#"{"type":"reminder","client":"c1","data":{}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "data.client_name",
        ),
        (
            r#"{"type":"reminder","client":"c1","colour":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            r#"{"client":"c1"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "type",
        ),
        (
            r#"{"type":"reminder","client":"c1","data":[]}"#,
            StatusCode::BAD_REQUEST,
            "data",
        ),
    ] {
        let (s, v) = e
            .call(Method::POST, "/v1/notifications", Some(&a), Some(body))
            .await;
        assert_eq!(s, code, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }

    let (s, v) = e
        .call(Method::GET, "/v1/notifications?limit=1", Some(&a), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["notifications"][0]["id"], id.as_str());
    assert_eq!(v["notifications"][0]["client"], "c1");
    assert_eq!(v["next"], id.as_str());
    let (_, v) = e
        .call(Method::GET, "/v1/notifications", Some(&a), None)
        .await;
    assert_eq!(v["next"], Value::Null);
    let (_, v) = e
        .call(Method::GET, "/v1/notifications", Some(&b), None)
        .await;
    assert_eq!(v["notifications"], json!([]));
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("status=sent", "status"),
        ("before=zz", "before"),
    ] {
        let (s, v) = e
            .call(
                Method::GET,
                &format!("/v1/notifications?{q}"),
                Some(&a),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(v["error"]["field"], field);
    }
}

#[tokio::test]
async fn outbox_health_and_metrics() {
    let e = env().await;
    let a = e.tenant("A").await;
    let (s, v) = e
        .call(Method::GET, "/v1/simulator/outbox", Some(&a), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["messages"], json!([]));
    let (s, v) = e
        .call(
            Method::GET,
            "/v1/simulator/outbox?channel=fax",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "channel");
    let (s, v) = e
        .call(
            Method::GET,
            "/v1/simulator/outbox?limit=1001",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "limit");
    let (s, v) = e.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!({"status": "ok", "writable": true}))
    );
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let res = e.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let down = env_with(MockStore {
        down: true,
        ..Default::default()
    })
    .await;
    let (s, _) = down.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}
