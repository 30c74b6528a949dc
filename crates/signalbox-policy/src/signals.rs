//! Owns the request's routing context: who is asking (tenant, from the API
//! key), what they ask for (headers, which may only narrow the tenant's
//! rights), and what the body needs (tools, images, JSON mode, tokens). Every
//! signal keeps its source. Nothing is guessed from prompt text except the
//! intent, and only through configured, named rules.

use std::borrow::Cow;

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use signalbox_config::{Config, TenantConfig};
use signalbox_core::headers as h;
use signalbox_core::{ChatRequest, EndpointKind, SignalRecord, SignalSource};

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
    /// The endpoint kind the request needs (the `endpoint` constraint).
    pub endpoint: EndpointKind,
    /// Embeddings: the largest single input in tokens (0 for chat).
    pub longest_input_tokens: u64,
    /// Embeddings: the vector length the caller asked for (`dimensions`).
    pub dimensions: Option<u64>,
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
    let (requested_region, allowed_regions) = region(snap, t, tenant_allowed, headers)?;
    let (risk_tier, risk_source) = risk_tier(cfg, t, headers)?;
    let session = session(headers)?;
    let irreversible = irreversible(headers)?;
    let body = BodyFeatures::of(req);
    let (intent, intent_source, intent_rule) = intent(snap, headers, &body, req.body())?;
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
        tools: body.tools,
        images: body.images,
        json_mode: body.json_mode,
        stream: req.is_stream(),
        max_tokens: body.max_tokens,
        prompt_tokens: body.estimate.prompt_tokens,
        token_method: body.estimate.method,
        endpoint: EndpointKind::of(req.ingress()),
        longest_input_tokens: body.longest_input,
        dimensions: body.dimensions,
    })
}

