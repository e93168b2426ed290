//! Query parameters of the list endpoints, parsed by hand so that a bad
//! value answers 422 naming the parameter. Empty values count as absent;
//! unknown parameters are ignored.

use super::error::ApiError;
use herald_core::{Channel, Status};
use herald_store::{ListQuery, OutboxQuery, RecipientQuery};
use std::collections::HashMap;

/// Default page size of `GET /v1/notifications`.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Default page size of `GET /v1/simulator/outbox`.
pub const DEFAULT_OUTBOX_LIMIT: usize = 100;
/// The largest page either list serves.
pub const MAX_LIMIT: usize = 1000;

/// A parameter's value, with empty values treated as absent.
fn get<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Parses `limit`: a whole number from 1 to `MAX_LIMIT`, else 422.
pub fn parse_limit(params: &HashMap<String, String>, default: usize) -> Result<usize, ApiError> {
    let Some(raw) = get(params, "limit") else {
        return Ok(default);
    };
    let bad = || {
        ApiError::invalid(
            "limit",
            "out_of_range",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
        )
    };
    let n: u64 = raw.parse().map_err(|_| bad())?;
    if !(1..=MAX_LIMIT as u64).contains(&n) {
        return Err(bad());
    }
    usize::try_from(n).map_err(|_| bad())
}

/// Parses the filters of `GET /v1/notifications`: `status`, `type`,
/// `limit`, `before` (a notification id, i.e. a UUID).
pub fn list_query(params: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let status = match get(params, "status") {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "invalid_value",
                "status must be one of scheduled, pending, delivered, failed, cancelled, expired",
            )
        })?),
    };
    let before = match get(params, "before") {
        None => None,
        Some(b) => {
            uuid::Uuid::parse_str(b).map_err(|_| {
                ApiError::invalid(
                    "before",
                    "invalid_value",
                    "before must be a notification id from the previous page's next",
                )
            })?;
            Some(b.to_string())
        }
    };
    Ok(ListQuery {
        status,
        type_key: get(params, "type").map(str::to_string),
        limit: parse_limit(params, DEFAULT_LIST_LIMIT)?,
        before,
        ..ListQuery::default()
    })
}

/// Default page size of `GET /v1/clients` and `GET /v1/staff`.
pub const DEFAULT_RECIPIENT_LIMIT: usize = 50;

/// Parses `GET /v1/clients` / `GET /v1/staff`: `q` (matched against id,
/// name, e-mail and phone), `limit`, `after` (the last id of the
/// previous page).
pub fn recipient_query(params: &HashMap<String, String>) -> Result<RecipientQuery, ApiError> {
    Ok(RecipientQuery {
        q: get(params, "q").map(str::to_string),
        limit: parse_limit(params, DEFAULT_RECIPIENT_LIMIT)?,
        after: get(params, "after").map(str::to_string),
    })
}

/// Parses the filters of `GET /v1/simulator/outbox`: `notification`,
/// `channel`, `limit`, `after` (the last message id of the previous page).
pub fn outbox_query(params: &HashMap<String, String>) -> Result<OutboxQuery, ApiError> {
    let channel = match get(params, "channel") {
        None => None,
        Some(c) => Some(Channel::parse(c).ok_or_else(|| {
            ApiError::invalid(
                "channel",
                "invalid_value",
                "channel must be one of email, admin_app, aunio, branded_app, sms",
            )
        })?),
    };
    Ok(OutboxQuery {
        notification_id: get(params, "notification").map(str::to_string),
        channel,
        limit: parse_limit(params, DEFAULT_OUTBOX_LIMIT)?,
        after: get(params, "after").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field_of(e: ApiError) -> (StatusCode, Option<String>) {
        (e.status, e.field)
    }

    #[test]
    fn list_defaults() {
        let q = list_query(&params(&[])).unwrap();
        assert_eq!(q.limit, 50);
        assert_eq!(q.status, None);
        assert_eq!(q.before, None);
        let q = list_query(&params(&[
            ("status", ""),
            ("type", ""),
            ("limit", ""),
            ("before", ""),
        ]))
        .unwrap();
        assert_eq!(
            q,
            ListQuery {
                limit: 50,
                ..Default::default()
            }
        );
    }

    #[test]
    fn list_values() {
        let id = "0190a5f2-7c1e-7abc-9def-0123456789ab";
        let q = list_query(&params(&[
            ("status", "delivered"),
            ("type", "reminder"),
            ("limit", "1000"),
            ("before", id),
            ("whatever", "x"),
        ]))
        .unwrap();
        assert_eq!(q.status, Some(Status::Delivered));
        assert_eq!(q.type_key.as_deref(), Some("reminder"));
        assert_eq!(q.limit, 1000);
        assert_eq!(q.before.as_deref(), Some(id));
    }

    #[test]
    fn list_errors_name_the_parameter() {
        for (k, v) in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "-1"),
            ("limit", "ten"),
            ("limit", "1.5"),
            ("limit", "99999999999999999999999"),
            ("status", "sent"),
            ("before", "not-a-uuid"),
        ] {
            let e = list_query(&params(&[(k, v)])).unwrap_err();
            assert_eq!(
                field_of(e),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(k.to_string())),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn outbox() {
        let q = outbox_query(&params(&[])).unwrap();
        assert_eq!(q.limit, 100);
        let q = outbox_query(&params(&[
            ("channel", "sms"),
            ("notification", "n1"),
            ("after", "m1"),
            ("limit", "7"),
        ]))
        .unwrap();
        assert_eq!(q.channel, Some(Channel::Sms));
        assert_eq!(q.notification_id.as_deref(), Some("n1"));
        assert_eq!(q.after.as_deref(), Some("m1"));
        assert_eq!(q.limit, 7);
        for (k, v) in [("channel", "fax"), ("limit", "0"), ("limit", "5000")] {
            let e = outbox_query(&params(&[(k, v)])).unwrap_err();
            assert_eq!(
                field_of(e),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(k.to_string()))
            );
        }
    }
}
