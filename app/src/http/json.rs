//! JSON bodies as the document declares them: `application/json` (no parameters) both ways, and
//! a refused request body explained in plain words that name the field as the document does.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, RwLock};

use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use poem_openapi::{ApiResponse, impl_apirequest_for_payload};
use serde_json::Value;

use crate::http::error::Problem;
use crate::http::problems::BadBody;

/// The media type of every JSON body but problems.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// A JSON request or response body.
#[derive(Debug, Clone, Eq, PartialEq, Default)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Type> Payload for Json<T> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        // Exactly the declared media type (parameters such as `charset` aside).
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(JSON_CONTENT_TYPE)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for Json<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|e| {
                invalid_body(format!("it is not JSON (line {}, column {})", e.line(), e.column()))
            })?
        };
        // The parser would read `12` or `false` as a string: a value must have its field's type.
        let schema = schema_of::<T>();
        if let Some(why) = schema.and_then(|s| wrong_type(&s.0, &s.1, &value)) {
            return Err(invalid_body(why));
        }
        match T::parse_from_json(Some(value.clone())) {
            Ok(parsed) => Ok(Self(parsed)),
            Err(error) => Err(invalid_body(why_refused::<T>(&value, &error.into_message()))),
        }
    }
}

impl_apirequest_for_payload!(Json<T>, T: ParseFromJSON);

impl<T: ToJSON> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let body = self.0.to_json().map(|v| v.to_string()).unwrap_or_else(|| "null".to_owned());
        Response::builder().content_type(JSON_CONTENT_TYPE).body(body)
    }
}

impl<T: ToJSON> ApiResponse for Json<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: JSON_CONTENT_TYPE,
                    schema: T::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

fn invalid_body(why: String) -> poem::Error {
    poem::Error::from(Problem::from(BadBody::Invalid(format!("the body is not valid: {why}"))))
}

