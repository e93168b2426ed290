//! Sign-in with a tenant API key, and sign-out. The login form is guarded
//! by a CSRF token of its own, kept in a short-lived cookie until the
//! session exists (double submit): a page elsewhere cannot sign a browser
//! in to someone else's tenant.

use super::form::Fields;
use super::session::{self, random_token, set_cookie, COOKIE, LOGIN_COOKIE};
use super::{see_other, Shared, Signed};
use crate::error::ServiceError;
use crate::service::now_ms;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

/// How long the login form's token lasts (seconds).
const LOGIN_TOKEN_S: i64 = 30 * 60;

fn login_form(c: &super::Console, status: StatusCode, error: Option<&str>) -> Response {
    let token = random_token();
    let mut resp = c.pages.respond(
        status,
        "login.html",
        &json!({"login_csrf": token, "error": error}),
    );
    if let Ok(v) = set_cookie(LOGIN_COOKIE, &token, c.secure, LOGIN_TOKEN_S).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /login`.
pub async fn login_page(State(c): State<Shared>) -> Response {
    login_form(&c, StatusCode::OK, None)
}

/// `POST /login`: a known tenant API key starts a session.
pub async fn login(State(c): State<Shared>, headers: HeaderMap, f: Fields) -> Response {
    let expected = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| session::cookie(h, LOGIN_COOKIE));
    let given = f.get("csrf");
    let ok = matches!((expected, given), (Some(a), Some(b)) if session::same_token(a, b));
    if !ok {
        return login_form(
            &c,
            StatusCode::FORBIDDEN,
            Some("This form was refused: its security token is missing or out of date. Try again."),
        );
    }
    let key = f.text("api_key").unwrap_or_default();
    match c.app.authenticate(&key).await {
        Ok(tenant) => {
            let id = c.sessions.start(tenant, now_ms());
            let mut resp = see_other("/");
            let max_age = session::MAX_AGE_MS / 1000;
            for cookie in [
                set_cookie(COOKIE, &id, c.secure, max_age),
                set_cookie(LOGIN_COOKIE, "", c.secure, 0),
            ] {
                if let Ok(v) = cookie.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(ServiceError::Unauthorized) => login_form(
            &c,
            StatusCode::UNAUTHORIZED,
            Some("That API key is not one Herald knows."),
        ),
        Err(ServiceError::Forbidden(m)) => login_form(&c, StatusCode::FORBIDDEN, Some(&m)),
        Err(e) => {
            tracing::warn!(error = %e, "sign-in failed");
            login_form(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Herald could not check the key just now; try again."),
            )
        }
    }
}

/// `POST /logout`: ends the session on the server, then the cookie. Needs
/// the session's CSRF token, so another site cannot sign anyone out.
pub async fn logout(
    State(c): State<Shared>,
    Signed(s): Signed,
    headers: HeaderMap,
    f: Fields,
) -> Response {
    if let Some(refused) = c.refuse_without_csrf(&s, &f) {
        return refused;
    }
    let id = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| session::cookie(h, COOKIE));
    if let Some(id) = id {
        c.sessions.end(id);
    }
    let mut resp = see_other("/login");
    if let Ok(v) = set_cookie(COOKIE, "", c.secure, 0).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
