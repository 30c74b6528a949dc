//! The `test-policy` cases file: strict parsing (unknown keys are errors,
//! reported with their path) and validation against the policy under test,
//! so a typo in a route, rule or tenant name is a file error, not a failing
//! case.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use signalbox_core::ChatRequest;
use signalbox_policy::PolicySnapshot;

use super::evaluate::{REFUSAL_LABELS, header_map};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    cases: Vec<RawCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    request: Option<Map<String, Value>>,
    expect: Expect,
}

/// What a case expects; at least one key is required.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The first-ranked route.
    pub route: Option<String>,
    /// The exact ranked candidate list.
    pub ranking: Option<Vec<String>>,
    /// A refusal label, or `any`.
    pub refusal: Option<String>,
    /// The matched rule's name, or `none`.
    pub rule: Option<String>,
    /// The intent signal.
    pub intent: Option<String>,
    /// Routes a hard constraint must exclude.
    pub excluded: Option<Vec<String>>,
}

/// One case, ready to evaluate.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    /// The tenant index, when the case names a tenant.
    pub tenant: Option<usize>,
    pub headers: HeaderMap,
    pub request: ChatRequest,
    pub expect: Expect,
}

/// Reads and validates a cases file; errors are `path: message` lines.
pub fn load(path: &Path, snap: &PolicySnapshot) -> Result<Vec<Case>, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    let de = yaml_serde::Deserializer::from_str(&text);
    let file: CasesFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner().to_string();
        // The YAML error may already start with (a prefix of) the path.
        let has_path = inner
            .split_once(": ")
            .is_some_and(|(prefix, _)| !prefix.contains(' ') && at.starts_with(prefix));
        if at == "." || at.is_empty() || has_path {
            vec![inner]
        } else {
            vec![format!("{at}: {inner}")]
        }
    })?;
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut cases = Vec::new();
    if file.cases.is_empty() {
        errors.push("cases: at least one case is required".to_string());
    }
    for (i, raw) in file.cases.into_iter().enumerate() {
        let mut err = |field: &str, msg: String| errors.push(format!("cases[{i}].{field}: {msg}"));
        if raw.name.trim().is_empty() {
            err("name", "must not be empty".into());
        } else if !names.insert(raw.name.clone()) {
            err("name", format!("duplicate case name {:?}", raw.name));
        }
        let tenant = raw.tenant.as_deref().and_then(|id| {
            let found = snap.config().tenants.iter().position(|t| t.id == id);
            if found.is_none() {
                err(
                    "tenant",
                    format!("unknown tenant {id:?} (known: {})", tenants(snap)),
                );
            }
            found
        });
        let headers = headers(&raw.headers, &mut err);
        let request = match ChatRequest::from_object(with_defaults(raw.request)) {
            Ok(r) => Some(r),
            Err(e) => {
                err("request", e.to_string());
                None
            }
        };
        check_expect(snap, &raw.expect, &mut err);
        if let (Some(headers), Some(request)) = (headers, request) {
            cases.push(Case {
                name: raw.name,
                tenant,
                headers,
                request,
                expect: raw.expect,
            });
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// `model` defaults to `chat`, `messages` to one user message "hello".
fn with_defaults(request: Option<Map<String, Value>>) -> Map<String, Value> {
    let mut body = request.unwrap_or_default();
    body.entry("model")
        .or_insert_with(|| Value::String("chat".into()));
    body.entry("messages")
        .or_insert_with(|| serde_json::json!([{ "role": "user", "content": "hello" }]));
    body
}

/// Header values may be written as strings, booleans or numbers.
fn headers(raw: &BTreeMap<String, Value>, err: &mut dyn FnMut(&str, String)) -> Option<HeaderMap> {
    let mut pairs = Vec::new();
    for (name, value) in raw {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                err(
                    &format!("headers.{name}"),
                    "expected a string, boolean or number".into(),
                );
                return None;
            }
        };
        pairs.push((name.clone(), text));
    }
    match header_map(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))) {
        Ok(map) => Some(map),
        Err(e) => {
            err("headers", format!("{e:#}"));
            None
        }
    }
}

fn check_expect(snap: &PolicySnapshot, e: &Expect, err: &mut dyn FnMut(&str, String)) {
    let Expect {
        route,
        ranking,
        refusal,
        rule,
        intent,
        excluded,
    } = e;
    if route.is_none()
        && ranking.is_none()
        && refusal.is_none()
        && rule.is_none()
        && intent.is_none()
        && excluded.is_none()
    {
        err(
            "expect",
            "expect at least one of route, ranking, refusal, rule, intent, excluded".into(),
        );
    }
    let cfg = snap.config();
    let known_route = |id: &str| cfg.routes.iter().any(|r| r.id.as_str() == id);
    let routes = || {
        cfg.routes
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(id) = route.as_deref().filter(|id| !known_route(id)) {
        err(
            "expect.route",
            format!("unknown route {id:?} (known: {})", routes()),
        );
    }
    for (field, list) in [("ranking", ranking), ("excluded", excluded)] {
        for (j, id) in list.iter().flatten().enumerate() {
            if !known_route(id) {
                err(
                    &format!("expect.{field}[{j}]"),
                    format!("unknown route {id:?} (known: {})", routes()),
                );
            }
        }
    }
    if let Some(label) = refusal
        .as_deref()
        .filter(|l| *l != "any" && !REFUSAL_LABELS.contains(l))
    {
        err(
            "expect.refusal",
            format!(
                "unknown refusal {label:?} (known: any, {})",
                REFUSAL_LABELS.join(", ")
            ),
        );
    }
    if let Some(name) = rule
        .as_deref()
        .filter(|n| *n != "none" && !cfg.policy_rules.iter().any(|r| r.name.as_str() == *n))
    {
        let known: Vec<&str> = cfg.policy_rules.iter().map(|r| r.name.as_str()).collect();
        err(
            "expect.rule",
            format!(
                "unknown policy rule {name:?} (known: none, {})",
                known.join(", ")
            ),
        );
    }
}

fn tenants(snap: &PolicySnapshot) -> String {
    snap.config()
        .tenants
        .iter()
        .map(|t| t.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
