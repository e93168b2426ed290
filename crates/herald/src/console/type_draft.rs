//! A notification type's editor as a form: what is stored, or what was
//! just posted, turned into the type's configuration, and a broken rule
//! placed next to the field it names.

use super::form::Fields;
use herald_core::{
    Audience, Channel, ChannelSetting, FallbackWhen, FieldError, Scenario, TemplateText, TypeConfig,
};
use std::collections::BTreeMap;

/// The scenarios in the order the editor offers them.
pub(super) const SCENARIOS: [Scenario; 3] = [Scenario::Off, Scenario::Always, Scenario::Fallback];

/// The parts of a channel's template: e-mail has a subject, push a title.
pub(super) fn parts(c: Channel) -> &'static [&'static str] {
    match c {
        Channel::Email => &["subject", "body"],
        Channel::Sms => &["body"],
        _ => &["title", "body"],
    }
}

/// The editor's state: what is stored, or what was just posted.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub(super) audience: Audience,
    /// Every channel the audience can reach, in the order shown.
    pub(super) rows: Vec<(Channel, Scenario)>,
    pub(super) fallback_when: FallbackWhen,
    pub(super) default_locale: String,
    pub(super) locales: Vec<String>,
    /// (channel, locale, part) → text.
    pub(super) texts: BTreeMap<(Channel, String, &'static str), String>,
}

/// The channels an audience can be reached on, in the order shown.
fn reachable(audience: Audience) -> impl Iterator<Item = Channel> {
    Channel::ALL
        .into_iter()
        .filter(move |c| c.reaches(audience))
}

impl Draft {
    /// A new type: every channel the audience reaches, not sent.
    pub(super) fn empty(audience: Audience) -> Draft {
        Draft {
            audience,
            rows: reachable(audience).map(|c| (c, Scenario::Off)).collect(),
            fallback_when: FallbackWhen::NoneDelivered,
            default_locale: "en".into(),
            locales: vec!["en".into()],
            texts: BTreeMap::new(),
        }
    }

    /// A stored type: its channels in order, then the others as off.
    pub(super) fn of(config: &TypeConfig) -> Draft {
        let mut rows: Vec<(Channel, Scenario)> = config
            .channels
            .iter()
            .map(|s| (s.channel, s.scenario))
            .collect();
        for c in reachable(config.audience) {
            if !rows.iter().any(|(r, _)| *r == c) {
                rows.push((c, Scenario::Off));
            }
        }
        let mut locales = vec![config.default_locale.clone()];
        let mut texts = BTreeMap::new();
        for (name, by_locale) in &config.templates {
            let Some(c) = Channel::parse(name) else {
                continue;
            };
            for (locale, t) in by_locale {
                if !locales.contains(locale) {
                    locales.push(locale.clone());
                }
                for part in parts(c) {
                    let v = match *part {
                        "subject" => &t.subject,
                        "title" => &t.title,
                        _ => &t.body,
                    };
                    if let Some(v) = v {
                        texts.insert((c, locale.clone(), *part), v.clone());
                    }
                }
            }
        }
        Draft {
            audience: config.audience,
            rows,
            fallback_when: config.fallback_when,
            default_locale: config.default_locale.clone(),
            locales,
            texts,
        }
    }

