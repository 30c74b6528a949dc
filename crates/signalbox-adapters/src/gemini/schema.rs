//! Owns fitting JSON Schemas into Gemini's `Schema` (an OpenAPI 3 subset).

use serde_json::{Map, Value};

use crate::error::TranslateError;

/// Keywords Gemini's `Schema` object accepts.
const KEPT: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// Returns the schema Gemini accepts plus the keywords removed (for a
/// note). `$ref` is refused: resolving references is not attempted.
pub(super) fn fit(schema: &Value, field: &str) -> Result<(Value, Vec<String>), TranslateError> {
    let mut removed = Vec::new();
    let out = walk(schema, field, &mut removed)?;
    removed.sort();
    removed.dedup();
    Ok((out, removed))
}

fn walk(v: &Value, field: &str, removed: &mut Vec<String>) -> Result<Value, TranslateError> {
    let Value::Object(obj) = v else {
        return Ok(v.clone());
    };
    if obj.contains_key("$ref") {
        return Err(TranslateError::unsupported(
            "gemini",
            field,
            "schemas with $ref cannot be expressed as a Gemini Schema",
        ));
    }
    let mut out = Map::new();
    for (k, val) in obj {
        match k.as_str() {
            "properties" => {
                let Value::Object(props) = val else { continue };
                let mut p = Map::new();
                for (name, s) in props {
                    p.insert(name.clone(), walk(s, field, removed)?);
                }
                out.insert(k.clone(), Value::Object(p));
            }
            "items" => {
                out.insert(k.clone(), walk(val, field, removed)?);
            }
            "anyOf" => {
                let Value::Array(list) = val else { continue };
                let list = list
                    .iter()
                    .map(|s| walk(s, field, removed))
                    .collect::<Result<_, _>>()?;
                out.insert(k.clone(), Value::Array(list));
            }
            // `["string", "null"]` becomes `"string"` plus `nullable`.
            "type" if val.is_array() => {
                let types: Vec<&str> = val
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let real: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
                if let [one] = real.as_slice() {
                    out.insert("type".into(), Value::from(*one));
                    if types.contains(&"null") {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                } else {
                    removed.push("type (union)".into());
                }
            }
            _ if KEPT.contains(&k.as_str()) => {
                out.insert(k.clone(), val.clone());
            }
            _ => removed.push(k.clone()),
        }
    }
    Ok(Value::Object(out))
}
