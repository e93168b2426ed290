//! A posted HTML form (`application/x-www-form-urlencoded`), kept as the
//! ordered list of its fields, since a form may repeat a name.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The fields of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a field, trimmed; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of a field, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(Fields::parse(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn repeated_and_encoded_fields() {
        let f = Fields::parse(b"a=1&b=x+y%21&a=2&c=+");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.text("c"), None);
        assert_eq!(f.get("d"), None);
    }
}
