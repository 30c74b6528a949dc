//! Owns the request's routing context: who is asking (tenant, from the API
//! key), what they ask for (headers, which may only narrow the tenant's
//! rights), and what the body needs (tools, images, JSON mode, tokens). Every
//! signal keeps its source. Nothing is guessed from prompt text except the
//! intent, and only through configured, named rules.

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use signalbox_core::headers as h;
use signalbox_core::{ChatRequest, SignalRecord, SignalSource};

use crate::PolicyError;
use crate::snapshot::{PolicySnapshot, RegionMask};
use crate::tokens;

mod body;

use body::{classify_intent, has_images, tool_names};

/// The routing context of one request.
#[derive(Debug, Clone)]
pub struct Signals {
    /// Tenant index in the configuration.
    pub tenant: usize,
    /// Whether the tenant came from anonymous access (no key).
    pub anonymous: bool,
    /// Alias index in the configuration.
    pub alias: usize,
    /// The intent, with its source.
    pub intent: String,
    /// Where the intent came from.
    pub intent_source: SignalSource,
    /// The intent rule that matched (index), when the source is a rule.
    pub intent_rule: Option<usize>,
    /// Risk tier index (into `risk-tiers`).
    pub risk_tier: usize,
    /// Where the risk tier came from.
    pub risk_source: SignalSource,
    /// The region the caller asked for, if any (index into `regions`).
    pub requested_region: Option<usize>,
    /// Regions the request may be served from.
    pub allowed_regions: RegionMask,
    /// Session id for stickiness.
    pub session: Option<String>,
    /// Whether the caller marked the operation irreversible.
    pub irreversible: bool,
    /// Names of the tools offered to the model.
    pub tools: Vec<String>,
    /// Whether any message carries an image.
    pub images: bool,
    /// Whether JSON output was requested.
    pub json_mode: bool,
    /// Whether a stream was requested.
    pub stream: bool,
    /// Requested output tokens.
    pub max_tokens: Option<u64>,
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// How the estimate was made.
    pub token_method: &'static str,
}

/// Resolves the caller's tenant from `Authorization: Bearer …` or
/// `x-api-key`. Keys are compared by SHA-256 hash; the configuration never
/// holds them in clear. Returns the tenant index and whether it is the
/// anonymous tenant.
pub fn authenticate(
    snap: &PolicySnapshot,
    headers: &HeaderMap,
) -> Result<(usize, bool), PolicyError> {
    let key = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(signalbox_core::headers::bearer_token)
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    // A configuration without any keys serves everyone anonymously, and
    // ignores keys clients send anyway (SDKs insist on one).
    if snap.keys.is_empty() {
        return snap
            .anonymous
            .map(|t| (t, true))
            .ok_or(PolicyError::MissingKey);
    }
    match key {
        None => snap
            .anonymous
            .map(|t| (t, true))
            .ok_or(PolicyError::MissingKey),
        Some(key) => {
            let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
            snap.keys
                .get(&hash)
                .map(|&t| (t, false))
                .ok_or(PolicyError::UnknownKey)
        }
    }
}

/// Builds the signals for a request of `tenant`.
pub fn extract(
    snap: &PolicySnapshot,
    tenant: usize,
    anonymous: bool,
    headers: &HeaderMap,
    req: &ChatRequest,
) -> Result<Signals, PolicyError> {
    let cfg = &snap.config;
    let Some(t) = cfg.tenants.get(tenant) else {
        return Err(PolicyError::UnknownKey);
    };
    let alias = *snap
        .aliases
        .get(req.model())
        .ok_or_else(|| PolicyError::UnknownModel {
            model: req.model().to_string(),
            known: snap.known_models.clone(),
        })?;
    let tenant_allowed = snap.tenant_allowed.get(tenant).copied().unwrap_or(0);

    // Region: may only narrow the tenant's allowed regions.
    let (requested_region, allowed_regions) = match header(headers, h::REGION)? {
        None => (None, tenant_allowed),
        Some(name) => {
            let Some(&i) = snap.region_index.get(name) else {
                return Err(PolicyError::BadHeader {
                    header: h::REGION,
                    problem: format!(
                        "unknown region {name:?} (known: {})",
                        cfg.regions.join(", ")
                    ),
                });
            };
            let bit = if i < 64 { 1u64 << i } else { 0 };
            if tenant_allowed & bit == 0 {
                return Err(PolicyError::Forbidden(format!(
                    "tenant {} may not request region {name} (allowed: {})",
                    t.id,
                    t.allowed_regions.join(", ")
                )));
            }
            (Some(i), bit)
        }
    };

    // Risk tier: may raise the tenant's floor, never lower it, and never
    // exceed the tenant's maximum.
    let (risk_tier, risk_source) = match header(headers, h::RISK_TIER)? {
        None => (t.risk_floor, SignalSource::Tenant),
        Some(name) => {
            let Some(i) = cfg.risk_tiers.iter().position(|r| r == name) else {
                return Err(PolicyError::BadHeader {
                    header: h::RISK_TIER,
                    problem: format!(
                        "unknown risk tier {name:?} (known: {})",
                        cfg.risk_tiers.join(", ")
                    ),
                });
            };
            let tier = |i: usize| cfg.risk_tiers.get(i).map_or("?", String::as_str);
            if i < t.risk_floor {
                return Err(PolicyError::Forbidden(format!(
                    "risk tier {name} is below tenant {}'s floor {}; a request may raise its risk tier, not lower it",
                    t.id,
                    tier(t.risk_floor)
                )));
            }
            if i > t.max_risk_tier {
                return Err(PolicyError::Forbidden(format!(
                    "tenant {} may not send risk tier {name} (highest allowed: {})",
                    t.id,
                    tier(t.max_risk_tier)
                )));
            }
            (i, SignalSource::Header)
        }
    };

    let session = match header(headers, h::SESSION)? {
        Some(s) if s.len() > 256 => {
            return Err(PolicyError::BadHeader {
                header: h::SESSION,
                problem: "longer than 256 characters".into(),
            });
        }
        other => other.map(str::to_string),
    };
    let irreversible = match header(headers, h::IRREVERSIBLE)? {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
        Some(v) => {
            return Err(PolicyError::BadHeader {
                header: h::IRREVERSIBLE,
                problem: format!("expected true or false, got {v:?}"),
            });
        }
    };

    let body = req.body();
    let tools = tool_names(body);
    let images = has_images(body);
    let json_mode = matches!(
        body.get("response_format")
            .and_then(|r| r.get("type"))
            .and_then(Value::as_str),
        Some("json_object" | "json_schema")
    );
    let max_tokens = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64);
    let estimate = tokens::estimate_prompt(body);

    let (intent, intent_source, intent_rule) = match header(headers, h::INTENT)? {
        Some(v) => {
            if v.len() > 64
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                return Err(PolicyError::BadHeader {
                    header: h::INTENT,
                    problem: "use 1-64 characters from [A-Za-z0-9._-]".into(),
                });
            }
            (v.to_string(), SignalSource::Header, None)
        }
        None => classify_intent(snap, !tools.is_empty(), body),
    };

    Ok(Signals {
        tenant,
        anonymous,
        alias,
        intent,
        intent_source,
        intent_rule,
        risk_tier,
        risk_source,
        requested_region,
        allowed_regions,
        session,
        irreversible,
        tools,
        images,
        json_mode,
        stream: req.is_stream(),
        max_tokens,
        prompt_tokens: estimate.prompt_tokens,
        token_method: estimate.method,
    })
}

