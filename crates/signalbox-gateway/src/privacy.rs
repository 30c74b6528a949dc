//! Owns the privacy boundary on the request path: before a request crosses
//! into a route's trust zone, the zone's boundary (the rule's, else the
//! tenant's, else the gateway's) redacts, tokenises or blocks what its detectors find (an
//! embeddings request's `input` is redacted where chat would be tokenised); the
//! answer's tokens are restored before the caller sees it, in JSON and in
//! streams. Tokens are consistent within a session (`x-signalbox-session`)
//! through the vault. Only counts ever leave this module — never values.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use signalbox_config::Config;
use signalbox_core::canonical::StreamEvent;
use signalbox_core::{ChatRequest, RouteIdx};
use signalbox_privacy::{
    ChatStreamRestorer, PrivacyProfile, ProtectError, RestoreStats, TokenTable, TokenVault,
    VaultScope, load_table, may_contain_token, restore_chat_response, store_fresh,
};

use signalbox_core::metric_names as m;

use crate::runtime::BuildError;

/// The token vault (a trait object; `Debug` for the app state).
#[derive(Clone)]
pub struct Vault(pub Arc<dyn TokenVault>);

impl Vault {
    /// The vault itself.
    pub fn as_ref(&self) -> &dyn TokenVault {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

/// Compiled boundaries of one configuration.
#[derive(Debug, Default)]
pub struct PrivacyRuntime {
    /// Per zone: the gateway-wide profile.
    global: Vec<Option<Arc<PrivacyProfile>>>,
    /// Per (tenant, zone): the tenant's own profile.
    tenants: HashMap<(usize, usize), Arc<PrivacyProfile>>,
    /// Per (policy rule, zone): the matched rule's profile.
    rules: HashMap<(usize, usize), Arc<PrivacyProfile>>,
    /// Per route: its zone.
    route_zone: Vec<usize>,
    zone_names: Vec<String>,
}

impl PrivacyRuntime {
    /// Compiles every boundary of `config` (validation already proved they compile).
    pub fn build(config: &Config) -> Result<Self, BuildError> {
        let compile = |spec| {
            PrivacyProfile::compile(spec)
                .map(Arc::new)
                .map_err(|e| BuildError::Privacy(e.to_string()))
        };
        let mut global = vec![None; config.privacy.zones.len()];
        for b in &config.privacy.boundaries {
            if let Some(slot) = global.get_mut(b.zone) {
                *slot = Some(compile(&b.spec)?).filter(|p| !p.is_inert());
            }
        }
        let mut tenants = HashMap::new();
        for (t, tenant) in config.tenants.iter().enumerate() {
            for b in &tenant.privacy {
                tenants.insert((t, b.zone), compile(&b.spec)?);
            }
        }
        let mut rules = HashMap::new();
        for (r, rule) in config.policy_rules.iter().enumerate() {
            for b in &rule.privacy {
                rules.insert((r, b.zone), compile(&b.spec)?);
            }
        }
        Ok(Self {
            global,
            tenants,
            rules,
            route_zone: config.routes.iter().map(|r| r.zone).collect(),
            zone_names: config.privacy.zones.clone(),
        })
    }

    /// The profile guarding `zone` for a request of `tenant` matched by
    /// `rule`: the rule's, else the tenant's, else the gateway's; `None` when
    /// nothing is checked there.
    fn profile(&self, who: Who, zone: usize) -> Option<&Arc<PrivacyProfile>> {
        let specific = who
            .rule
            .and_then(|r| self.rules.get(&(r, zone)))
            .or_else(|| self.tenants.get(&(who.tenant, zone)));
        match specific {
            Some(p) => Some(p).filter(|p| !p.is_inert()),
            None => self.global.get(zone).and_then(Option::as_ref),
        }
    }

    /// Whether any boundary applies to any of `routes` for this request.
    pub fn applies(&self, who: Who, routes: &[RouteIdx]) -> bool {
        routes.iter().any(|&r| {
            self.route_zone
                .get(r.get())
                .is_some_and(|&z| self.profile(who, z).is_some())
        })
    }
}

/// Whose boundaries apply: the tenant, and the policy rule that matched.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    /// Tenant index.
    pub tenant: usize,
    /// Matched policy rule index, if any.
    pub rule: Option<usize>,
}

/// A request protected for each zone its candidates are in.
pub struct Protected {
    /// Per zone: the rewritten request and its token table.
    zones: HashMap<usize, (ChatRequest, Arc<TokenTable>)>,
    /// Zones whose boundary blocks this request (by name), with the classes found.
    pub blocked: Vec<(String, Vec<String>)>,
    /// The same zones, by index.
    blocked_zones: Vec<usize>,
    /// What was found and done, per zone (counts only), for the record.
    pub report: Value,
}

impl Protected {
    /// The body to send to `route`: the protected one for a guarded zone,
    /// `None` for an unguarded zone (send the original).
    pub fn for_route(&self, route: RouteIdx, runtime: &PrivacyRuntime) -> Option<&ChatRequest> {
        let zone = runtime.route_zone.get(route.get())?;
        self.zones.get(zone).map(|(r, _)| r)
    }

