//! Renders one decision record for operators: a one-line "why" first, then
//! only the sections that have something to say.

use std::fmt::Write as _;

use signalbox_core::{AttemptRecord, CandidateRecord, DecisionRecord, OutcomeClass};

mod time;

#[cfg(test)]
mod tests;

use time::rfc3339_utc;

/// Explains a decision for operators: the "why" line, then the request,
/// signals, rules, candidates, ranking, attempts and outcome.
pub fn explain(record: &DecisionRecord) -> String {
    let mut out = why(record);
    out.push('\n');
    for section in [
        request(record),
        signals(record),
        rules(record),
        candidates(record),
        ranking(record),
        attempts(record),
        resilience(record),
        translation(record),
        outcome(record),
    ]
    .into_iter()
    .flatten()
    {
        out.push('\n');
        out.push_str(&section);
    }
    out
}

// === the why line ===

/// One line naming a record, to pick it among several that share a
/// caller's `x-request-id`: gateway id, tenant, arrival time and outcome.
pub fn one_line(r: &DecisionRecord) -> String {
    format!(
        "{}  tenant {}  {}  {} {}",
        r.request_id,
        r.tenant,
        rfc3339_utc(r.time_ms),
        r.outcome,
        r.status
    )
}

fn why(r: &DecisionRecord) -> String {
    match r.outcome.as_str() {
        "served" => why_served(r),
        "refused" => why_refused(r),
        "failed" => why_failed(r),
        "rejected" => why_rejected(r),
        other => format!("Why: {other} with status {}.", r.status),
    }
}

fn why_served(r: &DecisionRecord) -> String {
    let mut line = format!("Why: tenant {}", r.tenant);
    if let Some(regions) = allowed_regions(r) {
        let _ = write!(line, " ({regions})");
    }
    let _ = write!(
        line,
        " asked for {}",
        r.alias.as_deref().unwrap_or("(no alias)")
    );
    match &r.rule {
        Some(rule) => {
            let _ = write!(line, "; rule \"{rule}\" matched");
        }
        None => line.push_str("; no rule matched, alias default used"),
    }
    if let Some(chosen) = &r.chosen {
        let eligible = match r.candidates.iter().filter(|c| c.eligible).count() {
            0 => r.ranking.len(),
            n => n,
        };
        match r.ranking.iter().position(|route| route == chosen) {
            Some(i) => {
                let _ = write!(
                    line,
                    "; {chosen} chosen (ranked {} of {eligible} eligible)",
                    i + 1
                );
            }
            None => {
                let _ = write!(line, "; {chosen} chosen (not in the ranking)");
            }
        }
    }
    if let Some(reordered) = &r.reordered {
        for moved in &reordered.demoted {
            let (route, verb, kind) = (&moved.route, moved.kind.verb(), moved.kind);
            let _ = write!(line, "; {route} {verb} ({kind})");
        }
    }
    let verb = if r.stream {
        "streamed, first event"
    } else {
        "served"
    };
    let n = r.attempts.len();
    let _ = write!(
        line,
        "; {verb} in {} ms after {n} {}",
        r.latency_ms,
        plural(n, "attempt")
    );
    let failed: Vec<String> = r
        .attempts
        .iter()
        .filter(|a| a.outcome != OutcomeClass::Success)
        .map(|a| format!("{}: {}", a.route, a.outcome.label()))
        .collect();
    if !failed.is_empty() {
        let _ = write!(line, " ({} failed)", failed.join(", "));
    }
    line.push('.');
    line
}

fn why_refused(r: &DecisionRecord) -> String {
    let none_eligible = !r.candidates.is_empty() && r.candidates.iter().all(|c| !c.eligible);
    if none_eligible {
        let reasons: Vec<String> = r.candidates.iter().map(refusal_reason).collect();
        return format!(
            "Why: refused — no route satisfies the hard constraints: {}",
            reasons.join("; ")
        );
    }
    match &r.error {
        Some(error) => format!("Why: refused — {error}"),
        None => format!("Why: refused with status {}", r.status),
    }
}

/// `us (region us ∉ [eu])`: a route with the details of its failed verdicts.
fn refusal_reason(c: &CandidateRecord) -> String {
    let failed: Vec<&str> = c
        .verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| {
            if v.detail.is_empty() {
                v.constraint.as_ref()
            } else {
                v.detail.as_str()
            }
        })
        .collect();
    if failed.is_empty() {
        c.route.clone()
    } else {
        format!("{} ({})", c.route, failed.join(", "))
    }
}

fn why_failed(r: &DecisionRecord) -> String {
    if r.attempts.is_empty() {
        return match &r.error {
            Some(error) => format!("Why: failed — {error}"),
            None => format!("Why: failed with status {} before any attempt", r.status),
        };
    }
    let n = r.attempts.len();
    let tried: Vec<String> = r.attempts.iter().map(attempt_summary).collect();
    let all = if n == 1 {
        "the only attempt"
    } else {
        "all attempts"
    };
    format!(
        "Why: failed — {all} failed ({n} {}): {}",
        plural(n, "attempt"),
        tried.join("; ")
    )
}

