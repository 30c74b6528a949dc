//! The policy version: a short hash of the interpolated document.
//!
//! The canonical form is JSON with mapping keys sorted, written here rather
//! than through `serde_json::Map`, whose key order depends on a cargo feature
//! that any crate in the build can turn on.

use sha2::{Digest, Sha256};
use yaml_serde::Value;

/// First 12 hex chars of SHA-256 over the canonical JSON of `doc`.
pub(crate) fn policy_version(doc: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(doc, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Appends `value` as canonical JSON.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let json = if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else {
                // Non-finite floats become null, as serde_json writes them.
                n.as_f64()
                    .map_or(serde_json::Value::Null, serde_json::Value::from)
            };
            out.push_str(&json.to_string());
        }
        Value::String(s) => push_string(s, out),
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            let mut entries: Vec<(String, &Value)> = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => {
                            let mut text = String::new();
                            write_canonical(other, &mut text);
                            text
                        }
                    };
                    (key, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Tagged(tagged) => {
            out.push('{');
            push_string(&tagged.tag.to_string(), out);
            out.push(':');
            write_canonical(&tagged.value, out);
            out.push('}');
        }
    }
}

fn push_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(s).to_string());
}
