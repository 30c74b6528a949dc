//! Hard constraints: each route either satisfies every one or is not a
//! candidate. Failover never relaxes them. A check records which constraints
//! were evaluated and which failed as bits, so the hot path does no string
//! work; [`render`] turns a check into verdicts with evidence for the record.

use signalbox_config::{ContentFilter, MaxOutput, Retention, RouteConfig};
use signalbox_core::{EndpointKind, Verdict};

use crate::signals::Signals;
use crate::snapshot::PolicySnapshot;

/// Output tokens assumed for cost estimates when the request sets no
/// `max_tokens`.
pub const DEFAULT_OUTPUT_ESTIMATE: u64 = 512;

/// The constraints, in evaluation (and display) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Constraint {
    Endpoint,
    Selector,
    Region,
    RiskTier,
    Retention,
    ContentFilter,
    Tools,
    Vision,
    JsonMode,
    Streaming,
    ContextWindow,
    MaxOutput,
    InputTokens,
    Dimensions,
    CostCeiling,
}

const ALL: [Constraint; 15] = [
    Constraint::Endpoint,
    Constraint::Selector,
    Constraint::Region,
    Constraint::RiskTier,
    Constraint::Retention,
    Constraint::ContentFilter,
    Constraint::Tools,
    Constraint::Vision,
    Constraint::JsonMode,
    Constraint::Streaming,
    Constraint::ContextWindow,
    Constraint::MaxOutput,
    Constraint::InputTokens,
    Constraint::Dimensions,
    Constraint::CostCeiling,
];

impl Constraint {
    fn bit(self) -> u16 {
        1 << (self as u8)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Endpoint => "endpoint",
            Self::Selector => "selector",
            Self::Region => "region",
            Self::RiskTier => "risk_tier",
            Self::Retention => "retention",
            Self::ContentFilter => "content_filter",
            Self::Tools => "tools",
            Self::Vision => "vision",
            Self::JsonMode => "json_mode",
            Self::Streaming => "streaming",
            Self::ContextWindow => "context_window",
            Self::MaxOutput => "max_output_tokens",
            Self::InputTokens => "max_input_tokens",
            Self::Dimensions => "dimensions",
            Self::CostCeiling => "cost_ceiling",
        }
    }
}

/// What the request requires of every route (tenant ∪ rule).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Required {
    pub retention: Option<Retention>,
    pub content_filter: Option<ContentFilter>,
    pub max_cost_usd: Option<f64>,
    pub has_selector: bool,
}

/// One route's constraint results.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteCheck {
    pub route: usize,
    pub evaluated: u16,
    pub failed: u16,
    pub cost_usd: f64,
}

impl RouteCheck {
    pub fn eligible(&self) -> bool {
        self.failed == 0
    }
}

/// The output limit `route` would be sent: the request's `max_tokens`,
/// lowered to the route's limit when the route clamps (`max-output: clamp`).
pub(crate) fn output_on(route: &RouteConfig, s: &Signals) -> Option<u64> {
    s.max_tokens.map(|m| match route.max_output {
        MaxOutput::Clamp => m.min(u64::from(route.max_output_tokens)),
        MaxOutput::Refuse => m,
    })
}

/// The request's estimated cost on a route, in USD (an embedding has no
/// output tokens).
pub(crate) fn cost_estimate(route: &RouteConfig, s: &Signals) -> f64 {
    let output = match s.endpoint {
        EndpointKind::Chat => output_on(route, s).unwrap_or(DEFAULT_OUTPUT_ESTIMATE) as f64,
        EndpointKind::Embeddings => 0.0,
    };
    (s.prompt_tokens as f64 * route.price.input_per_1m + output * route.price.output_per_1m)
        / 1_000_000.0
}

