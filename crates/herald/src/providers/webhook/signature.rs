//! `Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! the signature of both directions of the webhook contract: Herald's sends
//! to the gateway, and the gateway's receipts back to Herald.
//!
//! The timestamp is inside the signed text, so an old request cannot be
//! replayed with a fresh `t`; a verifier refuses one more than
//! [`TOLERANCE_S`] away from its clock. Several `v1=` entries may be given
//! (a gateway rotating its secret signs with both); one matching is enough.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "Herald-Signature";
/// How far a signature's timestamp may be from the verifier's clock.
pub const TOLERANCE_S: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. The messages never quote the secret or the
/// expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Herald-Signature` header.
    #[error("no Herald-Signature header")]
    Missing,
    /// Not `t=<seconds>,v1=<hex>`.
    #[error("Herald-Signature is not t=<unix seconds>,v1=<hex HMAC-SHA256>")]
    Malformed,
    /// Signed too long ago (or in the future): a replay.
    #[error("Herald-Signature timestamp is more than {TOLERANCE_S} s from now")]
    Stale,
    /// No `v1` matches the body.
    #[error("Herald-Signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value for `body` signed at `t` (unix seconds).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let sig = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(sig))
}

/// Checks a header value against `body`, with `now_s` the verifier's clock
/// (unix seconds). The comparison is constant-time.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_s: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut sigs: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => sigs.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            // Later schemes (v2=…) are skipped, as Stripe's readers do.
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_s.abs_diff(t) > TOLERANCE_S as u64 {
        return Err(SignatureError::Stale);
    }
    let m = mac(secret, t, body);
    if sigs.iter().any(|s| m.clone().verify_slice(s).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_700_000_000;

    #[test]
    fn a_signed_body_verifies() {
        let body = br#"{"message_id":"m1","status":"delivered"}"#;
        let h = sign(SECRET, NOW, body);
        assert!(h.starts_with(&format!("t={NOW},v1=")), "{h}");
        assert_eq!(verify(SECRET, Some(&h), body, NOW), Ok(()));
        // Within the tolerance either way.
        assert_eq!(verify(SECRET, Some(&h), body, NOW + TOLERANCE_S), Ok(()));
        assert_eq!(verify(SECRET, Some(&h), body, NOW - TOLERANCE_S), Ok(()));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body_in_hex() {
        // Computed independently: `printf '%s' '1700000000.{}' |
        // openssl dgst -sha256 -hmac whsec_test`.
        let h = sign(SECRET, NOW, b"{}");
        assert_eq!(
            h,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn a_tampered_body_or_secret_is_refused() {
        let h = sign(SECRET, NOW, b"{\"status\":\"delivered\"}");
        assert_eq!(
            verify(SECRET, Some(&h), b"{\"status\":\"failed\"}", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&h), b"{\"status\":\"delivered\"}", NOW),
            Err(SignatureError::Mismatch)
        );
        // A fresh timestamp on an old signature breaks it too.
        let forged = h.replacen(&NOW.to_string(), &(NOW + 1).to_string(), 1);
        assert_eq!(
            verify(SECRET, Some(&forged), b"{\"status\":\"delivered\"}", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_a_replay() {
        let h = sign(SECRET, NOW, b"{}");
        assert_eq!(
            verify(SECRET, Some(&h), b"{}", NOW + TOLERANCE_S + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&h), b"{}", NOW - TOLERANCE_S - 1),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        assert_eq!(
            verify(SECRET, None, b"{}", NOW),
            Err(SignatureError::Missing)
        );
        for h in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                verify(SECRET, Some(h), b"{}", NOW),
                Err(SignatureError::Malformed),
                "{h:?}"
            );
        }
    }

    #[test]
    fn any_matching_v1_is_enough() {
        let good = sign(SECRET, NOW, b"{}");
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let h = format!("t={NOW},v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&h), b"{}", NOW), Ok(()));
    }
}