    /// What the editor posted.
    pub(super) fn posted(f: &Fields) -> Draft {
        let audience = match f.get("audience") {
            Some("staff") => Audience::Staff,
            _ => Audience::Client,
        };
        // Rows in the order of their position numbers; ties keep the
        // order of the page.
        let mut rows: Vec<(f64, usize, Channel, Scenario)> = reachable(audience)
            .enumerate()
            .map(|(i, c)| {
                let pos = f
                    .get(&format!("position.{c}"))
                    .and_then(|p| p.trim().parse::<f64>().ok())
                    .unwrap_or(i as f64 + 1.0);
                let shown = f.all("channel").position(|n| n == c.as_str()).unwrap_or(i);
                let scenario = match f.get(&format!("scenario.{c}")) {
                    Some("always") => Scenario::Always,
                    Some("fallback") => Scenario::Fallback,
                    _ => Scenario::Off,
                };
                (pos, shown, c, scenario)
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let default_locale = f.text("default_locale").unwrap_or_else(|| "en".into());
        let mut locales = vec![default_locale.clone()];
        for l in f.get("locales").unwrap_or("").split([',', ' ']) {
            let l = l.trim();
            if !l.is_empty() && !locales.iter().any(|x| x == l) {
                locales.push(l.to_string());
            }
        }
        let mut texts = BTreeMap::new();
        for c in reachable(audience) {
            for locale in &locales {
                for part in parts(c) {
                    if let Some(v) = f.get(&format!("tpl.{c}.{locale}.{part}")) {
                        if !v.trim().is_empty() {
                            texts.insert((c, locale.clone(), *part), v.replace("\r\n", "\n"));
                        }
                    }
                }
            }
        }
        Draft {
            audience,
            rows: rows.into_iter().map(|(_, _, c, s)| (c, s)).collect(),
            fallback_when: match f.get("fallback_when") {
                Some("any_failed") => FallbackWhen::AnyFailed,
                _ => FallbackWhen::NoneDelivered,
            },
            default_locale,
            locales,
            texts,
        }
    }

    /// The type to store. Channels set to "Do not send" are left out (they
    /// would be skipped anyway); the second value maps each stored
    /// channel's index back to its row, so an error naming
    /// `channels[i]` lands next to the right select.
    pub(super) fn config(&self) -> (TypeConfig, Vec<Channel>) {
        let kept: Vec<(Channel, Scenario)> = self
            .rows
            .iter()
            .copied()
            .filter(|(_, s)| *s != Scenario::Off)
            .collect();
        let mut templates: BTreeMap<String, BTreeMap<String, TemplateText>> = BTreeMap::new();
        for ((c, locale, part), text) in &self.texts {
            let t = templates
                .entry(c.as_str().to_string())
                .or_default()
                .entry(locale.clone())
                .or_default();
            let slot = match *part {
                "subject" => &mut t.subject,
                "title" => &mut t.title,
                _ => &mut t.body,
            };
            *slot = Some(text.clone());
        }
        let config = TypeConfig {
            audience: self.audience,
            channels: kept
                .iter()
                .map(|(channel, scenario)| ChannelSetting {
                    channel: *channel,
                    scenario: *scenario,
                })
                .collect(),
            fallback_when: self.fallback_when,
            default_locale: self.default_locale.clone(),
            templates,
            // The form has no fields for these; `save` keeps the stored ones.
            quiet_hours: None,
            critical: false,
        };
        (config, kept.into_iter().map(|(c, _)| c).collect())
    }
}

/// Where a broken rule is shown: the row of a channel, a template field,
/// or the top of the form.
#[derive(Debug, Default)]
pub(super) struct Placed {
    pub(super) field: String,
    pub(super) message: String,
    /// The channel row the error belongs to.
    pub(super) row: Option<Channel>,
}

/// Places a broken rule on the form: `stored` are the channels in the
/// order the service numbered them.
pub(super) fn place(e: &FieldError, stored: &[Channel]) -> Placed {
    let row = e
        .field
        .strip_prefix("channels[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| stored.get(i).copied());
    Placed {
        field: e.field.clone(),
        message: e.message.clone(),
        row,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_form() -> Fields {
        Fields::parse(
            b"audience=client&channel=email&position.email=1&scenario.email=always\
              &channel=aunio&position.aunio=2&scenario.aunio=always\
              &channel=branded_app&position.branded_app=3&scenario.branded_app=fallback\
              &channel=sms&position.sms=4&scenario.sms=fallback\
              &default_locale=en&locales=en%2C+de&tpl.sms.en.body=Hi+%7B%7B+client_name+%7D%7D\
              &tpl.email.de.subject=Termin&tpl.email.de.body=",
        )
    }

    #[test]
    fn a_posted_form_becomes_the_type() {
        let (config, stored) = Draft::posted(&seed_form()).config();
        let got: Vec<(Channel, Scenario)> = config
            .channels
            .iter()
            .map(|c| (c.channel, c.scenario))
            .collect();
        assert_eq!(
            got,
            [
                (Channel::Email, Scenario::Always),
                (Channel::Aunio, Scenario::Always),
                (Channel::BrandedApp, Scenario::Fallback),
                (Channel::Sms, Scenario::Fallback),
            ]
        );
        assert_eq!(stored.len(), 4);
        assert_eq!(
            config.templates["sms"]["en"].body.as_deref(),
            Some("Hi {{ client_name }}")
        );
        // An empty text is no template part.
        assert_eq!(config.templates["email"]["de"].body, None);
        assert!(config.validate().is_ok());
        // Stored and shown again: the same rows and texts.
        let again = Draft::of(&config);
        assert_eq!(again.rows, Draft::posted(&seed_form()).rows);
        assert_eq!(again.locales, ["en", "de"]);
    }

    #[test]
    fn positions_order_the_rows_and_off_rows_are_left_out() {
        let f = Fields::parse(
            b"audience=client&position.email=1&scenario.email=off&position.aunio=2&scenario.aunio=off\
              &position.branded_app=4&scenario.branded_app=fallback&position.sms=3&scenario.sms=always",
        );
        let d = Draft::posted(&f);
        assert_eq!(d.rows[2], (Channel::Sms, Scenario::Always));
        let (config, stored) = d.config();
        assert_eq!(stored, [Channel::Sms, Channel::BrandedApp]);
        assert!(config.validate().is_ok(), "{config:?}");
    }

    #[test]
    fn a_broken_rule_is_placed_on_its_row() {
        // Nothing enabled before a fallback: the first stored channel is
        // the branded app, whose scenario the rule names.
        let f = Fields::parse(
            b"audience=client&scenario.email=off&scenario.aunio=off&scenario.branded_app=fallback&scenario.sms=off",
        );
        let (config, stored) = Draft::posted(&f).config();
        let e = config.validate().expect_err("leading fallback");
        let placed = place(&e, &stored);
        assert_eq!(placed.row, Some(Channel::BrandedApp));
        assert_eq!(placed.field, "channels[0].scenario");
    }
}