/// Evaluates every applicable constraint for route `idx`.
pub(crate) fn check(
    snap: &PolicySnapshot,
    s: &Signals,
    idx: usize,
    selected: bool,
    req: &Required,
) -> RouteCheck {
    let mut c = RouteCheck {
        route: idx,
        evaluated: 0,
        failed: 0,
        cost_usd: 0.0,
    };
    let Some(r) = snap.config.routes.get(idx) else {
        c.failed = u16::MAX;
        return c;
    };
    let mut eval = |k: Constraint, ok: bool| {
        c.evaluated |= k.bit();
        if !ok {
            c.failed |= k.bit();
        }
    };
    kind_checks(r, s, &mut eval);
    if req.has_selector {
        eval(Constraint::Selector, selected);
    }
    let region = snap.route_region.get(idx).copied().unwrap_or(0);
    eval(Constraint::Region, region & s.allowed_regions != 0);
    eval(Constraint::RiskTier, s.risk_tier <= r.max_risk_tier);
    if let Some(need) = req.retention {
        // Zero is the strongest retention class and sorts first.
        eval(Constraint::Retention, r.retention <= need);
    }
    if let Some(need) = req.content_filter {
        eval(Constraint::ContentFilter, r.content_filter >= need);
    }
    if !s.tools.is_empty() {
        eval(Constraint::Tools, r.supports.tools);
    }
    if s.images {
        eval(Constraint::Vision, r.supports.vision);
    }
    if s.json_mode {
        eval(Constraint::JsonMode, r.supports.json_mode);
    }
    if s.stream {
        eval(Constraint::Streaming, r.supports.streaming);
    }
    // A clamping route always fits the output: it is sent its own limit.
    if let Some(m) = s.max_tokens
        && r.max_output == MaxOutput::Refuse
    {
        eval(Constraint::MaxOutput, m <= u64::from(r.max_output_tokens));
    }
    let cost = cost_estimate(r, s);
    if let Some(ceiling) = req.max_cost_usd {
        eval(Constraint::CostCeiling, cost <= ceiling);
    }
    c.cost_usd = cost;
    c
}

/// The constraints on the request's kind: the endpoint, and that kind's
/// size limits (a chat prompt's context window; an embedding's longest
/// input and dimensions). Chat requests on chat routes (every route of a
/// configuration without embedding routes) need no endpoint verdict:
/// nothing to show or pay for.
fn kind_checks(r: &RouteConfig, s: &Signals, eval: &mut impl FnMut(Constraint, bool)) {
    if s.endpoint != EndpointKind::Chat || r.endpoint != EndpointKind::Chat {
        eval(Constraint::Endpoint, r.endpoint == s.endpoint);
    }
    match (s.endpoint, &r.embedding) {
        (EndpointKind::Chat, _) => {
            let needed = s.prompt_tokens.saturating_add(output_on(r, s).unwrap_or(0));
            eval(
                Constraint::ContextWindow,
                u64::from(r.context_window) >= needed,
            );
        }
        (EndpointKind::Embeddings, Some(spec)) => {
            eval(
                Constraint::InputTokens,
                s.longest_input_tokens <= u64::from(spec.max_input_tokens),
            );
            if let Some(d) = s.dimensions {
                eval(Constraint::Dimensions, d == u64::from(spec.dimensions));
            }
        }
        (EndpointKind::Embeddings, None) => {}
    }
}

/// Each evaluated constraint as a verdict with its evidence.
pub(crate) fn render(
    snap: &PolicySnapshot,
    s: &Signals,
    c: &RouteCheck,
    req: &Required,
) -> Vec<Verdict> {
    let Some(route) = snap.config.routes.get(c.route) else {
        return Vec::new();
    };
    let evidence = Evidence {
        snap,
        s,
        route,
        check: c,
        req,
    };
    ALL.into_iter()
        .filter(|k| c.evaluated & k.bit() != 0)
        .map(|k| {
            let ok = c.failed & k.bit() == 0;
            Verdict {
                constraint: k.name().into(),
                ok,
                detail: evidence.detail(k, ok),
            }
        })
        .collect()
}

/// What a verdict's text is drawn from: the request, the route and what was
/// required of it.
struct Evidence<'a> {
    snap: &'a PolicySnapshot,
    s: &'a Signals,
    route: &'a RouteConfig,
    check: &'a RouteCheck,
    req: &'a Required,
}

