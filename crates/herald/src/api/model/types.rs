//! `/v1/notification-types`: a type as a GET shows it.

use super::Timestamp;
use herald_core::config::QuietHoursConfig;
use herald_core::config::Templates;
use herald_core::{Audience, ChannelSetting, FallbackWhen, TypeConfig};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A notification type: its configuration as stored (the PUT's body with
/// its defaults filled in), its `key` and when it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationTypeView {
    /// The type's key (the path's `{key}`).
    pub key: String,
    /// Clients or staff.
    pub audience: Audience,
    /// The channels in the order tried, each with its scenario.
    pub channels: Vec<ChannelSetting>,
    /// When `fallback` channels go out.
    pub fallback_when: FallbackWhen,
    /// The locale used when the recipient's has no template.
    pub default_locale: String,
    /// Texts per channel, then per locale.
    #[schema(value_type = std::collections::BTreeMap<String, std::collections::BTreeMap<String, herald_core::TemplateText>>)]
    pub templates: Templates,
    /// Quiet hours, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursConfig>,
    /// Whether the type ignores quiet hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

impl NotificationTypeView {
    /// The view of a stored type. `TypeConfig` is taken apart field by
    /// field so that a field added to it does not compile until it is
    /// shown here too.
    pub fn new(key: &str, config: &TypeConfig, updated_at: Timestamp) -> Self {
        let TypeConfig {
            audience,
            channels,
            fallback_when,
            default_locale,
            templates,
            quiet_hours,
            critical,
        } = config.clone();
        NotificationTypeView {
            key: key.to_string(),
            audience,
            channels,
            fallback_when,
            default_locale,
            templates,
            quiet_hours,
            critical,
            updated_at,
        }
    }
}

/// `{"notification_types": [...]}` by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationTypeList {
    /// Every type of the tenant.
    pub notification_types: Vec<NotificationTypeView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view is the stored configuration plus `key` and `updated_at`,
    /// written exactly as the configuration writes itself.
    #[test]
    fn the_view_writes_the_config_as_the_config_does() {
        let config: TypeConfig = serde_json::from_value(serde_json::json!({
            "audience": "client",
            "channels": [{"channel": "email", "scenario": "always"},
                         {"channel": "sms", "scenario": "fallback"}],
            "fallback_when": "any_failed",
            "templates": {"sms": {"en": {"body": "Hi {{ name }}"}}}
        }))
        .unwrap();
        let view = NotificationTypeView::new("t", &config, Timestamp(None));
        let mut shown = serde_json::to_value(&view).unwrap();
        let obj = shown.as_object_mut().unwrap();
        assert_eq!(obj.remove("key"), Some("t".into()));
        assert_eq!(obj.remove("updated_at"), Some(serde_json::Value::Null));
        assert_eq!(shown, serde_json::to_value(&config).unwrap());
    }
}
