//! `X-Twilio-Signature`, as Twilio's "Secure your webhooks" page
//! (https://www.twilio.com/docs/usage/webhooks/webhooks-security) defines
//! it: base64(HMAC-SHA1(auth token, url + every POST parameter's name and
//! value, sorted by name)), the url being the full URL Twilio called,
//! query included. Twilio's own helpers (`twilio.request_validator.
//! RequestValidator.compute_signature`) sort the names, and for a name given
//! several times its distinct values, sorted; so does this.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet};

/// The header's name.
pub const HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

/// Why a signature was refused (never quoting the token or the expected
/// signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No header.
    #[error("no X-Twilio-Signature header")]
    Missing,
    /// Not base64 of 20 bytes.
    #[error("X-Twilio-Signature is not base64 of an HMAC-SHA1")]
    Malformed,
    /// Does not match.
    #[error("X-Twilio-Signature does not match the URL and parameters")]
    Mismatch,
}

fn mac(token: &[u8], url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut m = match HmacSha1::new_from_slice(token) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in params {
        sorted.entry(k).or_default().insert(v);
    }
    m.update(url.as_bytes());
    for (k, values) in sorted {
        for v in values {
            m.update(k.as_bytes());
            m.update(v.as_bytes());
        }
    }
    m
}

/// The form parameters of a body.
pub fn params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The header value Twilio would send.
pub fn sign(token: &[u8], url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(token, url, params).finalize().into_bytes())
}

/// Checks a header against the URL and parameters, in constant time.
pub fn verify(
    token: &[u8],
    header: Option<&str>,
    url: &str,
    params: &[(String, String)],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| SignatureError::Malformed)?;
    mac(token, url, params)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The example of Twilio's webhooks-security page: token `12345`, this
    /// URL and these parameters sign to `0/KCTR6DLpKmkAf8muzZqo1nDgQ=`.
    #[test]
    fn twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(sign(b"12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert_eq!(
            verify(b"12345", Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ="), url, &params),
            Ok(())
        );
    }

    #[test]
    fn refusals() {
        let url = "https://h/v1/hooks/x";
        let params = p(&[("MessageSid", "SM1"), ("MessageStatus", "delivered")]);
        let sig = sign(b"tok", url, &params);
        assert_eq!(
            verify(b"tok", None, url, &params),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(b"tok", Some("not base64!"), url, &params),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"other", Some(&sig), url, &params),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"tok", Some(&sig), "https://h/v1/hooks/y", &params),
            Err(SignatureError::Mismatch)
        );
        let tampered = p(&[("MessageSid", "SM1"), ("MessageStatus", "failed")]);
        assert_eq!(
            verify(b"tok", Some(&sig), url, &tampered),
            Err(SignatureError::Mismatch)
        );
        // The order of the parameters in the body does not matter.
        let reordered = p(&[("MessageStatus", "delivered"), ("MessageSid", "SM1")]);
        assert_eq!(verify(b"tok", Some(&sig), url, &reordered), Ok(()));
    }
}
