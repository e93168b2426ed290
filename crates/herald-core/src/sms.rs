//! How an SMS text travels: its encoding (GSM-7 when every character is in
//! the GSM 03.38 default alphabet or its extension table, else UCS-2) and
//! how many segments (billed parts) it takes. This is what an SMS costs, so
//! it counts exactly as a splitter would: a text that fits one message is
//! one segment (160 septets, or 70 UTF-16 units); a longer one is cut into
//! parts of 153 septets (or 67 units) that leave room for the
//! concatenation header, and a character is never cut in two (an
//! extension character's escape and its code stay together, and so do the
//! two halves of a surrogate pair).

use serde::{Deserialize, Serialize};

/// How the text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// GSM 03.38 default alphabet, 7 bits a character.
    Gsm7,
    /// UCS-2 (UTF-16 units), for anything else.
    Ucs2,
}

impl Encoding {
    /// The API's name (`gsm7`, `ucs2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

/// An SMS text's encoding and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsSize {
    /// The encoding.
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2) of the whole text.
    pub units: u32,
    /// Billed parts.
    pub segments: u32,
}

/// The GSM 03.38 default alphabet (one septet each). The escape (0x1B) is
/// left out: it only ever introduces an extension character.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table (an escape septet plus one: two septets each).
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// Septets one character takes in GSM-7, or `None` if it has no GSM-7 form.
fn gsm7_septets(c: char) -> Option<u32> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Packs characters of the given costs into parts of at most `per_part`
/// without cutting one; answers the number of parts.
fn parts(costs: impl Iterator<Item = u32>, per_part: u32) -> u32 {
    let mut parts = 1;
    let mut used = 0;
    for c in costs {
        if used + c > per_part {
            parts += 1;
            used = 0;
        }
        used += c;
    }
    parts
}

/// The encoding and segment count of an SMS text.
pub fn sms_size(text: &str) -> SmsSize {
    let septets: Option<Vec<u32>> = text.chars().map(gsm7_septets).collect();
    match septets {
        Some(costs) => {
            let units: u32 = costs.iter().sum();
            let segments = if units <= 160 {
                1
            } else {
                parts(costs.into_iter(), 153)
            };
            SmsSize {
                encoding: Encoding::Gsm7,
                units,
                segments,
            }
        }
        None => {
            let units: u32 = text.chars().map(|c| c.len_utf16() as u32).sum();
            let segments = if units <= 70 {
                1
            } else {
                parts(text.chars().map(|c| c.len_utf16() as u32), 67)
            };
            SmsSize {
                encoding: Encoding::Ucs2,
                units,
                segments,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> (Encoding, u32, u32) {
        let s = sms_size(text);
        (s.encoding, s.units, s.segments)
    }

    #[test]
    fn the_default_alphabet_is_complete() {
        // 128 code points less the escape.
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn gsm7_table() {
        use Encoding::Gsm7;
        let a = |n: usize| "a".repeat(n);
        for (text, want) in [
            (String::new(), (Gsm7, 0, 1)),
            ("Hi Ana, see you at 10:00!".to_string(), (Gsm7, 25, 1)),
            (a(160), (Gsm7, 160, 1)),
            (a(161), (Gsm7, 161, 2)),
            (a(306), (Gsm7, 306, 2)),
            (a(307), (Gsm7, 307, 3)),
            (a(459), (Gsm7, 459, 3)),
            (a(460), (Gsm7, 460, 4)),
            // Accented letters of the default alphabet are one septet.
            ("Grüße, Jörg - 10:00".to_string(), (Gsm7, 19, 1)),
            (
                "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà".to_string(),
                (Gsm7, 42, 1),
            ),
        ] {
            assert_eq!(size(&text), want, "{text:?}");
        }
    }

    #[test]
    fn extension_characters_count_two_and_are_never_split() {
        use Encoding::Gsm7;
        for c in ['^', '{', '}', '[', ']', '~', '|', '€', '\\'] {
            assert_eq!(size(&c.to_string()), (Gsm7, 2, 1), "{c:?}");
        }
        // 80 euro signs are 160 septets: one message; 81 are two parts.
        assert_eq!(size(&"€".repeat(80)), (Gsm7, 160, 1));
        assert_eq!(size(&"€".repeat(81)), (Gsm7, 162, 2));
        // 152 septets, then a two-septet character: it does not fit the
        // first part's last septet, so it starts the second part.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(size(&text), (Gsm7, 164, 2));
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(size(&text), (Gsm7, 306, 3));
        let text = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(size(&text), (Gsm7, 306, 2));
    }

    #[test]
    fn ucs2_table() {
        use Encoding::Ucs2;
        let ya = |n: usize| "я".repeat(n);
        for (text, want) in [
            (ya(70), (Ucs2, 70, 1)),
            (ya(71), (Ucs2, 71, 2)),
            (ya(134), (Ucs2, 134, 2)),
            (ya(135), (Ucs2, 135, 3)),
            (ya(200), (Ucs2, 200, 3)),
            // One character outside GSM-7 makes the whole text UCS-2.
            (format!("{}ç", "a".repeat(69)), (Ucs2, 70, 1)),
            (format!("{}—", "a".repeat(70)), (Ucs2, 71, 2)),
            // ë is not in the default alphabet (è and é are).
            ("Zoë".to_string(), (Ucs2, 3, 1)),
            // An emoji is two UTF-16 units.
            ("See you 😀".to_string(), (Ucs2, 10, 1)),
            ("😀".repeat(35), (Ucs2, 70, 1)),
            ("😀".repeat(36), (Ucs2, 72, 2)),
        ] {
            assert_eq!(size(&text), want, "{text:?}");
        }
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        // 66 units then an emoji: 68 units do not fit a 67-unit part, so
        // the emoji starts the second part.
        let text = format!("{}😀{}", "я".repeat(66), "я".repeat(10));
        assert_eq!(size(&text), (Encoding::Ucs2, 78, 2));
        let text = format!("{}😀{}", "я".repeat(66), "я".repeat(66));
        assert_eq!(size(&text), (Encoding::Ucs2, 134, 3));
    }

    #[test]
    fn two_hundred_ucs2_characters_are_three_parts() {
        // 200 Cyrillic letters: 67 + 67 + 66.
        assert_eq!(sms_size(&"ж".repeat(200)).segments, 3);
    }
}
