//! GraphQL over HTTP: content negotiation, status codes and request validation as the GraphQL-over-HTTP spec asks.
//!
//! async-graphql-axum always answers `application/graphql-response+json` with status 200, which fails clients
//! that accept only `application/json` and the spec's status-code rules; so the transport lives here.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::auth::credentials::Authenticated;
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const APPLICATION_JSON: &str = "application/json; charset=utf-8";

/// The response media type the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Media {
    /// `application/graphql-response+json`: request errors answer 4xx.
    GraphqlResponse,
    /// `application/json` (also for `*/*` or no Accept): request errors answer 200, as legacy clients expect.
    Json,
}

impl Media {
    fn negotiate(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(Media, f32)> = None;
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let candidate = match media.as_str() {
                "application/graphql-response+json" => Media::GraphqlResponse,
                "application/json" | "*/*" | "application/*" => Media::Json,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((candidate, q));
            }
        }
        best.map_or(Media::Json, |(media, _)| media)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
            Media::Json => APPLICATION_JSON,
        })
    }
}

/// The parameters of one GraphQL request.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn respond(media: Media, status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// A request that failed before execution: `{"errors": [...]}` without `data`.
fn request_error(media: Media, err: ApiError) -> Response {
    let status = err.status();
    let body =
        json!({"errors": [{"message": err.public_message(), "extensions": {"code": err.code()}}]});
    let mut response = respond(media, status, body);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    response
}

/// An error answered before execution, in the media type the client accepts (used by the layers too).
pub fn error_response(headers: &HeaderMap, err: ApiError) -> Response {
    request_error(Media::negotiate(headers), err)
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, GraphiQL for a browser, otherwise a query from the URL
/// (never a mutation).
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    if super::ws::is_upgrade(request.headers()) {
        return super::ws::upgrade(state, request).await;
    }
    let (mut parts, _body) = request.into_parts();
    let Ok(Authenticated(caller)) = Authenticated::from_request_parts(&mut parts, &state).await;
    let headers = parts.headers;
    let raw = parts.uri.query().map(str::to_owned);
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !pairs.iter().any(|(k, _)| k == "query") {
        return crate::web::graphiql_page(&headers);
    }
    let media = Media::negotiate(&headers);
    let params = match get_params(pairs) {
        Ok(params) => params,
        Err(err) => return request_error(media, err),
    };
    if is_mutation(&params) {
        return request_error(
            media,
            ApiError::MethodNotAllowed("mutations are not allowed over GET; use POST".to_owned()),
        );
    }
    execute(&state, caller, media, params).await
}

/// `POST /graphql` with a JSON body.
pub async fn post(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let media = Media::negotiate(&headers);
    match post_params(&headers, &body) {
        Ok(params) => execute(&state, caller, media, params).await,
        Err(err) => request_error(media, err),
    }
}

fn get_params(pairs: Vec<(String, String)>) -> Result<Params, ApiError> {
    let mut params = Params {
        query: String::new(),
        operation_name: None,
        variables: None,
        extensions: None,
    };
    let mut has_query = false;
    for (key, value) in pairs {
        match key.as_str() {
            "query" => {
                params.query = value;
                has_query = true;
            }
            "operationName" => params.operation_name = Some(value),
            "variables" => params.variables = json_object_param("variables", &value)?,
            "extensions" => params.extensions = json_object_param("extensions", &value)?,
            _ => {}
        }
    }
    if !has_query {
        return Err(ApiError::BadRequest("missing query parameter".to_owned()));
    }
    Ok(params)
}

fn json_object_param(name: &str, raw: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|_| ApiError::BadRequest(format!("{name}: must be a JSON object")))?;
    object_param(name, value)
}

fn object_param(name: &str, value: Value) -> Result<Option<Map<String, Value>>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(ApiError::BadRequest(format!(
            "{name}: must be an object or null"
        ))),
    }
}

