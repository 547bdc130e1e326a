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
    /// `RATE_LIMITED`, `BAD_GATEWAY`, `UNAVAILABLE` (the database cannot be reached; `Retry-After` says when to
    /// try again) or `INTERNAL`.
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
    components(schemas(ErrorBody, ErrorDetail))
)]
struct Base;

/// The document: the base above with the paths the routers declare, then the conventions applied to all.
pub fn document(paths: OpenApi) -> OpenApi {
    let mut doc = <Base as utoipa::OpenApi>::openapi();
    doc.merge(paths);
    Conventions.modify(&mut doc);
    doc
}

/// The reference page of the document: one HTML page (no script, no external asset) that a person reads.
pub fn reference_page(json: &serde_json::Value) -> Result<String, String> {
    render(
        include_str!("reference.html"),
        |text| minijinja::Value::from_safe_string(inline_html(&text)),
        json,
    )
}

/// The same reference as Markdown, for docs/reference/rest.md: the operations' own responses, with the errors
/// every operation may answer listed once.
pub fn reference_markdown(json: &serde_json::Value) -> Result<String, String> {
    render(
        include_str!("reference.md"),
        |text| {
            minijinja::Value::from_safe_string(
                text.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace('|', "\\|"),
            )
        },
        json,
    )
}

/// Renders a reference template over the document, with `text` as the filter for prose.
fn render(
    source: &str,
    text: fn(String) -> minijinja::Value,
    json: &serde_json::Value,
) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_filter("text", text);
    env.add_template("reference", source)
        .map_err(|e| e.to_string())?;
    let template = env.get_template("reference").map_err(|e| e.to_string())?;
    let mut context = page_context(json);
    context["errors"] = ERRORS
        .iter()
        .map(|(status, description)| serde_json::json!({"status": status, "description": description}))
        .collect();
    template
        .render(minijinja::value::Serde(context))
        .map_err(|e| e.to_string())
}

/// Prose from the annotations as HTML: escaped, with `code` spans set as code.
fn inline_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // An unmatched backtick: leave the text as it is.
        return escaped;
    }
    let mut html = String::with_capacity(escaped.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            html.push_str("<code>");
            html.push_str(part);
            html.push_str("</code>");
        } else {
            html.push_str(part);
        }
    }
    html
}

/// The name a `$ref` points to (`#/components/schemas/ConversationJson` → `ConversationJson`).
fn ref_name(schema: &serde_json::Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(serde_json::Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

/// A schema's type in words, and the schema it refers to, if any.
fn type_of(schema: &serde_json::Value) -> (String, Option<String>) {
    if let Some(name) = ref_name(schema) {
        return (name.to_owned(), Some(name.to_owned()));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(key).and_then(serde_json::Value::as_array) {
            let named: Vec<(String, Option<String>)> = parts.iter().map(type_of).collect();
            let reference = named.iter().find_map(|(_, r)| r.clone());
            let words: Vec<String> = named.into_iter().map(|(w, _)| w).collect();
            return (words.join(" or "), reference);
        }
    }
    let kinds: Vec<String> = match schema.get("type") {
        Some(serde_json::Value::String(kind)) => vec![kind.clone()],
        Some(serde_json::Value::Array(kinds)) => kinds
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => vec!["any".to_owned()],
    };
    let mut reference = None;
    let words: Vec<String> = kinds
        .into_iter()
        .map(|kind| match kind.as_str() {
            "array" => {
                let (item, item_ref) = schema.get("items").map(type_of).unwrap_or_default();
                reference = item_ref;
                format!("array of {item}")
            }
            _ => match schema.get("format").and_then(serde_json::Value::as_str) {
                Some(format) => format!("{kind} ({format})"),
                None => kind,
            },
        })
        .collect();
    (words.join(" or "), reference)
}

/// What the reference template reads: the operations grouped by tag, and the schemas.
fn page_context(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut tags: Vec<(String, Vec<Value>)> = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let parameters: Vec<Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    json!({
                        "name": text(p, "name"),
                        "location": text(p, "in"),
                        "required": p["required"].as_bool().unwrap_or(false),
                        "type": type_of(&p["schema"]).0,
                        "description": text(p, "description"),
                    })
                })
                .collect();
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|media| type_of(&media["schema"]));
            let mut responses: Vec<(String, Value)> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| {
                    let body = r["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .and_then(|media| type_of(&media["schema"]).1);
                    (
                        status.clone(),
                        json!({
                            "status": status,
                            "description": text(r, "description"),
                            "body": body,
                            "common": ERRORS.iter().any(|(s, d)| s == status && *d == text(r, "description")),
                        }),
                    )
                })
                .collect();
            responses.sort_by(|a, b| a.0.cmp(&b.0));
            let operation = json!({
                "id": text(op, "operationId"),
                "method": method.to_uppercase(),
                "path": path,
                "summary": text(op, "summary"),
                "description": text(op, "description"),
                "public": op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty()))),
                "parameters": parameters,
                "body": body.as_ref().map(|(words, _)| words.clone()),
                "body_ref": body.as_ref().is_some_and(|(_, r)| r.is_some()),
                "responses": responses.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            });
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            match tags.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, ops)) => ops.push(operation),
                None => tags.push((tag, vec![operation])),
            }
        }
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let schemas: Vec<Value> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let properties: Vec<Value> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, property)| {
                    let (words, reference) = type_of(property);
                    json!({
                        "name": field,
                        "type": words,
                        "ref": reference,
                        "required": required.contains(&field.as_str()),
                        "description": text(property, "description"),
                    })
                })
                .collect();
            json!({"name": name, "description": text(schema, "description"), "properties": properties})
        })
        .collect();
    json!({
        "title": text(&doc["info"], "title"),
        "version": text(&doc["info"], "version"),
        "description": text(&doc["info"], "description"),
        "tags": tags.into_iter().map(|(name, operations)| json!({"name": name, "operations": operations})).collect::<Vec<_>>(),
        "schemas": schemas,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn prose_is_escaped_and_code_spans_become_code() {
        assert_eq!(
            super::inline_html("use `<b>` & `x`"),
            "use <code>&lt;b&gt;</code> &amp; <code>x</code>"
        );
        assert_eq!(super::inline_html("a `b"), "a `b");
    }
}