    /// Whether `route`'s zone blocks this request.
    pub fn blocks(&self, route: RouteIdx, runtime: &PrivacyRuntime) -> bool {
        runtime
            .route_zone
            .get(route.get())
            .is_some_and(|z| self.blocked_zones.contains(z))
    }

    /// The token table of `route`'s zone, to restore its answer.
    pub fn table_for(&self, route: RouteIdx, runtime: &PrivacyRuntime) -> Option<Arc<TokenTable>> {
        let zone = runtime.route_zone.get(route.get())?;
        self.zones.get(zone).map(|(_, t)| Arc::clone(t))
    }
}

/// Protects `req` for every guarded zone among `routes`. Tokens are loaded
/// from and stored to the session's vault entry when a session is given.
pub async fn protect(
    runtime: &PrivacyRuntime,
    vault: &dyn TokenVault,
    who: Who,
    tenant_id: &str,
    session: Option<&str>,
    req: &ChatRequest,
    routes: &[RouteIdx],
) -> Protected {
    let mut zones: Vec<usize> = routes
        .iter()
        .filter_map(|r| runtime.route_zone.get(r.get()).copied())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    let mut out = Protected {
        zones: HashMap::new(),
        blocked: Vec::new(),
        blocked_zones: Vec::new(),
        report: json!({}),
    };
    for zone in zones {
        let Some(profile) = runtime.profile(who, zone) else {
            continue;
        };
        let zone_name = runtime.zone_names.get(zone).cloned().unwrap_or_default();
        let scope = session.map(|s| VaultScope {
            tenant: tenant_id.to_owned(),
            session: s.to_owned(),
        });
        let mut table = match &scope {
            Some(scope) => load_table(vault, scope).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Token vault unavailable; tokens are per request.");
                TokenTable::new()
            }),
            None => TokenTable::new(),
        };
        // A vector cannot be restored: an embeddings request's tokenising
        // classes are redacted (`signalbox-privacy`'s embeddings walk).
        let rewritten = if req.is_embeddings() {
            req.rewritten(|body| profile.protect_embeddings_request(body))
        } else {
            req.rewritten(|body| profile.protect_chat_request(body, &mut table))
        };
        match rewritten {
            Ok((protected, report)) => {
                if let Some(scope) = &scope
                    && let Err(e) = store_fresh(vault, scope, &mut table).await
                {
                    tracing::warn!(error = %e, "Token vault unavailable; session tokens not kept.");
                }
                out.report[&zone_name] = serde_json::to_value(&report).unwrap_or_default();
                out.zones.insert(zone, (protected, Arc::new(table)));
            }
            Err(ProtectError::Blocked(b)) => {
                let mut report = serde_json::to_value(&b.report).unwrap_or_default();
                report["blocked"] = json!(b.classes);
                out.report[&zone_name] = report;
                out.blocked.push((zone_name, b.classes));
                out.blocked_zones.push(zone);
            }
            Err(e) => {
                // Not a chat body the detectors understand: nothing may cross unchecked.
                out.report[&zone_name] = json!({ "error": e.to_string() });
                out.blocked
                    .push((zone_name, vec!["unscannable-body".to_owned()]));
                out.blocked_zones.push(zone);
            }
        }
    }
    out
}

/// Restores tokens in a whole chat completion.
pub fn restore_json(body: Bytes, table: &TokenTable) -> (Bytes, RestoreStats) {
    // No token can start without its bracket, raw or `\u27e6`-escaped (as
    // Python servers write it): answers without one pass untouched.
    if table.is_empty() || !may_contain_token(&body) {
        return (body, RestoreStats::default());
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return (body, RestoreStats::default());
    };
    let stats = restore_chat_response(&mut v, table);
    if stats.restored == 0 {
        return (body, stats);
    }
    match serde_json::to_vec(&v) {
        Ok(bytes) => (Bytes::from(bytes), stats),
        Err(_) => (body, stats),
    }
}

