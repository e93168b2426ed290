//! The load process's HTTP client: one connection pool for setup, load and
//! reading back, speaking API.md and nothing else.

use crate::error::BenchError;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// How long one request may take before it counts as failed.
const REQUEST_BOUND: Duration = Duration::from_secs(60);

/// An HTTP client for one server.
#[derive(Clone)]
pub struct Http {
    base: String,
    client: reqwest::Client,
}

/// What one request answered.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Http {
    /// A client for `base` (`http://ADDR`) keeping up to `connections` open.
    pub fn new(base: &str, connections: usize) -> Result<Http, BenchError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_BOUND)
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()
            .map_err(|source| BenchError::Http {
                what: "building the HTTP client".into(),
                source,
            })?;
        Ok(Http {
            base: base.to_string(),
            client,
        })
    }

    /// The same pool pointed at another server (after a restart).
    pub fn at(&self, base: &str) -> Http {
        Http {
            base: base.to_string(),
            client: self.client.clone(),
        }
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, BenchError> {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let what = || format!("{method} {path}");
        let resp = req.send().await.map_err(|source| BenchError::Http {
            what: what(),
            source,
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| BenchError::Http {
            what: what(),
            source,
        })?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// Sends a request and expects a 2xx; returns the body.
    pub async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, BenchError> {
        let answer = self.send(method.clone(), path, key, body).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(BenchError::Status {
                what: format!("{method} {path}"),
                status: answer.status.as_u16(),
                body: answer.body.to_string(),
            })
        }
    }

    /// `GET path` with a tenant key, expecting a 2xx.
    pub async fn get(&self, path: &str, key: &str) -> Result<Value, BenchError> {
        self.expect_ok(Method::GET, path, Some(key), None).await
    }

    /// `PUT path` with a tenant key and a body, expecting a 2xx.
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> Result<Value, BenchError> {
        self.expect_ok(Method::PUT, path, Some(key), Some(body))
            .await
    }

    /// `POST` of pre-encoded JSON; the status and, when asked, the `id` of
    /// the answer. The load's hot path: no `Value` is built for the body.
    pub async fn post_raw(
        &self,
        path: &str,
        key: &str,
        body: String,
        want_id: bool,
    ) -> Result<(StatusCode, Option<String>), String> {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let id = if want_id {
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
        } else {
            None
        };
        Ok((status, id))
    }

    /// `GET path` without a key; only the status.
    pub async fn status_of(&self, path: &str) -> Result<StatusCode, String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        // Read the body so the connection goes back to the pool.
        resp.bytes().await.map_err(|e| format!("GET {path}: {e}"))?;
        Ok(status)
    }

    /// `GET path` without a key, as text (for /metrics).
    pub async fn text(&self, path: &str) -> Result<String, BenchError> {
        let what = || format!("GET {path}");
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|source| BenchError::Http {
                what: what(),
                source,
            })?;
        resp.text().await.map_err(|source| BenchError::Http {
            what: what(),
            source,
        })
    }
}

/// The value of one sample line of a Prometheus text (`name{labels} V`),
/// `series` being everything before the value.
pub fn metric(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_read_by_its_whole_series() {
        let text = "# TYPE herald_sends_total counter\n\
                    herald_sends_total{channel=\"email\",result=\"accepted\"} 1234\n\
                    herald_sends_total{channel=\"email\",result=\"refused\"} 7\n";
        assert_eq!(
            metric(
                text,
                "herald_sends_total{channel=\"email\",result=\"accepted\"}"
            ),
            Some(1234)
        );
        assert_eq!(
            metric(
                text,
                "herald_sends_total{channel=\"email\",result=\"refused\"}"
            ),
            Some(7)
        );
        assert_eq!(metric(text, "herald_sends_total"), None);
    }
}
