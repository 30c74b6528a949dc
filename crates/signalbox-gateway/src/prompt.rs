//! Owns prompt references: which registered prompt, version and variables a
//! request names — the body field `signalbox_prompt: {id, version,
//! variables}`, or the headers `x-signalbox-prompt: id[@version]` and
//! `x-signalbox-prompt-variables: {json}` — and rendering it as the
//! request's first (system) message. The default template is rendered for
//! the policy (its tokens count against context windows); each route then
//! gets the variant written for its provider family, if the version has one.
//!
//! A request without a reference pays one map lookup and one header lookup.

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use signalbox_config::{Config, PromptVersion};
use signalbox_core::headers::{PROMPT, PROMPT_VARIABLES};
use signalbox_core::{ChatRequest, RequestError};

/// The body field that names a prompt (removed before anything is sent).
pub const BODY_FIELD: &str = "signalbox_prompt";

/// A resolved prompt reference with its variables.
#[derive(Debug, Clone)]
pub(crate) struct PromptUse {
    prompt: usize,
    version: usize,
    /// Every variable the version uses, with its value, sorted by name.
    values: Vec<(String, String)>,
    /// `id@version`, for the response header and the record.
    pub label: String,
}

/// Takes the prompt reference out of `req`, if any, checks it against the
/// registry and returns the request with the default template rendered in
/// front of its messages. A reference that names no version gets the
/// version `unpinned` picks for its prompt (a prompt canary's arm), else
/// the prompt's default.
pub(crate) fn take(
    cfg: &Config,
    headers: &HeaderMap,
    req: ChatRequest,
    unpinned: &mut dyn FnMut(usize, &ChatRequest) -> Option<usize>,
) -> Result<(ChatRequest, Option<PromptUse>), RequestError> {
    let in_body = req.body().get(BODY_FIELD).is_some();
    let header = headers.get(PROMPT);
    if !in_body && header.is_none() {
        return Ok((req, None));
    }
    let (reference, source) = if in_body {
        if header.is_some() {
            return Err(invalid(
                PROMPT,
                format!(
                    "name the prompt once: either this header or the body field `{BODY_FIELD}`"
                ),
            ));
        }
        (from_body(req.body().get(BODY_FIELD))?, Source::Body)
    } else {
        (from_headers(headers)?, Source::Header)
    };
    let used = resolve(cfg, reference, source, &mut |p| unpinned(p, &req))?;
    let Some(version) = used.version_of(cfg) else {
        return Err(invalid(
            source.field(),
            "prompt disappeared from the registry",
        ));
    };
    let system = render(&version.template, &used.values)?;
    let (req, ()) = req.rewritten(|body| {
        if let Some(obj) = body.as_object_mut() {
            obj.remove(BODY_FIELD);
        }
        if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
            messages.insert(0, system_message(system));
        }
        Ok::<(), RequestError>(())
    })?;
    Ok((req, Some(used)))
}

impl PromptUse {
    fn version_of<'c>(&self, cfg: &'c Config) -> Option<&'c PromptVersion> {
        cfg.prompts.get(self.prompt)?.versions.get(self.version)
    }

    /// The request for a route of provider `family`: `None` when the
    /// version has no variant for it (send `req` as it is), else `req` with
    /// its first message replaced by the variant.
    pub(crate) fn for_family(
        &self,
        cfg: &Config,
        family: &str,
        req: &ChatRequest,
    ) -> Option<ChatRequest> {
        let (template, is_variant) = self.version_of(cfg)?.for_family(family);
        if !is_variant {
            return None;
        }
        let text = template.render(|v| lookup(&self.values, v))?;
        req.rewritten(
            |body| match body.get_mut("messages").and_then(Value::as_array_mut) {
                Some(messages) if !messages.is_empty() => {
                    messages[0] = system_message(text);
                    Ok(())
                }
                _ => Err(()),
            },
        )
        .ok()
        .map(|(r, ())| r)
    }

    /// The variant used for `family`: the family's name, or `default`.
    pub(crate) fn variant_name(&self, cfg: &Config, family: &'static str) -> &'static str {
        match self.version_of(cfg).map(|v| v.for_family(family).1) {
            Some(true) => family,
            _ => "default",
        }
    }
}

/// What the request named: id, optional version, variables.
struct Reference {
    id: String,
    version: Option<String>,
    variables: Map<String, Value>,
}

fn from_body(value: Option<&Value>) -> Result<Reference, RequestError> {
    let Some(Value::Object(obj)) = value else {
        return Err(invalid(
            BODY_FIELD,
            "must be an object {\"id\": …, \"version\": …, \"variables\": {…}}",
        ));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "id" | "version" | "variables"))
    {
        return Err(invalid(
            format!("{BODY_FIELD}.{key}"),
            "unknown field (expected id, version, variables)",
        ));
    }
    let text = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{BODY_FIELD}.{key}"), "must be a string")),
    };
    let id = text("id")?.ok_or_else(|| invalid(format!("{BODY_FIELD}.id"), "is required"))?;
    let version = text("version")?;
    let variables = match obj.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(invalid(
                format!("{BODY_FIELD}.variables"),
                "must be an object of strings",
            ));
        }
    };
    Ok(Reference {
        id,
        version,
        variables,
    })
}

