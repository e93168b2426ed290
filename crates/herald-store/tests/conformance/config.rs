//! Tenants, operator settings, integrations, types and recipients.

use super::*;
use herald_core::{
    AppInstall, Audience, Channel, ChannelSetting, Confirm, FallbackWhen, Recipient, Scenario,
    TypeConfig,
};
use herald_store::{HookedIntegration, Integration, NotificationType, Owner, Store, Tenant};
use std::collections::BTreeMap;

pub async fn check_tenant_by_key(store: &dyn Store) {
    let t = Tenant {
        id: id(),
        name: "Clinic".into(),
        created_at: T0,
    };
    store.create_tenant(&t, "key-sha-1").await.unwrap();
    assert_eq!(
        store.tenant_by_key("key-sha-1").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(store.tenant_by_key("other").await.unwrap(), None);
    // Names may repeat; API key hashes may not.
    let same_name = Tenant {
        id: id(),
        ..t.clone()
    };
    store.create_tenant(&same_name, "key-sha-2").await.unwrap();
    let dup_key = Tenant { id: id(), ..t };
    assert!(store.create_tenant(&dup_key, "key-sha-1").await.is_err());
    store.ping().await.unwrap();
}

pub async fn check_config_round_trip(store: &dyn Store) {
    let tenant = bare_tenant(store).await;
    let other = bare_tenant(store).await;

    assert_eq!(store.get_meta("admin_token_sha256").await.unwrap(), None);
    store.set_meta("admin_token_sha256", "abc").await.unwrap();
    store.set_meta("admin_token_sha256", "def").await.unwrap();
    assert_eq!(
        store
            .get_meta("admin_token_sha256")
            .await
            .unwrap()
            .as_deref(),
        Some("def")
    );

    let sms = Integration {
        channel: Channel::Sms,
        provider: "simulator".into(),
        settings: serde_json::json!({"routes": ["whatsapp", "sms"], "secret": "s"}),
        confirm: Confirm::Receipt,
        window_s: 600,
        updated_at: T0,
        hook_id: format!("h-sms-{tenant}"),
        inherited: false,
        max_per_second: Some(2.5),
        price_per_segment: None,
    };
    let mail = Integration {
        channel: Channel::Email,
        provider: "smtp".into(),
        settings: serde_json::json!({"host": "mail.example.com"}),
        confirm: Confirm::Accepted,
        window_s: 300,
        updated_at: T0,
        hook_id: format!("h-mail-{tenant}"),
        inherited: false,
        max_per_second: None,
        price_per_segment: None,
    };
    let (tenant_o, other_o) = (Owner::Tenant(&tenant), Owner::Tenant(&other));
    store.put_integration(tenant_o, &sms).await.unwrap();
    store.put_integration(tenant_o, &mail).await.unwrap();
    assert_eq!(
        store.get_integration(tenant_o, Channel::Sms).await.unwrap(),
        Some(sms.clone())
    );
    assert_eq!(
        store.get_integration(other_o, Channel::Sms).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_integrations(tenant_o).await.unwrap(),
        vec![mail.clone(), sms.clone()]
    );
    let sms2 = Integration {
        window_s: 120,
        updated_at: T0 + 1,
        ..sms
    };
    store.put_integration(tenant_o, &sms2).await.unwrap();
    assert_eq!(
        store.get_integration(tenant_o, Channel::Sms).await.unwrap(),
        Some(sms2.clone())
    );
    assert!(store.list_integrations(other_o).await.unwrap().is_empty());

    // A hook id names exactly one integration, with its owner.
    assert_eq!(
        store.integration_by_hook(&sms2.hook_id).await.unwrap(),
        Some(HookedIntegration {
            tenant_id: Some(tenant.clone()),
            integration: sms2.clone(),
        })
    );
    assert_eq!(store.integration_by_hook("nope").await.unwrap(), None);
    assert_eq!(
        store
            .integrations_of_provider("simulator")
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.integration.hook_id)
            .collect::<Vec<_>>(),
        vec![sms2.hook_id.clone()]
    );

    // The operator's integrations are kept apart from every tenant's.
    let shared = Integration {
        hook_id: "h-operator-sms".into(),
        provider: "twilio".into(),
        ..sms2.clone()
    };
    store
        .put_integration(Owner::Operator, &shared)
        .await
        .unwrap();
    assert_eq!(
        store.list_integrations(Owner::Operator).await.unwrap(),
        vec![shared.clone()]
    );
    assert!(store.list_integrations(other_o).await.unwrap().is_empty());
    assert_eq!(
        store
            .integration_by_hook("h-operator-sms")
            .await
            .unwrap()
            .map(|h| h.tenant_id),
        Some(None)
    );

    // Deleting removes one owner's, and says whether there was one.
    assert!(store
        .delete_integration(tenant_o, Channel::Sms)
        .await
        .unwrap());
    assert!(!store
        .delete_integration(tenant_o, Channel::Sms)
        .await
        .unwrap());
    assert_eq!(
        store.get_integration(tenant_o, Channel::Sms).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_integration(Owner::Operator, Channel::Sms)
            .await
            .unwrap(),
        Some(shared)
    );
    assert!(store
        .delete_integration(Owner::Operator, Channel::Sms)
        .await
        .unwrap());
    assert!(store
        .list_integrations(Owner::Operator)
        .await
        .unwrap()
        .is_empty());

    let mut templates = BTreeMap::new();
    templates.insert(
        "email".to_string(),
        BTreeMap::from([(
            "en".to_string(),
            herald_core::TemplateText {
                subject: Some("Hi {{ client_name }}".into()),
                title: None,
                body: Some("See you".into()),
            },
        )]),
    );
    let t = NotificationType {
        key: "reminder".into(),
        config: TypeConfig {
            audience: Audience::Client,
            channels: vec![
                ChannelSetting {
                    channel: Channel::Email,
                    scenario: Scenario::Always,
                },
                ChannelSetting {
                    channel: Channel::Sms,
                    scenario: Scenario::Fallback,
                },
            ],
            fallback_when: FallbackWhen::NoneDelivered,
            default_locale: "en".into(),
            templates,
            // Quiet hours and critical are kept as given.
            quiet_hours: Some(herald_core::config::QuietHoursConfig {
                from: "21:00".into(),
                until: "08:00".into(),
                channels: vec![Channel::Sms],
                mode: herald_core::QuietMode::Defer,
            }),
            critical: true,
        },
        updated_at: T0,
    };
    let t2 = NotificationType {
        key: "confirmation".into(),
        ..t.clone()
    };
    store.put_type(&tenant, &t).await.unwrap();
    store.put_type(&tenant, &t2).await.unwrap();
    assert_eq!(
        store.get_type(&tenant, "reminder").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(store.get_type(&other, "reminder").await.unwrap(), None);
    assert_eq!(store.list_types(&tenant).await.unwrap(), vec![t2, t]);

    let who = Recipient {
        name: Some("Ana".into()),
        email: Some("ana@example.com".into()),
        phone: Some("+15550001111".into()),
        locale: Some("pt-BR".into()),
        timezone: Some("Europe/Lisbon".into()),
        opt_out: vec![Channel::Sms],
        apps: vec![AppInstall {
            app: Channel::Aunio,
            token: "tok".into(),
            platform: Some(herald_core::Platform::Ios),
        }],
    };
    store
        .put_recipient(&tenant, Audience::Client, "c1", &who)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_recipient(&tenant, Audience::Client, "c1")
            .await
            .unwrap(),
        Some(who.clone())
    );
    assert_eq!(
        store
            .get_recipient(&tenant, Audience::Staff, "c1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_recipient(&other, Audience::Client, "c1")
            .await
            .unwrap(),
        None
    );
    let changed = Recipient { phone: None, ..who };
    store
        .put_recipient(&tenant, Audience::Client, "c1", &changed)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_recipient(&tenant, Audience::Client, "c1")
            .await
            .unwrap(),
        Some(changed)
    );
}

