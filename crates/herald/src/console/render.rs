//! The console's templates (embedded with `include_str!`), its stylesheet
//! and script, and how a page becomes a response. Templates auto-escape
//! (their names end in `.html`), so data never becomes markup.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::{Channel, Scenario};
use minijinja::Environment;
use serde_json::Value;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("refused.html", include_str!("templates/refused.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("types.html", include_str!("templates/types.html")),
    ("type.html", include_str!("templates/type.html")),
    ("preview.html", include_str!("templates/preview.html")),
    (
        "integrations.html",
        include_str!("templates/integrations.html"),
    ),
    ("people.html", include_str!("templates/people.html")),
    ("person.html", include_str!("templates/person.html")),
    (
        "person_form.html",
        include_str!("templates/person_form.html"),
    ),
    ("log.html", include_str!("templates/log.html")),
    ("timeline.html", include_str!("templates/timeline.html")),
    ("dry_run.html", include_str!("templates/dry_run.html")),
];

const STYLESHEET: &str = include_str!("templates/console.css");
const SCRIPT: &str = include_str!("templates/console.js");

/// The help article's words for a scenario.
pub fn scenario_words(s: Scenario) -> &'static str {
    match s {
        Scenario::Off => "Do not send",
        Scenario::Always => "Always send",
        Scenario::Fallback => "Send if delivery failed to previous channel",
    }
}

/// A channel's name for a label, capitalised ("SMS", "E-mail").
pub fn channel_label(c: Channel) -> String {
    let h = c.human();
    let mut chars = h.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The compiled templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Compiles every template; a broken one is a bug caught by the tests.
    pub fn new() -> Pages {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "a console template does not parse");
            }
        }
        env.add_filter("channel", |name: String| {
            Channel::parse(&name).map_or(name, channel_label)
        });
        env.add_filter("scenario", |name: String| {
            match name.as_str() {
                "off" => Some(Scenario::Off),
                "always" => Some(Scenario::Always),
                "fallback" => Some(Scenario::Fallback),
                _ => None,
            }
            .map_or(name, |s| scenario_words(s).to_string())
        });
        // "2026-12-02T05:56:01.123Z" → "2026-12-02 05:56:01".
        env.add_filter("when", |t: Option<String>| match t {
            Some(t) => t.replace('T', " ").chars().take(19).collect(),
            None => String::new(),
        });
        Pages { env }
    }

    /// Renders a template to HTML.
    pub fn render(&self, template: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        self.env.get_template(template)?.render(ctx)
    }

    /// A rendered page as a response, or a plain 500 when rendering fails.
    pub fn respond(&self, status: StatusCode, template: &str, ctx: &Value) -> Response {
        match self.render(template, ctx) {
            Ok(html) => (status, headers("text/html; charset=utf-8"), html).into_response(),
            Err(e) => {
                tracing::error!(template, error = %e, "a console page did not render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    headers("text/plain; charset=utf-8"),
                    "the page could not be rendered",
                )
                    .into_response()
            }
        }
    }
}

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

/// The headers of every console answer: nothing cached, nothing loaded
/// from elsewhere, no framing.
fn headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 5] {
    [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ]
}

/// `GET /console.css`.
pub async fn stylesheet() -> Response {
    (headers("text/css; charset=utf-8"), STYLESHEET).into_response()
}

/// `GET /console.js`.
pub async fn script() -> Response {
    (headers("text/javascript; charset=utf-8"), SCRIPT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn labels_in_the_articles_words() {
        assert_eq!(channel_label(Channel::Sms), "SMS");
        assert_eq!(channel_label(Channel::Email), "E-mail");
        assert_eq!(
            scenario_words(Scenario::Fallback),
            "Send if delivery failed to previous channel"
        );
    }

    #[test]
    fn data_is_escaped() {
        let pages = Pages::new();
        let html = pages
            .render(
                "refused.html",
                &serde_json::json!({"message": "<script>x</script>", "csrf": "c", "tenant": "T"}),
            )
            .expect("renders");
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