fn why_rejected(r: &DecisionRecord) -> String {
    match r.attempts.last() {
        Some(last) => format!("Why: rejected by the upstream — {}", attempt_summary(last)),
        None => match &r.error {
            Some(error) => format!("Why: rejected by the upstream — {error}"),
            None => format!("Why: rejected by the upstream with status {}", r.status),
        },
    }
}

/// `eu-large (server_error, 502: upstream said 500)`.
fn attempt_summary(a: &AttemptRecord) -> String {
    let mut s = format!("{} ({}", a.route, a.outcome.label());
    if let Some(status) = a.status {
        let _ = write!(s, ", {status}");
    }
    if !a.detail.is_empty() {
        let _ = write!(s, ": {}", a.detail);
    }
    s.push(')');
    s
}

/// `allowed regions [eu, us]` from the `region` signal: its value when it
/// comes from the tenant, or `region eu requested, allowed [eu, us]` when a
/// header asked for one (the policy puts `allowed [..]` in the detail).
fn allowed_regions(r: &DecisionRecord) -> Option<String> {
    let signal = r
        .signals
        .iter()
        .find(|s| matches!(s.name.as_ref(), "region" | "regions" | "allowed_regions"))?;
    let bracket = |v: &str| {
        let v = v.trim();
        if v.starts_with('[') {
            v.to_owned()
        } else {
            format!("[{v}]")
        }
    };
    match signal
        .detail
        .as_deref()
        .and_then(|d| d.strip_prefix("allowed "))
    {
        Some(allowed) => Some(format!(
            "region {} requested, allowed {}",
            signal.value,
            bracket(allowed)
        )),
        None => Some(format!("allowed regions {}", bracket(&signal.value))),
    }
}

// === sections ===

fn request(r: &DecisionRecord) -> Option<String> {
    let mut s = String::from("Request\n");
    let _ = writeln!(s, "  id:             {}", r.request_id);
    if let Some(caller) = &r.caller_request_id {
        let _ = writeln!(s, "  x-request-id:   {caller} (the caller's)");
    }
    let _ = writeln!(s, "  time:           {}", rfc3339_utc(r.time_ms));
    let _ = writeln!(s, "  tenant:         {}", r.tenant);
    if let Some(alias) = &r.alias {
        let _ = writeln!(s, "  alias:          {alias}");
    }
    if !r.policy_version.is_empty() {
        let _ = writeln!(s, "  policy version: {}", r.policy_version);
    }
    if !r.failure_mode.is_empty() {
        let _ = writeln!(s, "  failure mode:   {}", r.failure_mode);
    }
    let _ = writeln!(
        s,
        "  stream:         {}",
        if r.stream { "yes" } else { "no" }
    );
    Some(s)
}