/// Removing types and people, and listing people with search and paging.
pub async fn check_remove_and_list_people(store: &dyn Store) {
    use herald_store::RecipientQuery;
    let tenant = bare_tenant(store).await;
    let other = bare_tenant(store).await;
    let t = NotificationType {
        key: "reminder".into(),
        config: TypeConfig {
            audience: Audience::Client,
            channels: vec![ChannelSetting {
                channel: Channel::Email,
                scenario: Scenario::Always,
            }],
            fallback_when: FallbackWhen::NoneDelivered,
            default_locale: "en".into(),
            templates: BTreeMap::new(),
            quiet_hours: None,
            critical: false,
        },
        updated_at: T0,
    };
    store.put_type(&tenant, &t).await.unwrap();
    store.put_type(&other, &t).await.unwrap();
    assert!(store.delete_type(&tenant, "reminder").await.unwrap());
    assert!(!store.delete_type(&tenant, "reminder").await.unwrap());
    assert_eq!(store.get_type(&tenant, "reminder").await.unwrap(), None);
    // Another tenant's type of the same key stays.
    assert!(store.get_type(&other, "reminder").await.unwrap().is_some());

    let person = |name: &str, email: &str, phone: &str| Recipient {
        name: Some(name.into()),
        email: Some(email.into()),
        phone: Some(phone.into()),
        ..Recipient::default()
    };
    for (id, r) in [
        ("c1", person("Ana Lima", "ana@example.com", "+15550001111")),
        ("c2", person("Bruno", "bruno@example.com", "+15550002222")),
        ("c3", person("Carla", "carla@example.org", "+15550003333")),
        ("c_4", Recipient::default()),
    ] {
        store
            .put_recipient(&tenant, Audience::Client, id, &r)
            .await
            .unwrap();
    }
    store
        .put_recipient(
            &tenant,
            Audience::Staff,
            "s1",
            &person("Ana Staff", "a@x.io", "+15550009999"),
        )
        .await
        .unwrap();
    store
        .put_recipient(
            &other,
            Audience::Client,
            "o1",
            &person("Ana Other", "o@x.io", "+15550008888"),
        )
        .await
        .unwrap();
    let ids = |v: Vec<(String, Recipient)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    let q = |q: Option<&str>, limit: usize, after: Option<&str>| RecipientQuery {
        q: q.map(str::to_string),
        limit,
        after: after.map(str::to_string),
    };
    let all = store
        .list_recipients(&tenant, Audience::Client, &q(None, 10, None))
        .await
        .unwrap();
    assert_eq!(ids(all.clone()), ["c1", "c2", "c3", "c_4"]);
    assert_eq!(
        all[0].1,
        person("Ana Lima", "ana@example.com", "+15550001111")
    );
    // Paging by id.
    assert_eq!(
        ids(store
            .list_recipients(&tenant, Audience::Client, &q(None, 2, None))
            .await
            .unwrap()),
        ["c1", "c2"]
    );
    assert_eq!(
        ids(store
            .list_recipients(&tenant, Audience::Client, &q(None, 2, Some("c2")))
            .await
            .unwrap()),
        ["c3", "c_4"]
    );
    // Search by name (any case), e-mail, phone and id; `_` is literal.
    for (text, want) in [
        ("ana", vec!["c1"]),
        ("EXAMPLE.ORG", vec!["c3"]),
        ("0002222", vec!["c2"]),
        ("c_", vec!["c_4"]),
        ("nobody", vec![]),
    ] {
        assert_eq!(
            ids(store
                .list_recipients(&tenant, Audience::Client, &q(Some(text), 10, None))
                .await
                .unwrap()),
            want,
            "q={text}"
        );
    }
    assert_eq!(
        ids(store
            .list_recipients(&tenant, Audience::Staff, &q(Some("ana"), 10, None))
            .await
            .unwrap()),
        ["s1"]
    );

    assert!(store
        .delete_recipient(&tenant, Audience::Client, "c2")
        .await
        .unwrap());
    assert!(!store
        .delete_recipient(&tenant, Audience::Client, "c2")
        .await
        .unwrap());
    // The same id of the other kind is not removed.
    assert!(!store
        .delete_recipient(&tenant, Audience::Staff, "c1")
        .await
        .unwrap());
    assert_eq!(
        store
            .get_recipient(&tenant, Audience::Client, "c2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        ids(store
            .list_recipients(&tenant, Audience::Client, &q(None, 10, None))
            .await
            .unwrap()),
        ["c1", "c3", "c_4"]
    );
}