fn from_headers(headers: &HeaderMap) -> Result<Reference, RequestError> {
    let value = headers
        .get(PROMPT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let (id, version) = match value.split_once('@') {
        Some((id, v)) => (id, Some(v.to_owned())),
        None => (value, None),
    };
    if id.is_empty() {
        return Err(invalid(PROMPT, "must be `id` or `id@version`"));
    }
    let variables = match headers.get(PROMPT_VARIABLES) {
        None => Map::new(),
        Some(v) => match serde_json::from_slice::<Value>(v.as_bytes()) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(invalid(
                    PROMPT_VARIABLES,
                    "must be a JSON object of strings, e.g. {\"product\":\"Acme\"}",
                ));
            }
        },
    };
    Ok(Reference {
        id: id.to_owned(),
        version,
        variables,
    })
}

/// Where a request named its prompt: error messages name that field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The body field `signalbox_prompt`.
    Body,
    /// The header `x-signalbox-prompt`.
    Header,
}

impl Source {
    /// The field that names the prompt.
    fn field(self) -> &'static str {
        match self {
            Self::Body => BODY_FIELD,
            Self::Header => PROMPT,
        }
    }

    /// The field that carries the variables.
    fn variables_field(self) -> String {
        match self {
            Self::Body => format!("{BODY_FIELD}.variables"),
            Self::Header => PROMPT_VARIABLES.to_owned(),
        }
    }
}

fn resolve(
    cfg: &Config,
    r: Reference,
    source: Source,
    unpinned: &mut dyn FnMut(usize) -> Option<usize>,
) -> Result<PromptUse, RequestError> {
    let prompt = find_prompt(cfg, &r.id, source)?;
    let Some(p) = cfg.prompts.get(prompt) else {
        return Err(invalid(
            source.field(),
            "prompt disappeared from the registry",
        ));
    };
    let version = match &r.version {
        None => unpinned(prompt).unwrap_or(p.default_version),
        Some(name) => find_version(p, name, source)?,
    };
    let Some(v) = p.versions.get(version) else {
        return Err(invalid(
            source.field(),
            format!("prompt `{}` has no versions", p.id),
        ));
    };
    let values = bind_variables(p, v, &r.variables, &source.variables_field())?;
    Ok(PromptUse {
        prompt,
        version,
        values,
        label: format!("{}@{}", p.id, v.version),
    })
}

/// The registered prompt named `id`.
fn find_prompt(cfg: &Config, id: &str, source: Source) -> Result<usize, RequestError> {
    cfg.prompts.iter().position(|p| p.id == id).ok_or_else(|| {
        let known: Vec<&str> = cfg.prompts.iter().map(|p| p.id.as_str()).collect();
        invalid(
            source.field(),
            format!(
                "unknown prompt `{id}` (registered: {})",
                list_or_none(&known)
            ),
        )
    })
}

/// The version of `p` named `name`.
fn find_version(
    p: &signalbox_config::PromptConfig,
    name: &str,
    source: Source,
) -> Result<usize, RequestError> {
    p.versions
        .iter()
        .position(|v| v.version == name)
        .ok_or_else(|| {
            let known: Vec<&str> = p.versions.iter().map(|v| v.version.as_str()).collect();
            invalid(
                source.field(),
                format!(
                    "prompt `{}` has no version `{name}` (versions: {})",
                    p.id,
                    known.join(", ")
                ),
            )
        })
}

/// Every variable the version uses, with the caller's value: none missing,
/// none unknown, each a string, number or boolean.
fn bind_variables(
    p: &signalbox_config::PromptConfig,
    v: &PromptVersion,
    given: &Map<String, Value>,
    field: &str,
) -> Result<Vec<(String, String)>, RequestError> {
    if let Some(extra) = given.keys().find(|k| !v.variables.contains(k)) {
        let uses: Vec<&str> = v.variables.iter().map(String::as_str).collect();
        return Err(invalid(
            field,
            format!(
                "prompt `{}@{}` has no variable `{extra}` (it uses: {})",
                p.id,
                v.version,
                list_or_none(&uses)
            ),
        ));
    }
    let mut values = Vec::with_capacity(v.variables.len());
    for name in &v.variables {
        let value = match given.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(n @ (Value::Number(_) | Value::Bool(_))) => n.to_string(),
            Some(_) => {
                return Err(invalid(
                    format!("{field}.{name}"),
                    "must be a string, number or boolean",
                ));
            }
            None => {
                return Err(invalid(
                    field,
                    format!("prompt `{}@{}` needs variable `{name}`", p.id, v.version),
                ));
            }
        };
        values.push((name.clone(), value));
    }
    Ok(values)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

fn render(
    t: &signalbox_config::Template,
    values: &[(String, String)],
) -> Result<String, RequestError> {
    t.render(|v| lookup(values, v))
        .ok_or_else(|| invalid(BODY_FIELD, "a prompt variable has no value"))
}

fn lookup<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values
        .binary_search_by(|(n, _)| n.as_str().cmp(name))
        .ok()
        .and_then(|i| values.get(i))
        .map(|(_, v)| v.as_str())
}

fn system_message(text: String) -> Value {
    let mut m = Map::new();
    m.insert("role".into(), Value::String("system".into()));
    m.insert("content".into(), Value::String(text));
    Value::Object(m)
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}