fn post_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType("missing Content-Type: application/json".to_owned())
        })?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && essence != "application/graphql-response+json" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {essence:?}: send application/json"
        )));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("missing request body".to_owned()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let query = match map.remove("query") {
        Some(Value::String(query)) => query,
        Some(_) => return Err(ApiError::BadRequest("query: must be a string".to_owned())),
        None => return Err(ApiError::BadRequest("missing query parameter".to_owned())),
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "operationName: must be a string or null".to_owned(),
            ));
        }
    };
    Ok(Params {
        query,
        operation_name,
        variables: object_param("variables", map.remove("variables").unwrap_or(Value::Null))?,
        extensions: object_param(
            "extensions",
            map.remove("extensions").unwrap_or(Value::Null),
        )?,
    })
}

/// Whether the operation the request selects is a mutation (unparseable documents are left to execution).
fn is_mutation(params: &Params) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&params.query) else {
        return false;
    };
    let ty = match (&document.operations, &params.operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    };
    ty == Some(OperationType::Mutation)
}

async fn execute(
    state: &AppState,
    caller: Result<Principal, ApiError>,
    media: Media,
    params: Params,
) -> Response {
    let principal = match caller {
        Ok(principal) => principal,
        Err(err) => return request_error(media, err),
    };
    if let Err(err) = authz::authorize_graphql(&principal).await {
        return request_error(media, err);
    }
    let mut request = async_graphql::Request::new(params.query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        request = request.variables(async_graphql::Variables::from_json(Value::Object(
            variables,
        )));
    }
    if let Some(extensions) = params.extensions {
        for (key, value) in extensions {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(key, value);
            }
        }
    }
    request.data = super::context::data(state, principal);
    let meter = super::cost::Meter::default();
    request.data.insert(meter.clone());
    let response = state.schema.execute(request).await;
    let mut rendered = render(media, response);
    if let Some(charge) = meter.get() {
        charge.write_headers(rendered.headers_mut());
    }
    rendered
}

/// Renders an execution result; a result without data is a request error (parse, validation, coercion).
fn render(media: Media, mut response: async_graphql::Response) -> Response {
    // Headers a resolver set (the cookie that binds an integration's authorization to the browser).
    let resolver_headers = std::mem::take(&mut response.http_headers);
    let request_failed = response.data == async_graphql::Value::Null && !response.errors.is_empty();
    let mut body = Map::new();
    if !request_failed {
        body.insert(
            "data".to_owned(),
            response.data.into_json().unwrap_or(Value::Null),
        );
    }
    if !response.errors.is_empty() {
        let errors = response
            .errors
            .iter()
            .map(|error| {
                let mut value = serde_json::to_value(error)
                    .unwrap_or_else(|_| json!({"message": error.message}));
                ensure_code(&mut value);
                value
            })
            .collect();
        body.insert("errors".to_owned(), Value::Array(errors));
    }
    if !response.extensions.is_empty()
        && let Ok(extensions) = serde_json::to_value(&response.extensions)
    {
        body.insert("extensions".to_owned(), extensions);
    }
    // Over the cost budget, the request was refused before it ran: 429 with Retry-After, as REST answers.
    let retry_after = response
        .errors
        .first()
        .filter(|_| request_failed)
        .and_then(|error| error.extensions.as_ref())
        .and_then(|extensions| extensions.get("retryAfter"))
        .and_then(|value| match value {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        });
    let status = if retry_after.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else if request_failed && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = respond(media, status, Value::Object(body));
    for (name, value) in &resolver_headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
    }
    response
}

/// Errors raised by the GraphQL engine itself (syntax, validation, coercion, limits) carry no code: they are bad input.
fn ensure_code(error: &mut Value) {
    let Some(obj) = error.as_object_mut() else {
        return;
    };
    let extensions = obj
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(ext) = extensions.as_object_mut() {
        ext.entry("code")
            .or_insert_with(|| Value::String("BAD_USER_INPUT".to_owned()));
    }
}
