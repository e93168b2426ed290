//! A text as one or more `submit_sm`s: GSM-7 (data_coding 0) when every
//! character is in the GSM 03.38 basic or extension table, else UCS-2
//! (data_coding 8); long texts split with a concatenation UDH (IEI 0x00,
//! 8-bit reference, total, sequence; esm_class UDHI). The encoders and the
//! UDH are rusmpp's; this only chooses sizes: 160 septets single, 153 per
//! part (GSM-7, sent unpacked, one septet per octet); 70 UTF-16 units
//! single, 67 per part (UCS-2).

use rusmpp::extra::concatenation::SubmitSmMultipartExt;
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::pdus::SubmitSm;

/// The UDH of a concatenated part with an 8-bit reference: UDHL, IEI,
/// IEDL, reference, total, sequence.
const UDH_LEN: usize = 6;

/// The parts of a text, ready to submit.
pub fn parts(base: SubmitSm, text: &str, reference: u8) -> Result<Vec<SubmitSm>, String> {
    let gsm = Gsm7BitUnpacked::new().encode_to_vec(text).ok();
    // UCS-2 has only the Basic Multilingual Plane: a character beyond it
    // (an emoji) has no UCS-2 form and goes as U+FFFD rather than failing
    // the whole message.
    let text: std::borrow::Cow<'_, str> =
        if gsm.is_none() && text.chars().any(|c| c.len_utf16() > 1) {
            text.chars()
                .map(|c| if c.len_utf16() > 1 { '\u{FFFD}' } else { c })
                .collect::<String>()
                .into()
        } else {
            text.into()
        };
    let text = text.as_ref();
    let built = match gsm {
        Some(septets) => {
            // 160 septets fit one message; parts carry 153 after the UDH.
            let max = if septets.len() <= 160 {
                160
            } else {
                153 + UDH_LEN
            };
            base.multipart(text)
                .reference_u8(reference)
                .max_short_message_size(max)
                .build()
                .map_err(|e| e.to_string())
        }
        None => base
            .multipart(text)
            .reference_u8(reference)
            .ucs2()
            // 140 octets: 70 units single, 67 per part after the UDH.
            .max_short_message_size(140)
            .build()
            .map_err(|e| e.to_string()),
    };
    built.map_err(|e| format!("the text cannot be sent as SMS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(text: &str) -> Vec<(usize, u8)> {
        parts(SubmitSm::default(), text, 7)
            .unwrap()
            .iter()
            .map(|p| (p.short_message().len(), u8::from(p.data_coding)))
            .collect()
    }

    #[test]
    fn gsm7_splits_at_160_and_153() {
        assert_eq!(sizes(&"a".repeat(160)), vec![(160, 0)]);
        assert_eq!(sizes(&"a".repeat(161)), vec![(159, 0), (14, 0)]);
        // The extension table counts two septets.
        assert_eq!(sizes(&"€".repeat(80)).len(), 1);
        assert_eq!(sizes(&"€".repeat(81)).len(), 2);
    }

    #[test]
    fn characters_beyond_ucs2_go_as_replacement_characters() {
        let p = parts(SubmitSm::default(), "See you 😀", 1).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(u8::from(p[0].data_coding), 8);
        // "See you " and U+FFFD, two octets each.
        assert_eq!(p[0].short_message().len(), 18);
    }

    #[test]
    fn ucs2_splits_at_70_and_67() {
        assert_eq!(sizes(&"ж".repeat(70)), vec![(140, 8)]);
        let p = sizes(&"ж".repeat(200));
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|(n, dc)| *n <= 140 && *dc == 8));
    }
}