/// An object schema and its fields' schemas, references resolved.
type Resolved = (MetaSchema, Vec<(&'static str, MetaSchema)>);

/// `T`'s schema, resolved once per type.
fn schema_of<T: Type>() -> Option<Arc<Resolved>> {
    static SCHEMAS: RwLock<BTreeMap<&'static str, Arc<Resolved>>> = RwLock::new(BTreeMap::new());
    let key = std::any::type_name::<T>();
    if let Some(known) = SCHEMAS.read().ok()?.get(key) {
        return Some(known.clone());
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let resolve = |schema: &MetaSchemaRef| match schema {
        MetaSchemaRef::Reference(name) => registry.schemas.get(name).cloned(),
        MetaSchemaRef::Inline(schema) => Some((**schema).clone()),
    };
    let schema = resolve(&T::schema_ref())?;
    let fields = schema
        .properties
        .iter()
        .filter_map(|(name, field)| Some((*name, resolve(field)?)))
        .collect();
    let resolved = Arc::new((schema, fields));
    SCHEMAS.write().ok()?.insert(key, resolved.clone());
    Some(resolved)
}

/// The first field whose value is not of its declared type (`null` included: no field is
/// nullable, an optional one is left out).
fn wrong_type(schema: &MetaSchema, fields: &[(&str, MetaSchema)], value: &Value) -> Option<String> {
    if schema.ty != "object" {
        return None;
    }
    let Value::Object(values) = value else {
        return Some("it must be a JSON object".to_owned());
    };
    fields.iter().find_map(|(name, field)| {
        let value = values.get(*name)?;
        if value.is_null() && !field.nullable {
            if schema.required.contains(name) {
                return Some(format!("`{name}` is required"));
            }
            let rule = type_rule(field, &Value::Null)?;
            return Some(format!("`{name}` must be {rule}, or left out"));
        }
        let rule = type_rule(field, value)?;
        Some(format!("`{name}` must be {rule}"))
    })
}

/// Why `value` is not a `T`, in the document's words: the first rule of `T`'s schema it
/// breaks; the parser's own message (without its type names) only when none is found.
fn why_refused<T: Type>(value: &Value, parser_says: &str) -> String {
    schema_of::<T>()
        .and_then(|resolved| first_broken_rule(&resolved.0, &resolved.1, value))
        .unwrap_or_else(|| plain(parser_says))
}

fn first_broken_rule(
    schema: &MetaSchema,
    fields: &[(&str, MetaSchema)],
    value: &Value,
) -> Option<String> {
    if schema.ty != "object" {
        return None;
    }
    let Value::Object(values) = value else {
        return Some("it must be a JSON object".to_owned());
    };
    if let Some(unknown) = values.keys().find(|k| !schema.properties.iter().any(|(n, _)| n == k)) {
        return Some(format!("unknown field `{unknown}`"));
    }
    if let Some(missing) =
        schema.required.iter().find(|name| values.get(**name).is_none_or(Value::is_null))
    {
        return Some(format!("`{missing}` is required"));
    }
    fields.iter().find_map(|(name, field)| {
        let value = values.get(*name).filter(|v| !v.is_null())?;
        broken_field_rule(field, value).map(|rule| format!("`{name}` must be {rule}"))
    })
}

/// The type a value of this schema must have, when `value` does not have it.
fn type_rule(schema: &MetaSchema, value: &Value) -> Option<String> {
    let type_ok = match schema.ty {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if type_ok {
        return None;
    }
    let article = if schema.ty.starts_with(['a', 'i', 'o']) { "an" } else { "a" };
    Some(format!("{article} {}", schema.ty))
}

/// The rule of a field's schema that `value` breaks, as "must be …" would end.
fn broken_field_rule(schema: &MetaSchema, value: &Value) -> Option<String> {
    if let Some(rule) = type_rule(schema, value) {
        return Some(rule);
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count();
        if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
            let allowed: Vec<String> = schema.enum_items.iter().map(|v| v.to_string()).collect();
            return Some(format!("one of {}", allowed.join(", ")));
        }
        if let Some(min) = schema.min_length.filter(|min| length < *min) {
            return Some(format!("at least {min} characters long"));
        }
        if let Some(max) = schema.max_length.filter(|max| length > *max) {
            return Some(format!("at most {max} characters long"));
        }
        if schema.pattern.is_some() {
            return Some("well formed (see the pattern the document gives)".to_owned());
        }
    }
    None
}

/// A parser's message without the parser's type names.
fn plain(message: &str) -> String {
    let message = message.split(" (occurred while parsing").next().unwrap_or(message);
    let message = match message.strip_prefix("failed to parse \"") {
        Some(rest) => rest.split_once("\": ").map_or(rest, |(_, why)| why),
        None => message,
    };
    message.trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Object)]
    #[oai(deny_unknown_fields)]
    struct Sample {
        #[oai(validator(min_length = 3))]
        name: String,
        admin: Option<bool>,
    }

    fn why(value: Value) -> String {
        let parsed = Sample::parse_from_json(Some(value.clone()));
        let message = parsed.err().map(|e| e.into_message()).expect("refused");
        why_refused::<Sample>(&value, &message)
    }

    #[test]
    fn refusals_name_the_field_in_plain_words() {
        assert_eq!(why(serde_json::json!({})), "`name` is required");
        assert_eq!(why(serde_json::json!({"name": null})), "`name` is required");
        assert_eq!(why(serde_json::json!({"name": "abc", "x": 1})), "unknown field `x`");
        assert_eq!(why(serde_json::json!({"name": 5})), "`name` must be a string");
        assert_eq!(
            why(serde_json::json!({"name": "ab"})),
            "`name` must be at least 3 characters long"
        );
        assert_eq!(
            why(serde_json::json!({"name": "abc", "admin": "yes"})),
            "`admin` must be a boolean"
        );
        assert_eq!(why(serde_json::json!([1])), "it must be a JSON object");
    }

    #[test]
    fn a_value_of_another_type_is_refused_even_where_the_parser_would_convert_it() {
        let schema = schema_of::<Sample>().expect("an object schema");
        let check = |value| wrong_type(&schema.0, &schema.1, &value);
        assert_eq!(check(serde_json::json!({"name": 12})).unwrap(), "`name` must be a string");
        assert_eq!(check(serde_json::json!({"name": false})).unwrap(), "`name` must be a string");
        assert_eq!(
            check(serde_json::json!({"name": "x", "admin": 1})).unwrap(),
            "`admin` must be a boolean"
        );
        assert_eq!(
            check(serde_json::json!({"name": "abc", "admin": null})).unwrap(),
            "`admin` must be a boolean, or left out"
        );
        assert_eq!(check(serde_json::json!({"name": null})).unwrap(), "`name` is required");
        assert_eq!(check(serde_json::json!({"name": "abc"})), None);
    }
}
