//! Certificates trusted beside the built-in roots: `--tls-ca-file` /
//! `HERALD_TLS_CA_FILE`, for a private relay or a local peer in tests.
//! Every provider that opens TLS builds its client through here, so the
//! extra roots reach all of them the same way.

use std::sync::Arc;

/// Extra trusted certificates, PEM.
#[derive(Clone, Default)]
pub struct Roots {
    pem: Option<Arc<Vec<u8>>>,
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roots")
            .field("extra", &self.pem.is_some())
            .finish()
    }
}

/// A CA file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// Not readable.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not PEM certificates.
    #[error("{path} holds no PEM certificate: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Roots {
    /// Only the built-in roots.
    pub fn none() -> Roots {
        Roots::default()
    }

    /// Trusts the certificates in a PEM bundle as well.
    pub fn from_pem(pem: Vec<u8>) -> Result<Roots, String> {
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no certificate in the bundle".into());
        }
        Ok(Roots {
            pem: Some(Arc::new(pem)),
        })
    }

    /// Reads a PEM bundle from a file.
    pub fn from_file(path: &str) -> Result<Roots, RootsError> {
        let pem = std::fs::read(path).map_err(|source| RootsError::Read {
            path: path.to_string(),
            source,
        })?;
        Roots::from_pem(pem).map_err(|reason| RootsError::Parse {
            path: path.to_string(),
            reason,
        })
    }

    /// The extra bundle, PEM, if any.
    pub fn pem(&self) -> Option<&[u8]> {
        self.pem.as_deref().map(Vec::as_slice)
    }

    /// The HTTP client of a provider's API: every request bounded by
    /// `timeout` (connecting by at most 10 s of it), and redirects refused,
    /// since one would carry the credentials elsewhere or turn a POST into
    /// a GET (no provider's API redirects). A failure names `field`, the
    /// setting that holds the URL.
    pub fn api_client(
        &self,
        timeout: std::time::Duration,
        field: &str,
    ) -> Result<reqwest::Client, herald_core::FieldError> {
        self.http_client()
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| super::settings_error(field, "client", format!("no HTTP client: {e}")))
    }

    /// An HTTP client builder over rustls that trusts the extra roots too.
    pub fn http_client(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = self.pem() {
            // Checked when the roots were made.
            for c in reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default() {
                b = b.add_root_certificate(c);
            }
        }
        b
    }
}
