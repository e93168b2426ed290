//! Rendering of notification texts: Jinja templates per channel and locale,
//! sandboxed and bounded, pure (same type, data and recipient, same text).

use crate::channel::Channel;
use crate::config::{TemplateText, TypeConfig};
use crate::error::FieldError;
use crate::recipient::Recipient;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Fuel for one template: bounds loop work so a template cannot spin.
const FUEL: u64 = 50_000;
/// The most text one rendered part may have.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Names the template engine provides itself; never asked of `data`.
const GLOBALS: &[&str] = &[
    "recipient", "range", "dict", "debug", "namespace", "lipsum", "cycler", "joiner", "loop",
];

/// The text of one message as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// E-mail subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Push title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The body.
    pub body: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_recursion_limit(50);
    env
}

/// The parts a channel's texts have, with their field names.
fn parts(channel: Channel, text: &TemplateText) -> Vec<(&'static str, Option<&str>)> {
    let head = match channel {
        Channel::Email => Some(("subject", text.subject.as_deref())),
        Channel::Sms => None,
        _ => Some(("title", text.title.as_deref())),
    };
    head.into_iter()
        .chain(std::iter::once(("body", text.body.as_deref())))
        .collect()
}

/// Checks that a channel's text parses and has only the parts the channel
/// uses (`subject` for e-mail, `title` for push).
pub fn check_text(channel: Channel, text: &TemplateText, field: &str) -> Result<(), FieldError> {
    let misplaced = match channel {
        Channel::Email => text.title.is_some().then_some("title"),
        Channel::Sms => text
            .subject
            .as_ref()
            .map(|_| "subject")
            .or(text.title.as_ref().map(|_| "title")),
        _ => text.subject.is_some().then_some("subject"),
    };
    if let Some(part) = misplaced {
        return Err(FieldError::new(
            format!("{field}.{part}"),
            "unknown_part",
            format!("the {channel} channel has no {part}"),
        ));
    }
    let env = env();
    for (part, src) in parts(channel, text) {
        if let Some(src) = src {
            env.template_from_str(src).map_err(|e| {
                FieldError::new(
                    format!("{field}.{part}"),
                    "template_syntax",
                    format!("template does not parse: {e}"),
                )
            })?;
        }
    }
    Ok(())
}

/// Picks the template of a channel for a locale: the exact locale, else its
/// language, else the type's default locale.
pub fn choose<'a>(
    cfg: &'a TypeConfig,
    channel: Channel,
    locale: Option<&str>,
) -> Option<(&'a str, &'a TemplateText)> {
    let by_locale = cfg.templates.get(&channel)?;
    let mut candidates: Vec<&str> = Vec::new();
    if let Some(l) = locale {
        candidates.push(l);
        if let Some((lang, _)) = l.split_once('-') {
            candidates.push(lang);
        }
    }
    candidates.push(&cfg.default_locale);
    candidates.into_iter().find_map(|c| {
        by_locale
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(c))
            .map(|(k, v)| (k.as_str(), v))
    })
}

/// The top-level `data` variables the channel's template uses for this locale.
pub fn required_variables(cfg: &TypeConfig, channel: Channel, locale: Option<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some((_, text)) = choose(cfg, channel, locale) else {
        return out;
    };
    let env = env();
    for (_, src) in parts(channel, text) {
        if let Some(Ok(t)) = src.map(|s| env.template_from_str(s)) {
            out.extend(
                t.undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !GLOBALS.contains(&v.as_str())),
            );
        }
    }
    out
}

fn humanize(key: &str) -> String {
    let words = key.replace(['_', '-', '.'], " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The plain rendering used when a channel has no template.
fn default_rendering(channel: Channel, type_key: &str, data: &serde_json::Map<String, serde_json::Value>) -> Rendered {
    let title = humanize(type_key);
    let lines: Vec<String> = data
        .iter()
        .map(|(k, v)| format!("{}: {}", humanize(k), scalar(v)))
        .collect();
    match channel {
        Channel::Email => Rendered {
            subject: Some(title),
            title: None,
            body: lines.join("\n"),
        },
        Channel::Sms => Rendered {
            subject: None,
            title: None,
            body: if lines.is_empty() {
                title
            } else {
                format!("{title}: {}", lines.join(", "))
            },
        },
        _ => Rendered {
            subject: None,
            title: Some(title),
            body: lines.join(", "),
        },
    }
}

/// Renders a channel's message for a recipient. A variable missing from
/// `data` is `data.<name>`; a broken bound or runtime error names the
/// template part.
pub fn render(
    cfg: &TypeConfig,
    type_key: &str,
    channel: Channel,
    who: &Recipient,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<Rendered, FieldError> {
    let Some((locale, text)) = choose(cfg, channel, who.locale.as_deref()) else {
        return Ok(default_rendering(channel, type_key, data));
    };
    if let Some(missing) = required_variables(cfg, channel, who.locale.as_deref())
        .into_iter()
        .find(|v| !data.contains_key(v))
    {
        return Err(FieldError::new(
            format!("data.{missing}"),
            "missing_variable",
            format!("the {channel} template ({locale}) uses {missing}, which data does not have"),
        ));
    }
    let mut ctx = data.clone();
    ctx.insert(
        "recipient".into(),
        serde_json::json!({
            "name": who.name, "email": who.email, "phone": who.phone,
            "locale": who.locale, "timezone": who.timezone,
        }),
    );
    let ctx = serde_json::Value::Object(ctx);
    let env = env();
    let mut out = Rendered::default();
    for (part, src) in parts(channel, text) {
        let field = format!("templates.{channel}.{locale}.{part}");
        let Some(src) = src else {
            continue;
        };
        let t = env.template_from_str(src).map_err(|e| {
            FieldError::new(field.clone(), "template_syntax", format!("template does not parse: {e}"))
        })?;
        let s = t.render(&ctx).map_err(|e| {
            FieldError::new(field.clone(), "render_failed", format!("template could not be rendered: {e}"))
        })?;
        if s.len() > MAX_OUTPUT {
            return Err(FieldError::new(
                field,
                "render_too_large",
                format!("rendered text is longer than {MAX_OUTPUT} bytes"),
            ));
        }
        match part {
            "subject" => out.subject = Some(s),
            "title" => out.title = Some(s),
            _ => out.body = s,
        }
    }
    let fallback = default_rendering(channel, type_key, data);
    match channel {
        Channel::Email if out.subject.is_none() => out.subject = fallback.subject,
        Channel::Sms => {}
        Channel::Email => {}
        _ if out.title.is_none() => out.title = fallback.title,
        _ => {}
    }
    if text.body.is_none() {
        out.body = fallback.body;
    }
    Ok(out)
}
