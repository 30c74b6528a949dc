//! Owns active health checks: a cheap chat request per route whose answer
//! must match the route's expected pattern (quality, not just HTTP 200);
//! an embedding route is probed with its own kind of request (the prompt
//! embedded), whose answer must be one vector of the declared length.
//! By default probes run only while a route is unhealthy, to detect its
//! recovery without spending traffic on healthy routes; at most one probe
//! per route per interval. A probe of an open circuit runs only once the
//! open period is over, as its half-open trial.

use std::sync::Arc;

use axum::http::HeaderValue;
use regex::Regex;
use signalbox_config::ProbeMode;
use signalbox_core::metric_names as m;
use signalbox_core::{ChatRequest, OutcomeClass};
use signalbox_dispatch::{Admission, ProbeResult};
use signalbox_providers::UpstreamError;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use crate::AppState;

/// How often the prober looks for due probes.
const TICK: Duration = Duration::from_secs(1);

/// Starts the prober; it follows configuration reloads.
pub(crate) fn spawn(state: &Arc<AppState>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let runtime = state.runtime.load_full();
            for (target, cfg) in runtime.routes.iter().zip(&runtime.config.routes) {
                let hc = &cfg.health_check;
                if hc.mode == ProbeMode::Off
                    || !target
                        .health
                        .probe_due(hc.mode == ProbeMode::Always, hc.interval)
                {
                    continue;
                }
                // An open circuit is probed only as its half-open trial.
                if matches!(target.health.peek(), Admission::Skip(..)) {
                    continue;
                }
                if matches!(target.health.peek(), Admission::Trial)
                    && !matches!(target.health.admit(), Admission::Trial)
                {
                    continue;
                }
                let result = probe(target, &hc.prompt, &hc.expect, hc.timeout).await;
                let label = if result.ok { "ok" } else { "failed" };
                state.telemetry.count(
                    m::PROBES_TOTAL,
                    &[("route", target.id.as_str()), ("result", label)],
                );
                tracing::debug!(route = %target.id, ok = result.ok, detail = %result.detail, "Health probe.");
                target.health.record_probe(result);
            }
        }
    })
}

/// The probe's request: a short chat completion, or for an embedding
/// route the prompt embedded.
fn probe_request(
    model: &str,
    prompt: &str,
    embedding: bool,
) -> Result<ChatRequest, signalbox_core::RequestError> {
    if embedding {
        let body = serde_json::json!({ "model": model, "input": prompt });
        let serde_json::Value::Object(body) = body else {
            return Err(signalbox_core::RequestError::Syntax("not an object".into()));
        };
        return ChatRequest::embeddings(body, Vec::new());
    }
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 16,
        "temperature": 0,
    });
    ChatRequest::parse(&serde_json::to_vec(&body).unwrap_or_default())
}

/// Sends one probe and judges its answer.
async fn probe(
    target: &crate::runtime::Route,
    prompt: &str,
    expect: &str,
    timeout: Duration,
) -> ProbeResult {
    let embedding = target.settings.embedding.is_some();
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, async {
        let req = probe_request(&target.settings.upstream_model, prompt, embedding)
            .map_err(|e| UpstreamError::new(OutcomeClass::BadResponse, e.to_string()))?;
        let prepared = target
            .upstream
            .prepare(&req, &target.settings)
            .map_err(|e| UpstreamError::new(OutcomeClass::RequestRejected, e.to_string()))?;
        let probe_id = HeaderValue::from_static("signalbox-probe");
        let call = signalbox_providers::CallContext {
            request_id: Some(&probe_id),
            ..Default::default()
        };
        match target.upstream.call(&prepared, &call).await? {
            signalbox_dispatch::Answer::Json(json) => Ok(json),
            // A probe asks for no stream; a stream answer is not a chat completion.
            signalbox_dispatch::Answer::Events(_) => Err(UpstreamError::new(
                OutcomeClass::BadResponse,
                "probe answered with a stream",
            )),
        }
    })
    .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let failed = |detail: String| ProbeResult {
        at: None,
        ok: false,
        latency_ms,
        detail,
    };
    let json = match answer {
        Err(_) => return failed(format!("no answer within {}ms", timeout.as_millis())),
        Ok(Err(e)) => return failed(e.to_string()),
        Ok(Ok(json)) => json,
    };
    // An embeddings answer was checked on the way (one vector per input,
    // of the route's length): there is no text to match.
    if embedding {
        return ProbeResult {
            at: None,
            ok: true,
            latency_ms,
            detail: String::new(),
        };
    }
    let text = serde_json::from_slice::<serde_json::Value>(&json.body)
        .ok()
        .and_then(|v| {
            v["choices"][0]["message"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    match Regex::new(expect) {
        Ok(re) if re.is_match(&text) => ProbeResult {
            at: None,
            ok: true,
            latency_ms,
            detail: String::new(),
        },
        Ok(_) => failed(format!("answer did not match {expect:?}")),
        Err(e) => failed(format!("invalid expect pattern: {e}")),
    }
}
