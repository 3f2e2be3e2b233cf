//! `/api/docs`: the OpenAPI document as a page to read — every operation with its parameters,
//! body and answers, and every schema — rendered on the server, without script or CDN.

use std::sync::LazyLock;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

struct ParameterView {
    name: String,
    location: String,
    required: bool,
    kind: String,
    description: String,
}

struct AnswerView {
    status: String,
    description: String,
    kind: String,
}

struct OperationView {
    id: String,
    method: String,
    path: String,
    tag: String,
    summary: String,
    description: String,
    credentials: String,
    parameters: Vec<ParameterView>,
    body: Option<String>,
    answers: Vec<AnswerView>,
}

struct FieldView {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

struct SchemaView {
    name: String,
    description: String,
    fields: Vec<FieldView>,
    /// For an enumeration: its values.
    values: Vec<String>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    title: String,
    version: String,
    description: String,
    operations: Vec<OperationView>,
    schemas: Vec<SchemaView>,
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A schema as a reader names it: `CaseView`, `string`, `[HistoryEntry]`, `integer?`.
fn kind(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(choices) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        let named: Vec<String> =
            choices.iter().filter(|c| c.get("type") != Some(&Value::from("null"))).map(kind).collect();
        let optional = named.len() < choices.len();
        return format!("{}{}", named.join(" | "), if optional { "?" } else { "" });
    }
    let (base, optional) = match schema.get("type") {
        Some(Value::String(name)) => (name.clone(), false),
        Some(Value::Array(names)) => {
            let named: Vec<&str> = names.iter().filter_map(Value::as_str).filter(|n| *n != "null").collect();
            (named.join(" | "), named.len() < names.len())
        }
        _ => ("any".to_owned(), false),
    };
    let base = match (base.as_str(), schema.get("items")) {
        ("array", Some(items)) => format!("[{}]", kind(items)),
        _ => base,
    };
    format!("{base}{}", if optional { "?" } else { "" })
}

fn body_kind(body: &Value) -> Option<String> {
    let content = body.get("content")?.as_object()?;
    let described: Vec<String> = content
        .iter()
        .map(|(media, value)| format!("{media}: {}", kind(value.get("schema").unwrap_or(&Value::Null))))
        .collect();
    Some(described.join(", "))
}

fn credentials(operation: &Value) -> String {
    let Some(requirements) = operation.get("security").and_then(Value::as_array) else {
        return "none".into();
    };
    let names: Vec<String> = requirements
        .iter()
        .map(|r| r.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_else(|| "none".into()))
        .collect();
    names.join(" or ")
}

fn page(document: &Value) -> ApiDocsPage {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let parameters = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ParameterView {
                    name: text(p, "name"),
                    location: text(p, "in"),
                    required: p["required"].as_bool().unwrap_or(false),
                    kind: kind(&p["schema"]),
                    description: text(p, "description"),
                })
                .collect();
            let answers = operation["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, answer)| AnswerView {
                    status: status.clone(),
                    description: text(answer, "description"),
                    kind: body_kind(answer).unwrap_or_default(),
                })
                .collect();
            operations.push(OperationView {
                id: text(operation, "operationId"),
                method: method.to_uppercase(),
                path: path.clone(),
                tag: operation["tags"][0].as_str().unwrap_or_default().to_owned(),
                summary: text(operation, "summary"),
                description: text(operation, "description"),
                credentials: credentials(operation),
                parameters,
                body: operation.get("requestBody").and_then(body_kind),
                answers,
            });
        }
    }
    let schemas = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            SchemaView {
                name: name.clone(),
                description: text(schema, "description"),
                fields: schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(field, value)| FieldView {
                        name: field.clone(),
                        kind: kind(value),
                        required: required.contains(&field.as_str()),
                        description: text(value, "description"),
                    })
                    .collect(),
                values: schema["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect();
    ApiDocsPage {
        title: text(&document["info"], "title"),
        version: text(&document["info"], "version"),
        description: text(&document["info"], "description"),
        operations,
        schemas,
    }
}

/// Rendered once: the document does not change while the server runs.
static RENDERED: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let document = serde_json::to_value(crate::openapi()).map_err(|e| e.to_string())?;
    page(&document).render().map_err(|e| e.to_string())
});

/// The API's reference page.
pub async fn show() -> Response {
    match RENDERED.as_ref() {
        Ok(html) => Html(html.clone()).into_response(),
        Err(error) => {
            tracing::error!(%error, "the API reference failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败 · the page failed to render").into_response()
        }
    }
}