fn signals(r: &DecisionRecord) -> Option<String> {
    if r.signals.is_empty() {
        return None;
    }
    let mut s = String::from("Signals\n");
    for sig in &r.signals {
        let source = serde_json::to_value(sig.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{:?}", sig.source));
        match &sig.detail {
            Some(detail) => {
                let _ = writeln!(s, "  {} = {} ({source}, {detail})", sig.name, sig.value);
            }
            None => {
                let _ = writeln!(s, "  {} = {} ({source})", sig.name, sig.value);
            }
        }
    }
    Some(s)
}

fn rules(r: &DecisionRecord) -> Option<String> {
    if r.rules.is_empty() {
        return None;
    }
    let mut s = String::from("Rules\n");
    for rule in &r.rules {
        let mark = if rule.matched { '✓' } else { '✗' };
        match &rule.failed {
            Some(failed) if !rule.matched => {
                let _ = writeln!(s, "  {mark} {} — failed: {failed}", rule.name);
            }
            _ => {
                let _ = writeln!(s, "  {mark} {}", rule.name);
            }
        }
    }
    Some(s)
}

fn candidates(r: &DecisionRecord) -> Option<String> {
    if r.candidates.is_empty() {
        return None;
    }
    let mut s = String::from("Candidates\n");
    for c in &r.candidates {
        let _ = write!(
            s,
            "  {}: {}",
            c.route,
            if c.eligible {
                "eligible"
            } else {
                "not eligible"
            }
        );
        if let Some(score) = c.score {
            let _ = write!(s, ", score {score:.3}");
        }
        if let Some(cost) = c.cost_estimate_usd {
            let _ = write!(s, ", est. cost {}", usd(cost));
        }
        s.push('\n');
        for v in &c.verdicts {
            let mark = if v.ok { '✓' } else { '✗' };
            if v.detail.is_empty() {
                let _ = writeln!(s, "    {mark} {}", v.constraint);
            } else {
                let _ = writeln!(s, "    {mark} {}: {}", v.constraint, v.detail);
            }
        }
    }
    Some(s)
}

fn ranking(r: &DecisionRecord) -> Option<String> {
    if r.ranking.is_empty() {
        return None;
    }
    let mut s = String::from("Ranking\n");
    for (i, route) in r.ranking.iter().enumerate() {
        let _ = writeln!(s, "  {}. {route}", i + 1);
    }
    Some(s)
}

fn attempts(r: &DecisionRecord) -> Option<String> {
    if r.attempts.is_empty() {
        return None;
    }
    let mut s = String::from("Attempts\n");
    for (i, a) in r.attempts.iter().enumerate() {
        let _ = write!(
            s,
            "  {}. {} ({}): {}",
            i + 1,
            a.route,
            a.provider,
            a.outcome.label()
        );
        match a.status {
            Some(status) => {
                let _ = write!(s, ", status {status}");
            }
            None => s.push_str(", no status"),
        }
        let _ = write!(s, ", {} ms", a.elapsed.as_millis());
        if let Some(secs) = a.retry_after_secs {
            let _ = write!(s, ", retry after {secs} s");
        }
        if let Some(ids) = &a.provider_error {
            let named: Vec<&str> = [&ids.code, &ids.kind]
                .into_iter()
                .filter_map(|x| x.as_deref())
                .collect();
            let _ = write!(s, ", provider error {}", named.join(" / "));
        }
        if !a.detail.is_empty() {
            let _ = write!(s, " — {}", a.detail);
        }
        s.push('\n');
    }
    Some(s)
}

/// Skipped routes, routes ranked lower, degradation steps, stickiness and
/// early stops.
fn resilience(r: &DecisionRecord) -> Option<String> {
    let mut s = String::new();
    for skip in &r.skipped {
        let _ = writeln!(s, "  skipped {}: {}", skip.route, skip.reason);
    }
    if let Some(reordered) = &r.reordered {
        for moved in &reordered.demoted {
            let _ = writeln!(s, "  {moved}");
        }
        let _ = writeln!(s, "  tried in order: {}", reordered.order.join(", "));
    }
    if !r.degraded.is_empty() {
        let _ = writeln!(s, "  degraded: {}", r.degraded.join(", "));
    }
    if !r.operator_actions.is_empty() {
        let _ = writeln!(s, "  operator actions: {}", r.operator_actions.join(", "));
    }
    if let Some(route) = &r.sticky_route {
        let _ = writeln!(s, "  session sticky to: {route}");
    }
    if r.at_most_once {
        s.push_str("  at-most-once: never retried once it may have reached a provider\n");
    }
    if let Some(stopped) = &r.stopped {
        let _ = writeln!(s, "  stopped early: {stopped}");
    }
    if let Some(idem) = &r.idempotency {
        let _ = writeln!(s, "  idempotency key: {idem}");
    }
    (!s.is_empty()).then(|| format!("Resilience\n{s}"))
}

/// The prompt version and variant used, and what translating for the
/// serving provider dropped or changed.
fn translation(r: &DecisionRecord) -> Option<String> {
    let mut s = String::new();
    if let Some(prompt) = &r.prompt_version {
        let _ = writeln!(
            s,
            "  prompt: {prompt} (variant {})",
            r.prompt_variant.as_deref().unwrap_or("none: not served")
        );
    }
    if let Some(canary) = &r.canary {
        let _ = writeln!(s, "  canary {canary}");
    }
    for n in &r.translation {
        let _ = writeln!(s, "  {} {}: {}", n.field, n.action, n.reason);
    }
    (!s.is_empty()).then(|| format!("Prompt and translation\n{s}"))
}

fn outcome(r: &DecisionRecord) -> Option<String> {
    let mut s = String::from("Outcome\n");
    let _ = writeln!(s, "  outcome: {}", r.outcome);
    let _ = writeln!(s, "  status:  {}", r.status);
    if let Some(chosen) = &r.chosen {
        let _ = write!(s, "  route:   {chosen}");
        match (&r.provider, &r.model_version) {
            (Some(p), Some(m)) => {
                let _ = write!(s, " (provider {p}, model {m})");
            }
            (Some(p), None) => {
                let _ = write!(s, " (provider {p})");
            }
            (None, Some(m)) => {
                let _ = write!(s, " (model {m})");
            }
            (None, None) => {}
        }
        s.push('\n');
    }
    if let Some(error) = &r.error {
        let _ = writeln!(s, "  error:   {error}");
    }
    if let Some(usage) = &r.usage {
        let _ = writeln!(
            s,
            "  usage:   {} prompt + {} completion tokens{}",
            usage.prompt_tokens,
            usage.completion_tokens,
            if r.usage_estimated {
                " (the gateway's estimate: the provider reported none)"
            } else {
                ""
            }
        );
    }
    if let Some(cost) = r.cost_usd {
        let _ = writeln!(s, "  cost:    {}", usd(cost));
    }
    let _ = writeln!(s, "  latency: {} ms", r.latency_ms);
    if r.content.is_some() {
        s.push_str("  content: stored (the tenant allows content logging)\n");
    }
    Some(s)
}

// === helpers ===

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// `$0.0021`: up to six decimals, trailing zeros trimmed, at least two kept.
fn usd(amount: f64) -> String {
    let fixed = format!("{amount:.6}");
    let trimmed = fixed.trim_end_matches('0');
    let decimals = trimmed.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals < 2 {
        format!("${amount:.2}")
    } else {
        format!("${trimmed}")
    }
}
