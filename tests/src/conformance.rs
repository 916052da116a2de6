//! Every answer the in-process app gives, in every test, is checked against the OpenAPI document:
//! an operation's status must be declared for it, with the declared media type, and a problem's
//! `code` must be one the operation declares under that status. A test that meets an undeclared
//! answer fails, whatever it was testing.

use std::sync::{Arc, OnceLock};

use poem::http::Method;
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response};
use serde_json::Value;

/// The document, read once.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(&codex_cloud_backend::http::document(12))
            .expect("the document is JSON")
    })
}

/// `endpoint`, with every answer checked against the document.
pub fn checked<E>(endpoint: E) -> impl Endpoint<Output = Response>
where
    E: Endpoint<Output = Response> + 'static,
{
    let endpoint = Arc::new(endpoint);
    poem::endpoint::make(move |req: Request| {
        let endpoint = endpoint.clone();
        async move {
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let mut response = endpoint.get_response(req).await;
            let body = response.take_body().into_vec().await.unwrap_or_default();
            check(&method, &path, &response, &body);
            response.set_body(Body::from(body));
            Ok::<_, poem::Error>(response.into_response())
        }
    })
    .map_to_response()
}

/// The operation answering `method` on `path`, and its template.
fn operation(method: &Method, path: &str) -> Option<(&'static str, &'static Value)> {
    let paths = document()["paths"].as_object()?;
    let segments: Vec<&str> = path.split('/').collect();
    let method = method.as_str().to_ascii_lowercase();
    paths
        .iter()
        .filter(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
        })
        // A literal segment wins over a parameter (`/auth/sessions` over `/auth/{x}`).
        .min_by_key(|(template, _)| template.matches('{').count())
        .and_then(|(template, operations)| Some((template.as_str(), operations.get(&method)?)))
}

/// Checks what generated clients rely on: each value has its schema's type, objects carry their
/// required fields, never `null` where the schema does not say nullable, and no field the schema
/// does not name; enumerated values are listed; arrays hold conforming items.
fn conforms(value: &Value, schema: &Value, at: &str) {
    let schema = resolve(schema);
    let typed = match schema["type"].as_str() {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    assert!(typed, "{at}: {value} is not of type {}", schema["type"]);
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(allowed.contains(value), "{at}: {value} is not one of {allowed:?}");
    }
    match value {
        Value::Array(items) if schema["type"] == "array" => {
            items.iter().for_each(|item| conforms(item, &schema["items"], at));
        }
        Value::Object(fields) if schema["type"] == "object" => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                assert!(fields.contains_key(name), "{at}: `{name}` is required: {value}");
            }
            for (name, field) in fields {
                let Some(declared) = properties.and_then(|p| p.get(name)) else {
                    assert!(properties.is_none(), "{at}: `{name}` is not in the schema: {value}");
                    if schema["additionalProperties"].is_object() {
                        conforms(field, &schema["additionalProperties"], at);
                    }
                    continue;
                };
                let declared = resolve(declared);
                if field.is_null() {
                    assert!(declared["nullable"] == true, "{at}: `{name}` is null: {value}");
                    continue;
                }
                conforms(field, declared, at);
            }
        }
        _ => {}
    }
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &document()["components"]["schemas"][name],
        None => schema,
    }
}

fn check(method: &Method, path: &str, response: &Response, body: &[u8]) {
    let Some((template, operation)) = operation(method, path) else {
        // Not an operation (an unknown route, another method, `/docs`): nothing is declared.
        return;
    };
    let status = response.status().as_u16().to_string();
    let id = operation["operationId"].as_str().unwrap_or(template);
    let Some(declared) = operation["responses"].get(&status) else {
        panic!(
            "{method} {path} ({id}) answered {status}, which the document does not declare: {}",
            String::from_utf8_lossy(body)
        );
    };
    let Some(content) = declared["content"].as_object() else {
        return;
    };
    let content_type = response.content_type().unwrap_or_default();
    let schema = content.get(content_type).unwrap_or_else(|| {
        panic!(
            "{method} {path} ({id}) {status} is `{content_type}`; the document says {:?}",
            content.keys().collect::<Vec<_>>()
        )
    });
    let at = format!("{method} {path} ({id}) {status}");
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        panic!("{at}: the `{content_type}` body is not JSON: {}", String::from_utf8_lossy(body));
    };
    conforms(&value, &schema["schema"], &at);
    if content_type != "application/problem+json" {
        return;
    }
    let problem = value;
    let code = problem["code"].as_str().unwrap_or_default();
    let codes = &resolve(&schema["schema"])["properties"]["code"]["enum"];
    let listed = codes.as_array().is_some_and(|codes| codes.iter().any(|c| c == code));
    let described = declared["description"].as_str().unwrap_or_default();
    assert!(
        listed && described.contains(&format!("`{code}`")),
        "{method} {path} ({id}) answered {status} `{code}`, which the document does not declare \
         there: {problem}"
    );
}