/// A header's value; a value that is not text is a bad header.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, PolicyError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| PolicyError::BadHeader {
                header: name,
                problem: "not valid text".into(),
            }),
    }
}

impl Signals {
    /// The signals as decision-record entries, each with its source.
    pub fn records(&self, snap: &PolicySnapshot) -> Vec<SignalRecord> {
        let cfg = &snap.config;
        let rec = |name: &str, value: String, source: SignalSource, detail: Option<String>| {
            SignalRecord {
                name: name.to_string(),
                value,
                source,
                detail,
            }
        };
        let tenant = cfg.tenants.get(self.tenant);
        let mut out = Vec::with_capacity(12);
        out.push(rec(
            "tenant",
            tenant.map_or("-", |t| t.id.as_str()).to_string(),
            if self.anonymous {
                SignalSource::Default
            } else {
                SignalSource::Key
            },
            self.anonymous.then(|| "anonymous access".to_string()),
        ));
        out.push(rec(
            "plan",
            tenant.map_or("-", |t| t.plan.as_str()).to_string(),
            SignalSource::Tenant,
            None,
        ));
        out.push(rec(
            "alias",
            cfg.aliases
                .get(self.alias)
                .map_or("-", |a| a.name.as_str())
                .to_string(),
            SignalSource::Body,
            None,
        ));
        let allowed = format!("[{}]", snap.region_names(self.allowed_regions).join(", "));
        match self.requested_region.and_then(|i| cfg.regions.get(i)) {
            Some(r) => out.push(rec(
                "region",
                r.clone(),
                SignalSource::Header,
                Some(format!("allowed {allowed}")),
            )),
            None => out.push(rec("region", allowed, SignalSource::Tenant, None)),
        }
        out.push(rec(
            "risk_tier",
            cfg.risk_tiers
                .get(self.risk_tier)
                .cloned()
                .unwrap_or_default(),
            self.risk_source,
            None,
        ));
        let rule = self
            .intent_rule
            .and_then(|i| cfg.intents.rules.get(i))
            .map(|r| format!("rule {:?}", r.name));
        out.push(rec("intent", self.intent.clone(), self.intent_source, rule));
        if let Some(s) = &self.session {
            out.push(rec("session", s.clone(), SignalSource::Header, None));
        }
        if self.irreversible {
            out.push(rec(
                "irreversible",
                "true".into(),
                SignalSource::Header,
                None,
            ));
        }
        let tools = if self.tools.is_empty() {
            "none".to_string()
        } else {
            self.tools.join(", ")
        };
        out.push(rec("tools", tools, SignalSource::Body, None));
        out.push(rec(
            "images",
            self.images.to_string(),
            SignalSource::Body,
            None,
        ));
        out.push(rec(
            "json_mode",
            self.json_mode.to_string(),
            SignalSource::Body,
            None,
        ));
        out.push(rec(
            "stream",
            self.stream.to_string(),
            SignalSource::Body,
            None,
        ));
        if let Some(m) = self.max_tokens {
            out.push(rec("max_tokens", m.to_string(), SignalSource::Body, None));
        }
        out.push(rec(
            "prompt_tokens",
            self.prompt_tokens.to_string(),
            SignalSource::Body,
            Some(format!("estimate: {}", self.token_method)),
        ));
        out
    }
}
