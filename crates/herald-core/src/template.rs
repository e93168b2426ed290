//! Rendering of notification texts: Jinja templates per channel and locale,
//! sandboxed and bounded, pure (same type, data and recipient, same text).

use crate::channel::Channel;
use crate::config::{TemplateText, TypeConfig};
use crate::error::FieldError;
use crate::recipient::Recipient;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

/// Fuel for one template: bounds loop work so a template cannot spin.
const FUEL: u64 = 50_000;
/// The most text one rendered part may have.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Names the template engine provides itself; never asked of `data`.
const GLOBALS: &[&str] = &[
    "recipient",
    "range",
    "dict",
    "debug",
    "namespace",
    "lipsum",
    "cycler",
    "joiner",
    "loop",
];

/// The text of one message as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// An output buffer that refuses to grow past `MAX_OUTPUT`.
#[derive(Default)]
struct Capped {
    buf: Vec<u8>,
    overflow: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT {
            self.overflow = true;
            return Err(std::io::Error::other("rendered text too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // An absent value (a client without a name, a `null` in data) prints
    // as nothing, never as the word "none" in a message to a person.
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
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
    let by_locale = cfg.templates.get(channel.as_str())?;
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

/// The first variable path (`appt.time`) the template reads that `data`
/// does not have, walking into objects only: an attribute of a string or
/// number is the template's business, not a missing variable.
fn missing_variable(
    t: &minijinja::Template<'_, '_>,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let mut paths: Vec<String> = t.undeclared_variables(true).into_iter().collect();
    paths.sort();
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        if GLOBALS.contains(&segs[0]) {
            continue;
        }
        let mut cur = data;
        for (i, seg) in segs.iter().enumerate() {
            match cur.get(*seg) {
                None => return Some(segs[..=i].join(".")),
                Some(serde_json::Value::Object(m)) => cur = m,
                Some(_) => break,
            }
        }
    }
    None
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
fn default_rendering(
    channel: Channel,
    type_key: &str,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Rendered {
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
            FieldError::new(
                field.clone(),
                "template_syntax",
                format!("template does not parse: {e}"),
            )
        })?;
        // Render into a capped buffer: a loop printing large strings must
        // stop at the cap, not after building gigabytes in memory.
        let mut out_buf = Capped::default();
        let rendered = t.render_captured_to(&ctx, &mut out_buf);
        if out_buf.overflow {
            return Err(FieldError::new(
                field,
                "render_too_large",
                format!("rendered text is longer than {MAX_OUTPUT} bytes"),
            ));
        }
        if let Err(e) = rendered {
            // A value the template needed and `data` does not have is named
            // as `data.<path>`; `default(...)` and `is defined` still work,
            // since only a render that actually failed is looked into.
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                if let Some(missing) = missing_variable(&t, data) {
                    return Err(FieldError::new(
                        format!("data.{missing}"),
                        "missing_variable",
                        format!(
                            "the {channel} template ({locale}) uses {missing}, which data does not have"
                        ),
                    ));
                }
            }
            return Err(FieldError::new(
                field.clone(),
                "render_failed",
                format!("template could not be rendered: {e}"),
            ));
        }
        let s = String::from_utf8(out_buf.buf).map_err(|e| {
            FieldError::new(
                field.clone(),
                "render_failed",
                format!("template could not be rendered: {e}"),
            )
        })?;
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

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
