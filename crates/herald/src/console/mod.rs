//! The business's console at `/`: server-rendered pages (minijinja
//! templates embedded in the binary, a little progressive JavaScript, no
//! outside resource) over the service layer. Sign-in takes a tenant API
//! key and keeps a server-side session (`session`); every form carries the
//! session's CSRF token, checked before anything changes.

mod auth;
mod form;
mod integrations;
mod log;
mod overview;
mod people;
mod render;
pub mod session;
mod type_draft;
mod types;

use crate::service::{now_ms, App};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use form::Fields;
use herald_core::Audience;
use serde_json::{json, Value};
use session::{Session, Sessions};
use std::sync::Arc;

/// The largest form body the console takes.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// What every console page shares.
pub struct Console {
    app: Arc<App>,
    sessions: Sessions,
    pages: render::Pages,
    /// Cookies get `Secure` when the public URL is https.
    secure: bool,
}

/// The console's routes over a service.
pub fn router(app: Arc<App>) -> Router {
    let secure = app.env.public_url.starts_with("https://");
    let console = Arc::new(Console {
        app,
        sessions: Sessions::default(),
        pages: render::Pages::new(),
        secure,
    });
    Router::new()
        .route("/", get(overview::page))
        .route("/console.css", get(render::stylesheet))
        .route("/console.js", get(render::script))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/types", get(types::list))
        .route("/types/new", get(types::new))
        .route("/types/{key}", get(types::edit).post(types::save))
        .route("/types/{key}/delete", post(types::delete))
        .route("/types/{key}/preview", post(types::preview))
        .route("/integrations", get(integrations::page))
        .route("/integrations/{channel}", post(integrations::save))
        .route("/integrations/{channel}/test", post(integrations::test))
        .route("/integrations/{channel}/delete", post(integrations::delete))
        .route(
            "/clients",
            get(|c: State<Shared>, s: Signed, q: Query| people::list(c, s, q, Audience::Client))
                .post(|c: State<Shared>, s: Signed, f: Fields| {
                    people::save(c, s, f, Audience::Client)
                }),
        )
        .route(
            "/clients/{id}",
            get(|c: State<Shared>, s: Signed, p: Key| people::edit(c, s, p, Audience::Client)),
        )
        .route(
            "/clients/{id}/delete",
            post(|c: State<Shared>, s: Signed, p: Key, f: Fields| {
                people::delete(c, s, p, f, Audience::Client)
            }),
        )
        .route(
            "/staff",
            get(|c: State<Shared>, s: Signed, q: Query| people::list(c, s, q, Audience::Staff))
                .post(|c: State<Shared>, s: Signed, f: Fields| {
                    people::save(c, s, f, Audience::Staff)
                }),
        )
        .route(
            "/staff/{id}",
            get(|c: State<Shared>, s: Signed, p: Key| people::edit(c, s, p, Audience::Staff)),
        )
        .route(
            "/staff/{id}/delete",
            post(|c: State<Shared>, s: Signed, p: Key, f: Fields| {
                people::delete(c, s, p, f, Audience::Staff)
            }),
        )
        .route("/log", get(log::list))
        .route("/log/{id}", get(log::timeline))
        .route("/dry-run", get(log::dry_run_page).post(log::dry_run))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(console)
}

/// The state every handler shares.
type Shared = Arc<Console>;
/// A page's query string, by name.
type Query = axum::extract::Query<std::collections::HashMap<String, String>>;
/// The one path parameter of a page (a key, id or channel).
type Key = axum::extract::Path<String>;

/// A request from a signed-in browser; anyone else is sent to `/login`.
pub struct Signed(pub Session);

impl FromRequestParts<Arc<Console>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let found = session_id(parts).and_then(|id| console.sessions.find(id, now_ms()));
        found
            .map(Signed)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// The session cookie's value, if the request has one.
fn session_id(parts: &Parts) -> Option<&str> {
    let header = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    session::cookie(header, session::COOKIE)
}

impl Console {
    /// A whole page: the layout around `template`, with the navigation,
    /// the tenant's name and the CSRF token every form needs.
    fn page(&self, s: &Session, template: &str, active: &str, mut ctx: Value) -> Response {
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert("csrf".into(), json!(s.csrf));
            obj.insert("tenant".into(), json!(s.tenant.name));
            obj.insert("active".into(), json!(active));
        }
        self.pages.respond(StatusCode::OK, template, &ctx)
    }

    /// A page with a status other than 200 (a refused form, say).
    fn page_with(
        &self,
        status: StatusCode,
        s: &Session,
        template: &str,
        active: &str,
        ctx: Value,
    ) -> Response {
        let mut resp = self.page(s, template, active, ctx);
        *resp.status_mut() = status;
        resp
    }

    /// The refusal of a form whose CSRF token is missing or not this
    /// session's; `None` when the token is right.
    fn refuse_without_csrf(&self, s: &Session, f: &Fields) -> Option<Response> {
        match f.get("csrf") {
            Some(t) if session::same_token(t, &s.csrf) => None,
            _ => Some(self.page_with(
                StatusCode::FORBIDDEN,
                s,
                "refused.html",
                "",
                json!({"message": "This form was refused: its security token is missing or out of date. Reload the page and try again."}),
            )),
        }
    }

    /// A page saying something went wrong on Herald's side.
    fn failure(&self, s: &Session, e: impl std::fmt::Display) -> Response {
        tracing::warn!(error = %e, "console page failed");
        self.page_with(
            StatusCode::INTERNAL_SERVER_ERROR,
            s,
            "refused.html",
            "",
            json!({"message": format!("Herald could not do this: {e}")}),
        )
    }
}

/// A redirect after a form was handled (so a reload does not post again).
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// A path segment with everything but unreserved characters escaped.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
