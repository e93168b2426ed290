//! One reading of serde's JSON errors, for request bodies and for provider
//! settings alike: which field, and which kind of mistake. The API answers
//! `malformed_json` and `wrong_type` with 400 and the rest with 422.

use herald_core::FieldError;
use serde_path_to_error::{Error, Path, Segment};

/// Whether a code from `field_error` is a 400 (the JSON itself is wrong)
/// rather than a 422 (a rule about its values is broken).
pub fn is_bad_request(code: &str) -> bool {
    matches!(code, "malformed_json" | "wrong_type")
}

/// Classifies a JSON error: syntax → `malformed_json`; a value of the wrong
/// JSON type → `wrong_type`; a number that does not fit an integer field →
/// `out_of_range`; `unknown_field`, `required`, or else `invalid_value`.
/// Field paths start with `prefix` (`settings.latency_ms`); an error at the
/// top level has the prefix alone, or an empty field.
pub fn field_error(err: &Error<serde_json::Error>, prefix: Option<&str>) -> FieldError {
    use serde_json::error::Category;
    let inner = err.inner();
    let text = strip_position(&inner.to_string()).to_string();
    let path = join_opt(prefix, field_path(err.path()).as_deref());
    let at = |what: &str| match &path {
        Some(p) => format!("{p}: {what}"),
        None => what.to_string(),
    };
    let field = path.clone().unwrap_or_default();
    match inner.classify() {
        // Broken JSON has no field to name, only a place in the text.
        Category::Io | Category::Syntax | Category::Eof => FieldError::new(
            prefix.unwrap_or_default(),
            "malformed_json",
            format!("not valid JSON: {text}"),
        ),
        Category::Data => {
            if is_number_out_of_range(&text) {
                FieldError::new(field, "out_of_range", at(&format!("out of range: {text}")))
            } else if text.starts_with("invalid type") {
                FieldError::new(field, "wrong_type", at(&format!("wrong JSON type: {text}")))
            } else if let Some(name) = quoted_after(&text, "unknown field ") {
                // The path usually ends at the unknown key already.
                let field = match err.path().iter().next_back() {
                    Some(Segment::Map { key }) if *key == name => field,
                    _ => join(path.as_deref(), &name),
                };
                let message = format!("unknown field {field}: {text}");
                FieldError::new(field, "unknown_field", message)
            } else if let Some(name) = quoted_after(&text, "missing field ") {
                let field = join(path.as_deref(), &name);
                let message = format!("{field} is required");
                FieldError::new(field, "required", message)
            } else {
                FieldError::new(field, "invalid_value", at(&text))
            }
        }
    }
}

/// A number where a number is wanted, but not one that fits (1.5 or 1e30
/// for a count): a value outside the allowed set, not a wrong type.
fn is_number_out_of_range(text: &str) -> bool {
    (text.starts_with("invalid type: floating point") || text.starts_with("invalid type: integer"))
        && text.split(", expected ").nth(1).is_some_and(|want| {
            matches!(
                want.trim(),
                "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
            )
        })
}

/// Drops serde_json's ` at line L column C` suffix.
pub fn strip_position(s: &str) -> &str {
    match s.rfind(" at line ") {
        Some(i) if s[i..].contains(" column ") => &s[..i],
        _ => s,
    }
}

/// The name in backticks right after `prefix` at the start of `text`
/// (`unknown field \`colour\`, expected …` → `colour`).
pub fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('`')?;
    let end = rest.find('`')?;
    Some(rest[..end].to_string())
}

/// `parent.name`, or `name` at the top level.
fn join(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) if !p.is_empty() => format!("{p}.{name}"),
        _ => name.to_string(),
    }
}

fn join_opt(prefix: Option<&str>, path: Option<&str>) -> Option<String> {
    match (prefix, path) {
        (Some(p), Some(q)) => Some(format!("{p}.{q}")),
        (Some(p), None) => Some(p.to_string()),
        (None, q) => q.map(str::to_string),
    }
}

/// A JSON path as the API names fields: `channels[0].scenario`,
/// `templates.email.en.subject`; `None` for the top level.
pub fn field_path(path: &Path) -> Option<String> {
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}
