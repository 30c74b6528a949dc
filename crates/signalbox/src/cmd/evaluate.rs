//! Shared by `simulate` and `test-policy`: runs one request through the
//! policy (tenant → signals → decision) without calling any provider, and
//! turns the outcome into a decision record.

use anyhow::{Context, bail};
use http::{HeaderMap, HeaderName, HeaderValue};
use signalbox_core::{ChatRequest, DecisionRecord};
use signalbox_policy::{
    Decision, NoObservations, PolicyError, PolicySnapshot, Signals, authenticate, decide, extract,
};

/// The refusal labels `PolicyError::label` can produce.
pub const REFUSAL_LABELS: [&str; 6] = [
    "missing_key",
    "invalid_key",
    "forbidden",
    "bad_header",
    "model_not_found",
    "no_eligible_route",
];

/// What the policy made of one request.
#[derive(Debug)]
pub struct Evaluation {
    /// The tenant index, once known.
    pub tenant: Option<usize>,
    /// The signals, once extracted.
    pub signals: Option<Signals>,
    /// The decision, once made.
    pub decision: Option<Decision>,
    /// Why the policy refused, if it did (at any stage).
    pub refusal: Option<PolicyError>,
}

impl Evaluation {
    /// Route ids in the order they would be tried (empty when refused early).
    pub fn ranking(&self, snap: &PolicySnapshot) -> Vec<String> {
        self.decision
            .as_ref()
            .map(|d| route_ids(snap, &d.candidates))
            .unwrap_or_default()
    }

    /// Route ids excluded by a hard constraint.
    pub fn excluded(&self, snap: &PolicySnapshot) -> Vec<String> {
        match (&self.decision, &self.signals) {
            (Some(d), Some(s)) => d
                .trace(snap, s)
                .candidates
                .into_iter()
                .filter(|c| !c.eligible)
                .map(|c| c.route)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Route ids for route indices.
pub fn route_ids(snap: &PolicySnapshot, routes: &[signalbox_core::RouteIdx]) -> Vec<String> {
    routes
        .iter()
        .filter_map(|&i| snap.config().routes.get(i.get()).map(|r| r.id.to_string()))
        .collect()
}

/// The index of tenant `id`, or an error listing the configured tenants.
pub fn tenant_index(snap: &PolicySnapshot, id: &str) -> anyhow::Result<usize> {
    let tenants = &snap.config().tenants;
    match tenants.iter().position(|t| t.id == id) {
        Some(i) => Ok(i),
        None => {
            let known: Vec<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
            bail!("unknown tenant {id:?} (known: {})", known.join(", "))
        }
    }
}

/// Builds a header map from `(name, value)` pairs.
pub fn header_map<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = name.trim();
        let header = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .with_context(|| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("invalid value for header {name}"))?;
        map.append(header, value);
    }
    Ok(map)
}

/// Runs the policy. `tenant` selects a tenant directly (as if its key had
/// been presented); without it the headers are authenticated.
pub fn evaluate(
    snap: &PolicySnapshot,
    tenant: Option<usize>,
    headers: &HeaderMap,
    req: &ChatRequest,
) -> Evaluation {
    let mut eval = Evaluation {
        tenant: None,
        signals: None,
        decision: None,
        refusal: None,
    };
    let (tenant, anonymous) = match tenant {
        Some(t) => (t, false),
        None => match authenticate(snap, headers) {
            Ok(found) => found,
            Err(e) => {
                eval.refusal = Some(e);
                return eval;
            }
        },
    };
    eval.tenant = Some(tenant);
    let signals = match extract(snap, tenant, anonymous, headers, req) {
        Ok(s) => s,
        Err(e) => {
            eval.refusal = Some(e);
            return eval;
        }
    };
    let decision = decide(snap, &signals, headers, &NoObservations);
    eval.refusal = decision.refusal.clone();
    eval.signals = Some(signals);
    eval.decision = Some(decision);
    eval
}

/// The HTTP status the gateway answers a refusal with.
pub fn refusal_status(e: &PolicyError) -> u16 {
    match e {
        PolicyError::MissingKey | PolicyError::UnknownKey => 401,
        PolicyError::Forbidden(_) => 403,
        PolicyError::BadHeader { .. } | PolicyError::NoEligibleRoute { .. } => 400,
        PolicyError::UnknownModel { .. } => 404,
    }
}

/// The decision record the gateway would start with for this evaluation:
/// outcome `simulated` (first candidate as `chosen`) or `refused`.
pub fn record(snap: &PolicySnapshot, eval: &Evaluation, req: &ChatRequest) -> DecisionRecord {
    let cfg = snap.config();
    let time_ms = signalbox_core::clock::unix_ms();
    let mut record = DecisionRecord {
        request_id: "simulated".to_string(),
        time_ms,
        tenant: eval
            .tenant
            .and_then(|t| cfg.tenants.get(t))
            .map_or_else(|| "-".to_string(), |t| t.id.clone()),
        policy_version: cfg.version.clone(),
        alias: Some(req.model().to_string()),
        stream: req.is_stream(),
        outcome: "simulated".to_string(),
        status: 200,
        ..DecisionRecord::default()
    };
    if let Some(s) = &eval.signals {
        record.signals = s.records(snap);
    }
    if let (Some(d), Some(s)) = (&eval.decision, &eval.signals) {
        let trace = d.trace(snap, s);
        record.alias = Some(d.alias.to_string());
        record.rules = trace.rules;
        record.candidates = trace.candidates;
        record.ranking = trace.ranking;
        record.rule = d.rule_name(snap).map(str::to_string);
        record.failure_mode = d.failure_mode.as_str().to_string();
        record.chosen = record.ranking.first().cloned();
        if let Some(r) = d.candidates.first().and_then(|&i| cfg.routes.get(i.get())) {
            record.provider = Some(r.provider.to_string());
            record.model_version = Some(r.version.clone());
        }
    }
    if let Some(e) = &eval.refusal {
        record.outcome = "refused".to_string();
        record.status = refusal_status(e);
        record.error = Some(e.to_string());
        record.chosen = None;
        record.provider = None;
        record.model_version = None;
    }
    record
}
