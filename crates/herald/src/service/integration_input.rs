//! An integration as a PUT gives it, and the checks of its numbers and
//! shapes that do not need the provider (those are the provider's own).

use crate::error::{invalid, Result};
use herald_core::Confirm;
use serde::Deserialize;
use serde_json::{Map, Value};

/// An integration as the API receives it: one provider with its settings,
/// or (sms only) a chain of providers, one per route. Its settings may
/// hold secrets in the clear, so `Debug` shows only their names. A PUT
/// that leaves a secret out keeps the stored one while the provider stays
/// the same; `null` clears it.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Provider name; absent for a chain of providers (`routes`).
    #[serde(default)]
    pub provider: Option<String>,
    /// A chain of providers, one per route, tried in order (sms only).
    #[serde(default)]
    pub routes: Option<Vec<super::chain::RouteInput>>,
    /// Provider settings (API.md "Real providers"; secrets write-only).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Confirmation mode.
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// Window in seconds.
    #[serde(default)]
    pub window_s: Option<u32>,
    /// At most this many sends a second (0.01 to 10,000).
    #[serde(default)]
    pub max_per_second: Option<f64>,
    /// What one SMS segment costs through it (0 to 1,000, in the
    /// business's currency), giving each SMS attempt its cost.
    #[serde(default)]
    pub price_per_segment: Option<f64>,
}

/// The names of a PUT's settings, for `Debug`: their values may be secrets.
pub(super) fn setting_names(settings: &Option<Value>) -> Vec<&str> {
    settings
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

impl std::fmt::Debug for IntegrationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = setting_names(&self.settings);
        f.debug_struct("IntegrationInput")
            .field("provider", &self.provider)
            .field("routes", &self.routes)
            .field("settings", &names)
            .field("confirm", &self.confirm)
            .field("window_s", &self.window_s)
            .field("max_per_second", &self.max_per_second)
            .field("price_per_segment", &self.price_per_segment)
            .finish()
    }
}

/// A PUT's `settings` as an object (absent is `{}`).
pub(super) fn settings_object(v: Option<Value>, field: &str) -> Result<Map<String, Value>> {
    match v.unwrap_or_else(|| Value::Object(Map::new())) {
        Value::Object(m) => Ok(m),
        _ => Err(invalid(
            field,
            "wrong_type",
            format!("{field} must be an object"),
        )),
    }
}

/// Checks a window in seconds (1 s to 3 days).
pub(super) fn check_window(w: Option<u32>, field: &str) -> Result<()> {
    match w {
        Some(w) if !(1..=259_200).contains(&w) => Err(invalid(
            field,
            "out_of_range",
            format!("{field} must be between 1 and 259200"),
        )),
        _ => Ok(()),
    }
}

/// Checks the bounds of an integration's numbers.
pub(super) fn check_limits(input: &IntegrationInput) -> Result<()> {
    if let Some(r) = input.max_per_second {
        if !(0.01..=10_000.0).contains(&r) {
            return Err(invalid(
                "max_per_second",
                "out_of_range",
                "max_per_second must be between 0.01 and 10000",
            ));
        }
    }
    if let Some(p) = input.price_per_segment {
        if !(0.0..=1_000.0).contains(&p) {
            return Err(invalid(
                "price_per_segment",
                "out_of_range",
                "price_per_segment must be between 0 and 1000",
            ));
        }
    }
    check_window(input.window_s, "window_s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_shows_no_setting_values_in_debug() {
        let input: IntegrationInput = serde_json::from_value(serde_json::json!({
            "provider": "smtp",
            "settings": {"host": "mail.example", "password": "hunter2"}
        }))
        .unwrap();
        let shown = format!("{input:?}");
        assert!(shown.contains("password"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
