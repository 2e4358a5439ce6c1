//! The API describing itself: `GET /api/v1/openapi.json` (the OpenAPI 3.1
//! document generated from the handlers' annotations, [`super::ApiDoc`]),
//! `GET /api/v1/docs` (a reference page rendered on the server from that
//! same document, no JavaScript, nothing from a CDN), and `GET /health`.

use askama::Template;
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::header,
    response::{Html, IntoResponse, Response},
};
use serde_json::Value;

use crate::{
    State as AppState,
    api::{
        problem::{ApiError, Code},
        schema::Health,
    },
};

/// The storefront is up (no session is minted for it).
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    operation_id = "health",
    responses((status = 200, description = "Always `{\"status\":\"healthy\",\"service\":\"frontend\"}`.", body = Health))
)]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        service: "frontend",
    })
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object))
)]
pub(crate) async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.api_document.json.clone(),
    )
        .into_response()
}

/// The API reference, as HTML.
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "meta",
    operation_id = "docs",
    responses((status = 200, description = "Every operation, parameter, response, schema and problem code.", content_type = "text/html", body = String))
)]
pub(crate) async fn page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    Ok(Html(state.api_document.page.clone()))
}

/// The document for this shop (its `servers` is `BASE_URL`), made once at
/// start: as JSON and as the reference page.
#[derive(Debug)]
pub(crate) struct Document {
    json: Bytes,
    page: String,
}

impl Document {
    pub(crate) fn new(base: &str) -> Result<Self, String> {
        let document = super::document(base);
        let value = serde_json::to_value(&document).map_err(|e| e.to_string())?;
        let json = Bytes::from(serde_json::to_vec(&value).map_err(|e| e.to_string())?);
        let page = reference(base, &value)
            .render()
            .map_err(|e| e.to_string())?;
        Ok(Self { json, page })
    }
}

#[derive(Debug, Template)]
#[template(path = "api_docs.html")]
struct Reference {
    base: String,
    title: String,
    version: String,
    openapi: String,
    description: String,
    operations: Vec<Operation>,
    schemas: Vec<SchemaDoc>,
    problems: Vec<ProblemDoc>,
}

#[derive(Debug)]
struct Operation {
    anchor: String,
    method: String,
    path: String,
    operation_id: String,
    summary: String,
    description: String,
    params: Vec<Field>,
    body: Option<String>,
    responses: Vec<ResponseDoc>,
}

#[derive(Debug)]
struct Field {
    name: String,
    location: String,
    schema: String,
    required: bool,
    description: String,
}

#[derive(Debug)]
struct ResponseDoc {
    status: String,
    content: String,
    description: String,
}

#[derive(Debug)]
struct SchemaDoc {
    name: String,
    description: String,
    fields: Vec<Field>,
}

#[derive(Debug)]
struct ProblemDoc {
    code: &'static str,
    anchor: String,
    status: u16,
    title: &'static str,
    explanation: &'static str,
}

/// The methods an operation may have, in the order shown.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// A schema in a word: `Money`, `array of Product`, `integer`, `string | null`.
fn describe(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[combinator].as_array() {
            return options.iter().map(describe).collect::<Vec<_>>().join(" | ");
        }
    }
    match &schema["type"] {
        Value::String(kind) if kind == "array" => {
            format!("array of {}", describe(&schema["items"]))
        }
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .map(|kind| {
                if kind == "array" {
                    format!("array of {}", describe(&schema["items"]))
                } else {
                    kind.as_str().unwrap_or_default().to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_owned(),
    }
}

/// Media type and schema of a `content` map: `application/json: Cart`.
fn content(value: &Value) -> String {
    value["content"]
        .as_object()
        .map_or_else(String::new, |content| {
            content
                .iter()
                .map(|(media, body)| format!("{media}: {}", describe(&body["schema"])))
                .collect::<Vec<_>>()
                .join(", ")
        })
}

fn reference(base: &str, document: &Value) -> Reference {
    let mut operations = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let params = op["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .map(|p| Field {
                                name: text(p, "name"),
                                location: text(p, "in"),
                                schema: describe(&p["schema"]),
                                required: p["required"].as_bool().unwrap_or(false),
                                description: text(p, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op["responses"]
                    .as_object()
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(status, r)| ResponseDoc {
                                status: status.clone(),
                                content: content(r),
                                description: text(r, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let operation_id = text(op, "operationId");
                operations.push(Operation {
                    anchor: format!("op-{operation_id}"),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    operation_id,
                    summary: text(op, "summary"),
                    description: text(op, "description"),
                    params,
                    body: (!op["requestBody"].is_null()).then(|| content(&op["requestBody"])),
                    responses,
                });
            }
        }
    }
    let schemas = document["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| {
                    let required: Vec<&str> = schema["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let fields = schema["properties"]
                        .as_object()
                        .map(|properties| {
                            properties
                                .iter()
                                .map(|(field, property)| Field {
                                    name: field.clone(),
                                    location: String::new(),
                                    schema: describe(property),
                                    required: required.contains(&field.as_str()),
                                    description: text(property, "description"),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    SchemaDoc {
                        name: name.clone(),
                        description: text(schema, "description"),
                        fields,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Reference {
        base: base.to_owned(),
        title: text(&document["info"], "title"),
        version: text(&document["info"], "version"),
        openapi: text(document, "openapi"),
        description: text(&document["info"], "description"),
        operations,
        schemas,
        problems: Code::ALL
            .iter()
            .map(|code| ProblemDoc {
                code: code.as_str(),
                anchor: code.anchor(),
                status: code.status().as_u16(),
                title: code.title(),
                explanation: code.explanation(),
            })
            .collect(),
    }
}
