//! The OpenAPI 3.1 document of REST v1, generated from the handlers' own annotations and types and served at `/api/v1/openapi.json`.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa::{Modify, ToSchema};

/// The error body of every failed request.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, as a code a program can branch on and a message a person can read.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `PLAN_UPGRADE_REQUIRED`, `NOT_FOUND`, `BAD_USER_INPUT`, `CONFLICT`,
    /// `RATE_LIMITED`, `BAD_GATEWAY` or `INTERNAL`.
    pub code: String,
    /// What went wrong, naming the field at fault for a validation error.
    pub message: String,
}

/// The statuses every authenticated operation may answer besides its own, with the error body.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The request is malformed: its JSON, query string or path.",
    ),
    ("401", "No, bad, expired or revoked credentials."),
    (
        "403",
        "The role or the plan does not allow it (`FORBIDDEN`, `PLAN_UPGRADE_REQUIRED`).",
    ),
    ("404", "No such object in the caller's organization."),
    (
        "409",
        "The change conflicts with existing data or the object's state.",
    ),
    ("413", "The body is over the server's limit."),
    ("415", "The body is not `application/json`."),
    ("422", "A field fails validation; the message names it."),
    (
        "429",
        "Over the rate limit; `Retry-After` says when to retry.",
    ),
    ("500", "An internal error, logged with the request id."),
];

/// Adds the bearer-key security scheme, and the error responses every operation may answer.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`ck_…`) or a member's session token, as `Authorization: Bearer …`.",
                    ))
                    .build(),
            ),
        );
        let error = ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "ErrorBody",
            ))))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for (status, description) in ERRORS {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(*description)
                                    .content("application/json", error.clone())
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Concierge REST API",
        version = "1",
        description = "REST v1 of Concierge, the self-hostable AI customer-service assistant: conversations, \
                       messages, the knowledge base, analytics, API keys, the audit log, webhooks and events. \
                       JSON in snake_case; lists answer `{\"data\": [...], \"next_cursor\": \"…\" | null}` and \
                       take `limit` (1-100, 20 by default) and `cursor`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    servers((url = "/api/v1", description = "This server")),
    security(("apiKey" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Conventions)
)]
struct Base;

/// The document: the base above, with the paths the routers declare.
pub fn document(paths: OpenApi) -> OpenApi {
    let mut doc = <Base as utoipa::OpenApi>::openapi();
    doc.merge(paths);
    Conventions.modify(&mut doc);
    doc
}
