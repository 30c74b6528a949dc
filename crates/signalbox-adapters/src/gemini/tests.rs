//! Unit tests of fitting JSON Schemas into Gemini's Schema subset.

use serde_json::json;

use super::schema::fit;

#[test]
fn keeps_the_subset_and_reports_the_rest() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "const": "x"}},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "either": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "string"}]}
        },
        "required": ["tags"]
    });
    let (out, removed) = fit(&schema, "p").unwrap();
    assert_eq!(
        out,
        json!({
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string"}},
                "when": {"type": "string", "nullable": true, "format": "date-time"},
                "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
            },
            "required": ["tags"]
        })
    );
    assert_eq!(
        removed,
        [
            "$schema",
            "additionalProperties",
            "const",
            "exclusiveMinimum"
        ]
    );
}

#[test]
fn refuses_references() {
    let nested = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}});
    assert!(fit(&nested, "p").is_err());
}
