//! Provider secrets at rest. A secret setting is stored as
//! `{"$sealed": "<base64 of nonce ‖ XChaCha20-Poly1305 ciphertext>"}` of its
//! JSON value, under a key from `HERALD_SECRET_KEY` or a key file made on
//! first start beside the database (mode 0600). Only the sealed form is
//! stored or cached; it is opened when a client is configured, and a GET
//! shows `"set"` for anything sealed, so redaction does not depend on a
//! provider remembering to do it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::{Map, Value};
use std::path::Path;

/// The key of a sealed value's envelope.
const SEALED: &str = "$sealed";
/// What a GET shows for a secret that is set.
pub const SET: &str = "set";
/// What a GET shows for a secret that is not.
pub const NOT_SET: &str = "not set";

/// What can go wrong with secrets.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `HERALD_SECRET_KEY` is not 32 bytes in hex or base64.
    #[error("the secret key must be 32 bytes written as 64 hex digits or base64")]
    BadKey,
    /// The key file could not be read or made.
    #[error("secret key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A sealed value does not open with this key (another key, or damage).
    #[error(
        "a stored secret cannot be opened with this secret key (was HERALD_SECRET_KEY changed?)"
    )]
    Open,
}

/// Seals and opens secret settings.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn parse_key(text: &str) -> Result<[u8; 32], SecretError> {
    let text = text.trim();
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| B64.decode(text).ok())
        .ok_or(SecretError::BadKey)?;
    bytes.try_into().map_err(|_| SecretError::BadKey)
}

impl Sealer {
    /// A sealer over a key given as 64 hex digits or base64 of 32 bytes.
    pub fn from_key(text: &str) -> Result<Sealer, SecretError> {
        let key = parse_key(text)?;
        Ok(Sealer {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// The key in a file, made (random, mode 0600) when the file is missing.
    pub fn from_file(path: &Path) -> Result<Sealer, SecretError> {
        let err = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Sealer::from_key(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(path, &hex::encode(key)).map_err(err)?;
                Sealer::from_key(&hex::encode(key))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Seals one JSON value.
    pub fn seal(&self, v: &Value) -> Value {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let plain = v.to_string();
        // Encryption with a fresh nonce cannot fail for inputs this small.
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        let mut m = Map::new();
        m.insert(SEALED.into(), Value::String(B64.encode(out)));
        Value::Object(m)
    }

    /// Opens one sealed value; a value that is not sealed is returned as is.
    pub fn open(&self, v: &Value) -> Result<Value, SecretError> {
        let Some(text) = sealed_text(v) else {
            return Ok(v.clone());
        };
        let raw = B64.decode(text).map_err(|_| SecretError::Open)?;
        if raw.len() < 24 {
            return Err(SecretError::Open);
        }
        let (nonce, ct) = raw.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Open)?;
        serde_json::from_slice(&plain).map_err(|_| SecretError::Open)
    }

    /// Settings with every sealed top-level value opened.
    pub fn open_all(&self, settings: &Value) -> Result<Value, SecretError> {
        let Some(map) = settings.as_object() else {
            return Ok(settings.clone());
        };
        let mut out = Map::with_capacity(map.len());
        for (k, v) in map {
            out.insert(k.clone(), self.open(v)?);
        }
        Ok(Value::Object(out))
    }
}

fn sealed_text(v: &Value) -> Option<&str> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    m.get(SEALED)?.as_str()
}

/// Whether a stored value is sealed.
pub fn is_sealed(v: &Value) -> bool {
    sealed_text(v).is_some()
}

/// Settings as a GET shows them: every sealed value and every named secret
/// as `"set"`, named secrets that are absent as `"not set"`.
pub fn redact(settings: &Value, secrets: &[&str]) -> Value {
    let mut out = match settings.as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| {
                let shown = if is_sealed(v) || secrets.contains(&k.as_str()) {
                    Value::String(SET.into())
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect::<Map<_, _>>(),
        None => Map::new(),
    };
    for s in secrets {
        out.entry(s.to_string())
            .or_insert_with(|| Value::String(NOT_SET.into()));
    }
    Value::Object(out)
}

/// Whether a secret given in a PUT is a GET's placeholder (sent back by a
/// client that read the integration first): it means "keep" / "absent".
pub fn is_placeholder(v: &Value) -> bool {
    matches!(v.as_str(), Some(SET) | Some(NOT_SET))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sealer() -> Sealer {
        Sealer::from_key(&"11".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_values_open_and_hide_the_plaintext() {
        let s = sealer();
        let v = json!({"private_key": "-----BEGIN PRIVATE KEY-----abc"});
        let sealed = s.seal(&v);
        assert!(is_sealed(&sealed));
        assert!(!sealed.to_string().contains("PRIVATE KEY"));
        assert_eq!(s.open(&sealed).unwrap(), v);
        // A fresh nonce each time.
        assert_ne!(s.seal(&v), sealed);
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = sealer().seal(&json!("hunter2"));
        let other = Sealer::from_key(&"22".repeat(32)).unwrap();
        assert!(matches!(other.open(&sealed), Err(SecretError::Open)));
    }

    #[test]
    fn keys_are_32_bytes_in_hex_or_base64() {
        assert!(Sealer::from_key(&"ab".repeat(32)).is_ok());
        assert!(Sealer::from_key(&B64.encode([7u8; 32])).is_ok());
        assert!(matches!(
            Sealer::from_key("short"),
            Err(SecretError::BadKey)
        ));
        assert!(matches!(
            Sealer::from_key(&"ab".repeat(16)),
            Err(SecretError::BadKey)
        ));
    }

    #[test]
    fn key_file_is_made_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.secret.key");
        let a = Sealer::from_file(&path).unwrap();
        let sealed = a.seal(&json!("pw"));
        let b = Sealer::from_file(&path).unwrap();
        assert_eq!(b.open(&sealed).unwrap(), json!("pw"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn redaction_shows_set_and_not_set() {
        let s = sealer();
        let settings = json!({"host": "smtp.example", "password": s.seal(&json!("pw"))});
        let shown = redact(&settings, &["password", "api_key"]);
        assert_eq!(
            shown,
            json!({"host": "smtp.example", "password": "set", "api_key": "not set"})
        );
        // Anything sealed is hidden even if a provider forgot to name it.
        let shown = redact(&settings, &[]);
        assert_eq!(shown["password"], "set");
    }
}