/// Counts restored, invented and mangled tokens (metrics only; never values).
pub fn count_restores(telemetry: &crate::telemetry::Telemetry, stats: RestoreStats) {
    for (result, n) in [
        ("restored", stats.restored),
        ("unknown", stats.unknown),
        ("malformed", stats.malformed),
    ] {
        if n > 0 {
            telemetry.count_n(m::PRIVACY_TOKENS_TOTAL, &[("result", result)], u64::from(n));
        }
    }
}

/// Restores tokens in a stream as the edge writes it: OpenAI SSE bytes
/// passed on as the provider wrote them (whole events, tokens split across
/// them included), or decoded events before they are encoded.
pub struct StreamRestore {
    restorer: Option<ChatStreamRestorer>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    /// Until a `⟦` appears nothing can be held back, so events pass as they are.
    active: bool,
}

impl StreamRestore {
    /// Restores with `table`; counts land in `telemetry`.
    pub fn new(table: Arc<TokenTable>, telemetry: Arc<crate::telemetry::Telemetry>) -> Self {
        Self {
            restorer: Some(ChatStreamRestorer::new(table)),
            telemetry,
            active: false,
        }
    }

    /// Restores whole OpenAI SSE events; at `[DONE]`, what is still held
    /// goes out before it.
    pub fn wire(&mut self, events: Bytes) -> Bytes {
        self.active = self.active || may_contain_token(&events) || holds_a_backslash(&events);
        if !self.active {
            return events;
        }
        let Ok(text) = std::str::from_utf8(&events) else {
            return events;
        };
        let mut out = String::with_capacity(text.len() + 16);
        for line in text.split_inclusive('\n') {
            let Some(data) = line.strip_prefix("data:") else {
                out.push_str(line);
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                if let Some(tail) = self.finish() {
                    out.push_str("data: ");
                    out.push_str(&tail.to_string());
                    out.push_str("\n\n");
                }
                out.push_str(line);
                continue;
            }
            match (serde_json::from_str::<Value>(data), self.restorer.as_mut()) {
                (Ok(mut v), Some(r)) => {
                    r.restore_chunk(&mut v);
                    out.push_str("data: ");
                    out.push_str(&v.to_string());
                    out.push('\n');
                }
                _ => out.push_str(line),
            }
        }
        Bytes::from(out)
    }

    /// Restores decoded events in place.
    pub fn events(&mut self, events: &mut Vec<StreamEvent>) {
        if let Some(r) = self.restorer.as_mut() {
            r.restore_events(events);
        }
    }

    /// Ends a decoded stream: what is still held, as events.
    pub fn finish_events(&mut self) -> Vec<StreamEvent> {
        let Some(r) = self.restorer.take() else {
            return Vec::new();
        };
        let (tail, stats) = r.finish_events();
        count_restores(&self.telemetry, stats);
        tail
    }

    /// Ends a stream passed on: what is still held, chunk-shaped.
    fn finish(&mut self) -> Option<Value> {
        let (tail, stats) = self.restorer.take()?.finish();
        count_restores(&self.telemetry, stats);
        tail
    }
}

/// Whether the SSE bytes carry a literal backslash in a JSON string (`\\`
/// as written): tool-call arguments are JSON text inside a string, so an
/// escaped bracket (`\u27e6`) may be cut between two events, the first
/// ending in `\u27` with no whole bracket for [`may_contain_token`] to see.
fn holds_a_backslash(events: &[u8]) -> bool {
    events.windows(2).any(|w| w == b"\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments escaped as Python writes JSON, cut inside the escaped
    /// bracket before any whole token has been seen in the stream.
    #[test]
    fn an_escaped_bracket_cut_between_the_first_events_is_restored() {
        let mut table = TokenTable::new();
        table.tokenise("EMAIL", "jane.doe@example.com");
        let event = |args: &str| {
            let chunk = serde_json::json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [
                { "index": 0, "function": { "arguments": args } }] } }] });
            Bytes::from(format!("data: {chunk}\n\n"))
        };
        let events = vec![
            event("{\"to\": \"\\u27"),
            event("e6EMAIL_1\\u27e7\"}"),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ];
        let telemetry = Arc::new(crate::telemetry::Telemetry::new().unwrap());
        let mut restore = StreamRestore::new(Arc::new(table), telemetry);
        let out: Vec<Bytes> = events.into_iter().map(|e| restore.wire(e)).collect();
        let args: String = out
            .iter()
            .flat_map(|b| {
                std::str::from_utf8(b)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|l| {
                l.strip_prefix("data: ")
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
            })
            .filter_map(|v| {
                v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(args, r#"{"to": "jane.doe@example.com"}"#);
    }
}
