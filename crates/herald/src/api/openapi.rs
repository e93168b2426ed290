//! `GET /openapi.json`: the OpenAPI 3.1 document of the whole API,
//! generated from the handlers' `#[utoipa::path]` attributes and the
//! request and response types' schemas (`api::model`, and the core's and
//! the service's request types). The paths come from the one route list
//! in `api::routes`, the same one the router is built from.
//!
//! Error answers are described once per status here (`E400` … `E503`),
//! each with the error shape of `api::model::ErrorBody`; a handler lists
//! the ones it can give.

use super::model::ErrorBody;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder,
};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The name of the security scheme of a tenant's API key.
pub const TENANT_KEY: &str = "tenant_key";
/// The name of the security scheme of the operator's admin token.
pub const ADMIN_TOKEN: &str = "admin_token";

/// One error response with the error shape as its body.
fn error_response(
    status: u16,
    description: &str,
) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if status == 503 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(<u32 as utoipa::PartialSchema>::schema())
                .description(Some("seconds to wait before trying again"))
                .build(),
        );
    }
    BTreeMap::from([(status.to_string(), RefOr::T(response.build()))])
}

/// Declares a response type per error status, for `responses(...)`.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                error_response($status, $description)
            }
        }
    )+};
}

error_responses! {
    /// 400.
    E400 = 400, "Malformed JSON, a value of the wrong JSON type (an object where a string is expected), or a path or query that cannot be read; `field` names it when it can.";
    /// 401.
    E401 = 401, "No key, or a key Herald does not know (send `Authorization: Bearer <key>`).";
    /// 403.
    E403 = 403, "A key without the right: a tenant's API key where the operator's admin token is needed.";
    /// 404.
    E404 = 404, "An unknown id or channel in the path (another tenant's ids answer this too).";
    /// 409.
    E409 = 409, "A conflict: the same idempotency key with a different body.";
    /// 413.
    E413 = 413, "The request body is larger than 1 MiB.";
    /// 415.
    E415 = 415, "The request body is not `application/json`.";
    /// 422.
    E422 = 422, "A rule broken, a required field missing, a value outside its allowed set, an unknown field, or an unknown id inside the body; `field` names it (`channels[1].scenario`).";
    /// 501.
    E501 = 501, "This store keeps no simulator outbox.";
    /// 503.
    E503 = 503, "Herald cannot take the request now (its database cannot write, or it is shutting down); nothing was stored. Try again after `Retry-After` seconds.";
}

/// Adds the two bearer schemes: a tenant's API key and the operator's
/// admin token.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(description.to_string());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            TENANT_KEY,
            bearer("A tenant's API key (from `POST /v1/tenants`): `Authorization: Bearer <api_key>`. Every `/v1/...` route but the operator's and the receipt webhooks needs one, and sees only that tenant's data."),
        );
        components.add_security_scheme(
            ADMIN_TOKEN,
            bearer("The operator's admin token (`HERALD_ADMIN_TOKEN`): `Authorization: Bearer <token>`."),
        );
    }
}

/// The document's frame: title, description, the error schema and the
/// security schemes. The paths are added from `api::routes`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald",
        description = "Notification cascades for booking businesses: e-mail, app push and SMS/messengers, each notification type with its channels in order and a scenario per channel.\n\nRequest and response bodies are JSON. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}` with a 4xx that fits (never a 5xx for bad input); a known path with a method it does not serve answers 405, an unknown path 404. Unknown fields in a request body are refused (422 naming them); `null` counts as absent for an optional field. Responses may carry more fields than listed.",
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Health and description; no key."),
        (name = "operator", description = "The operator's own: tenants and the platform's integrations (admin token)."),
        (name = "integrations", description = "A tenant's provider per channel."),
        (name = "hooks", description = "Providers' receipt callbacks (no key: the hook id and the provider's signature)."),
        (name = "notification-types", description = "Channels, order, scenarios and templates of each kind of notification."),
        (name = "recipients", description = "Clients and staff."),
        (name = "notifications", description = "Triggers, the log, one notification's cascade, the dry run."),
        (name = "bookings", description = "Cancelling and moving a booking's notifications."),
        (name = "tenant", description = "The tenant's own settings (its time zone)."),
        (name = "simulator", description = "What the simulator provider was asked to send."),
    ),
)]
struct Frame;

/// The whole document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = Frame::openapi();
        doc.merge(super::routes::paths());
        doc
    })
}

/// The document as served, serialized once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| match serde_json::to_string(document()) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document does not serialize");
            "{}".to_string()
        }
    })
}

/// `GET /openapi.json`: the OpenAPI 3.1 document of this API; no key.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    ([(CONTENT_TYPE, "application/json")], document_json()).into_response()
}
