//! `${VAR}` interpolation over the parsed YAML tree.
//!
//! It runs after parsing, on string scalars only, so a value can never change
//! the document's structure (no injected keys or list items).

use yaml_serde::{Number, Value};

use crate::error::ConfigError;
use crate::vars::VarSource;

#[cfg(test)]
mod tests;

/// Why one string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    /// `${VAR}` without a default, and `VAR` is not set.
    #[error("environment variable {0} is not set")]
    Unset(String),
    /// `${` with no closing `}`.
    #[error("unterminated \"${{\" (missing \"}}\")")]
    Unterminated,
    /// `${}` or a name with characters outside `[A-Za-z0-9_]`.
    #[error(
        "invalid variable name {0:?} in \"${{...}}\" (expected [A-Za-z_][A-Za-z0-9_]*, optionally followed by \":-default\")"
    )]
    BadName(String),
}

/// Expands `${VAR}`, `${VAR:-default}` and `$$` in one string.
///
/// A `$` followed by anything else is kept as is.
pub fn interpolate_str(input: &str, vars: &dyn VarSource) -> Result<String, InterpError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail.find('}').ok_or(InterpError::Unterminated)?;
            out.push_str(&expand(&body_and_tail[..end], vars)?);
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands the inside of one `${...}`.
fn expand(body: &str, vars: &dyn VarSource) -> Result<String, InterpError> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if !is_var_name(name) {
        return Err(InterpError::BadName(name.to_owned()));
    }
    match (vars.var(name), default) {
        (Some(value), None) => Ok(value),
        (Some(value), Some(_)) if !value.is_empty() => Ok(value),
        (_, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(InterpError::Unset(name.to_owned())),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `s` is exactly one `${...}` expression and nothing else.
fn is_single_expression(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s.find('}') == Some(s.len() - 1)
}

/// Turns the result of a lone `${...}` into a bool or number when it looks like one.
fn retype(value: String) -> Value {
    match value.as_str() {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if looks_like_integer(&value) {
        if let Ok(n) = value.parse::<u64>() {
            return Value::Number(Number::from(n));
        }
        if let Ok(n) = value.parse::<i64>() {
            return Value::Number(Number::from(n));
        }
    }
    if looks_like_float(&value)
        && let Ok(n) = value.parse::<f64>()
        && n.is_finite()
    {
        return Value::Number(Number::from(n));
    }
    Value::String(value)
}

/// `-?[0-9]+`
fn looks_like_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `-?[0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?`; rejects `inf`, `NaN`, `.5`, `1.`.
fn looks_like_float(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac),
        None => all_digits(mantissa),
    };
    let exponent_ok = match exponent {
        Some(e) => all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)),
        None => true,
    };
    mantissa_ok && exponent_ok
}

/// Interpolates every string scalar in `value`, collecting one error per bad scalar.
pub(crate) fn interpolate_tree(value: &mut Value, vars: &dyn VarSource) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    walk(value, &mut String::new(), vars, &mut errors);
    errors
}

fn walk(value: &mut Value, path: &mut String, vars: &dyn VarSource, errors: &mut Vec<ConfigError>) {
    match value {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match interpolate_str(s, vars) {
                Ok(out) if is_single_expression(s) => *value = retype(out),
                Ok(out) => *s = out,
                Err(e) => errors.push(ConfigError::new(path.clone(), e.to_string())),
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, vars, errors);
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key_text(key));
                walk(item, path, vars, errors);
                path.truncate(len);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, vars, errors),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A mapping key as it appears in a path.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => "?".to_owned(),
    }
}