/// The region the caller asked for (`x-signalbox-region`), which may only
/// narrow the tenant's allowed regions, and the regions the request may use.
fn region(
    snap: &PolicySnapshot,
    t: &TenantConfig,
    tenant_allowed: RegionMask,
    headers: &HeaderMap,
) -> Result<(Option<usize>, RegionMask), PolicyError> {
    let Some(name) = header(headers, h::REGION)? else {
        return Ok((None, tenant_allowed));
    };
    let Some(&i) = snap.region_index.get(name) else {
        return Err(PolicyError::BadHeader {
            header: h::REGION,
            problem: format!(
                "unknown region {name:?} (known: {})",
                snap.config.regions.join(", ")
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
    Ok((Some(i), bit))
}

/// The risk tier: a header may raise the tenant's floor, never lower it,
/// and never exceed the tenant's maximum.
fn risk_tier(
    cfg: &Config,
    t: &TenantConfig,
    headers: &HeaderMap,
) -> Result<(usize, SignalSource), PolicyError> {
    let Some(name) = header(headers, h::RISK_TIER)? else {
        return Ok((t.risk_floor, SignalSource::Tenant));
    };
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
    Ok((i, SignalSource::Header))
}

/// The session id for stickiness (at most 256 characters).
fn session(headers: &HeaderMap) -> Result<Option<String>, PolicyError> {
    match header(headers, h::SESSION)? {
        Some(s) if s.len() > 256 => Err(PolicyError::BadHeader {
            header: h::SESSION,
            problem: "longer than 256 characters".into(),
        }),
        other => Ok(other.map(str::to_string)),
    }
}

/// Whether the caller marked the operation irreversible (`true`/`1`, `false`/`0`).
fn irreversible(headers: &HeaderMap) -> Result<bool, PolicyError> {
    match header(headers, h::IRREVERSIBLE)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(PolicyError::BadHeader {
            header: h::IRREVERSIBLE,
            problem: format!("expected true or false, got {v:?}"),
        }),
    }
}

/// What the body needs from a route.
struct BodyFeatures {
    tools: Vec<String>,
    images: bool,
    json_mode: bool,
    max_tokens: Option<u64>,
    estimate: tokens::TokenEstimate,
    longest_input: u64,
    dimensions: Option<u64>,
}

impl BodyFeatures {
    fn of(req: &ChatRequest) -> Self {
        let body = req.body();
        if req.is_embeddings() {
            let inputs = tokens::estimate_inputs(body);
            return Self {
                tools: Vec::new(),
                images: false,
                json_mode: false,
                max_tokens: None,
                estimate: inputs.total,
                longest_input: inputs.longest,
                dimensions: body.get("dimensions").and_then(Value::as_u64),
            };
        }
        Self {
            tools: tool_names(body),
            images: has_images(body),
            json_mode: matches!(
                body.get("response_format")
                    .and_then(|r| r.get("type"))
                    .and_then(Value::as_str),
                Some("json_object" | "json_schema")
            ),
            max_tokens: body
                .get("max_completion_tokens")
                .or_else(|| body.get("max_tokens"))
                .and_then(Value::as_u64),
            estimate: tokens::estimate_request(req),
            longest_input: 0,
            dimensions: None,
        }
    }
}

/// The intent: the caller's `x-signalbox-intent` (1-64 characters from
/// `[A-Za-z0-9._-]`), else the configured intent rules.
fn intent(
    snap: &PolicySnapshot,
    headers: &HeaderMap,
    features: &BodyFeatures,
    body: &serde_json::Map<String, Value>,
) -> Result<(String, SignalSource, Option<usize>), PolicyError> {
    let Some(v) = header(headers, h::INTENT)? else {
        return Ok(classify_intent(snap, !features.tools.is_empty(), body));
    };
    let well_formed = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !well_formed {
        return Err(PolicyError::BadHeader {
            header: h::INTENT,
            problem: "use 1-64 characters from [A-Za-z0-9._-]".into(),
        });
    }
    Ok((v.to_string(), SignalSource::Header, None))
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
        let mut out = Vec::with_capacity(20);
        self.caller_records(snap, &mut out);
        self.body_records(&mut out);
        out
    }

    /// Who asks and under which rights: tenant, plan, alias, region, risk
    /// tier, intent, session, irreversibility.
    fn caller_records(&self, snap: &PolicySnapshot, out: &mut Vec<SignalRecord>) {
        let cfg = &snap.config;
        let tenant = cfg.tenants.get(self.tenant);
        let (tenant_source, tenant_detail) = if self.anonymous {
            (SignalSource::Default, Some("anonymous access".to_string()))
        } else {
            (SignalSource::Key, None)
        };
        let tenant_id = tenant.map_or("-", |t| t.id.as_str());
        out.push(rec(
            "tenant",
            owned(tenant_id),
            tenant_source,
            tenant_detail,
        ));
        let plan = tenant.map_or("-", |t| t.plan.as_str());
        out.push(rec("plan", owned(plan), SignalSource::Tenant, None));
        let alias = cfg.aliases.get(self.alias).map_or("-", |a| a.name.as_str());
        out.push(rec("alias", owned(alias), SignalSource::Body, None));
        let allowed = format!("[{}]", snap.region_names(self.allowed_regions).join(", "));
        out.push(
            match self.requested_region.and_then(|i| cfg.regions.get(i)) {
                Some(r) => rec(
                    "region",
                    owned(r),
                    SignalSource::Header,
                    Some(format!("allowed {allowed}")),
                ),
                None => rec("region", allowed, SignalSource::Tenant, None),
            },
        );
        let tier = cfg
            .risk_tiers
            .get(self.risk_tier)
            .map_or("", String::as_str);
        out.push(rec("risk_tier", owned(tier), self.risk_source, None));
        let rule = self
            .intent_rule
            .and_then(|i| cfg.intents.rules.get(i))
            .map(|r| format!("rule {:?}", r.name));
        out.push(rec("intent", owned(&self.intent), self.intent_source, rule));
        if let Some(s) = &self.session {
            out.push(rec("session", owned(s), SignalSource::Header, None));
        }
        if self.irreversible {
            out.push(rec("irreversible", "true", SignalSource::Header, None));
        }
    }

    /// What the body needs: tools, images, JSON mode, stream, tokens (and
    /// for embeddings: the endpoint, the longest input, the dimensions).
    fn body_records(&self, out: &mut Vec<SignalRecord>) {
        if self.endpoint != EndpointKind::Chat {
            return self.embedding_records(out);
        }
        let tools: Cow<'static, str> = if self.tools.is_empty() {
            "none".into()
        } else {
            self.tools.join(", ").into()
        };
        out.push(rec("tools", tools, SignalSource::Body, None));
        let flags = [
            ("images", self.images),
            ("json_mode", self.json_mode),
            ("stream", self.stream),
        ];
        for (name, on) in flags {
            let on = if on { "true" } else { "false" };
            out.push(rec(name, on, SignalSource::Body, None));
        }
        if let Some(m) = self.max_tokens {
            out.push(rec("max_tokens", m.to_string(), SignalSource::Body, None));
        }
        out.push(rec(
            "prompt_tokens",
            self.prompt_tokens.to_string(),
            SignalSource::Body,
            Some(format!("estimate: {}", self.token_method)),
        ));
    }
}

impl Signals {
    /// An embeddings request's body signals.
    fn embedding_records(&self, out: &mut Vec<SignalRecord>) {
        out.push(rec(
            "endpoint",
            self.endpoint.label(),
            SignalSource::Body,
            None,
        ));
        if let Some(d) = self.dimensions {
            out.push(rec("dimensions", d.to_string(), SignalSource::Body, None));
        }
        out.push(rec(
            "longest_input_tokens",
            self.longest_input_tokens.to_string(),
            SignalSource::Body,
            None,
        ));
        out.push(rec(
            "prompt_tokens",
            self.prompt_tokens.to_string(),
            SignalSource::Body,
            Some(format!("estimate: {}", self.token_method)),
        ));
    }
}

fn rec(
    name: &'static str,
    value: impl Into<Cow<'static, str>>,
    source: SignalSource,
    detail: Option<String>,
) -> SignalRecord {
    SignalRecord {
        name: Cow::Borrowed(name),
        value: value.into(),
        source,
        detail,
    }
}

/// A value that lives in the config or the request: copied into the record.
fn owned(value: &str) -> Cow<'static, str> {
    Cow::Owned(value.to_owned())
}