impl Evidence<'_> {
    /// One constraint's verdict text, e.g. `region us ∉ [eu] ✗`.
    fn detail(&self, k: Constraint, ok: bool) -> String {
        let (s, r, req) = (self.s, self.route, self.req);
        let yes = if ok { "✓" } else { "✗" };
        let cap = |name: &str, has: bool| {
            format!(
                "{name} {} {yes}",
                if has { "supported" } else { "not supported" }
            )
        };
        match k {
            Constraint::Endpoint | Constraint::InputTokens | Constraint::Dimensions => {
                self.kind_detail(k, ok, yes)
            }
            Constraint::Selector => format!(
                "rule selector {} this route {yes}",
                if ok { "admits" } else { "excludes" }
            ),
            Constraint::Region => format!(
                "region {} {} [{}] {yes}",
                r.region,
                if ok { "∈" } else { "∉" },
                self.snap.region_names(s.allowed_regions).join(", ")
            ),
            Constraint::RiskTier => {
                let tiers = &self.snap.config.risk_tiers;
                let tier = |i: usize| tiers.get(i).map_or("?", String::as_str);
                format!(
                    "risk tier {} {} route max {} {yes}",
                    tier(s.risk_tier),
                    if ok { "≤" } else { ">" },
                    tier(r.max_risk_tier)
                )
            }
            Constraint::Retention => format!(
                "retention {} {} {} {yes}",
                r.retention.as_str(),
                if ok { "meets" } else { "is weaker than" },
                req.retention.map_or("-", Retention::as_str)
            ),
            Constraint::ContentFilter => format!(
                "content filter {} {} {} {yes}",
                r.content_filter.as_str(),
                if ok { "≥" } else { "<" },
                req.content_filter.map_or("-", ContentFilter::as_str)
            ),
            Constraint::Tools => cap("tools", r.supports.tools),
            Constraint::Vision => cap("vision", r.supports.vision),
            Constraint::JsonMode => cap("json mode", r.supports.json_mode),
            Constraint::Streaming => cap("streaming", r.supports.streaming),
            Constraint::ContextWindow => {
                let needed = s.prompt_tokens.saturating_add(output_on(r, s).unwrap_or(0));
                format!(
                    "context_window {} {} {needed} {yes}",
                    r.context_window,
                    if ok { "≥" } else { "<" }
                )
            }
            Constraint::MaxOutput => format!(
                "max_output_tokens {} {} {} {yes}",
                r.max_output_tokens,
                if ok { "≥" } else { "<" },
                s.max_tokens.unwrap_or(0)
            ),
            Constraint::CostCeiling => format!(
                "cost ${:.6} {} ceiling ${:.6} {yes}",
                self.check.cost_usd,
                if ok { "≤" } else { ">" },
                req.max_cost_usd.unwrap_or(0.0)
            ),
        }
    }
}

impl Evidence<'_> {
    /// The verdict text of a constraint on the request's kind.
    fn kind_detail(&self, k: Constraint, ok: bool, yes: &str) -> String {
        let (s, r) = (self.s, self.route);
        let spec = r.embedding.as_ref();
        match k {
            Constraint::InputTokens => format!(
                "longest input {} {} max_input_tokens {} {yes}",
                s.longest_input_tokens,
                if ok { "≤" } else { ">" },
                spec.map_or(0, |e| e.max_input_tokens)
            ),
            Constraint::Dimensions => format!(
                "dimensions {} {} route's {} {yes}",
                s.dimensions.unwrap_or(0),
                if ok { "=" } else { "≠" },
                spec.map_or(0, |e| e.dimensions)
            ),
            _ => format!(
                "endpoint {} {} route serves {} {yes}",
                s.endpoint,
                if ok { "=" } else { "≠" },
                r.endpoint
            ),
        }
    }
}

/// The failed verdicts of a check, joined (`us: region us ∉ [eu] ✗`).
pub(crate) fn failures(
    snap: &PolicySnapshot,
    s: &Signals,
    c: &RouteCheck,
    req: &Required,
) -> String {
    let id = snap
        .config
        .routes
        .get(c.route)
        .map_or("?", |r| r.id.as_str());
    let failed: Vec<String> = render(snap, s, c, req)
        .into_iter()
        .filter(|v| !v.ok)
        .map(|v| v.detail)
        .collect();
    format!("{id}: {}", failed.join(", "))
}
