//! Owns the load: a deterministic plan of requests from the profile (when
//! each starts, its tenant, stream or not, idempotency key, irreversible,
//! session), and the bounded concurrent client that sends them on schedule
//! and reads every answer through `observe.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::facts::{Answer, RequestFact};
use crate::observe::{SseReader, anthropic_json_body, head, json_body};
use crate::scenario::Load;

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    /// Its `x-request-id`.
    pub(crate) id: String,
    /// When to start it.
    pub(crate) at: Duration,
    /// Index into the load's tenants (none: anonymous).
    pub(crate) tenant: Option<usize>,
    pub(crate) stream: bool,
    /// Sent to `/v1/messages` as an Anthropic client.
    pub(crate) anthropic: bool,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) irreversible: bool,
    pub(crate) session: Option<u32>,
}

/// A small deterministic generator (splitmix64): the same seed, the same mix.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The requests of a run, in start order. An idempotent request is sent
/// twice at the same moment with one key (two ids, `…-a` and `…-b`).
pub(crate) fn plan(load: &Load, scenario: &str) -> Vec<Planned> {
    let mut mix = Mix(load.seed);
    let count = (load.duration.as_secs_f64() * load.rate).floor() as usize;
    let total_share: f64 = load.tenants.iter().map(|t| t.share).sum();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let at = Duration::from_secs_f64(i as f64 / load.rate);
        let pick = mix.unit() * total_share;
        let mut acc = 0.0;
        let tenant = load.tenants.iter().position(|t| {
            acc += t.share;
            pick < acc
        });
        let tenant = tenant.or_else(|| load.tenants.len().checked_sub(1));
        let stream = mix.unit() < load.stream_share;
        // Drawn only when asked for, so other scenarios keep their mix.
        let anthropic = load.anthropic_share > 0.0 && mix.unit() < load.anthropic_share;
        let kind = mix.unit();
        let idempotent = kind < load.idempotent_share;
        let irreversible = !idempotent && kind < load.idempotent_share + load.irreversible_share;
        let session = (load.sessions > 0).then(|| (mix.next() % u64::from(load.sessions)) as u32);
        let base = Planned {
            id: format!("{scenario}-{i:05}"),
            at,
            tenant,
            stream,
            anthropic,
            idempotency_key: None,
            irreversible,
            session,
        };
        if idempotent {
            let key = format!("{scenario}-key-{i:05}");
            for copy in ["a", "b"] {
                out.push(Planned {
                    id: format!("{}-{copy}", base.id),
                    idempotency_key: Some(key.clone()),
                    ..base.clone()
                });
            }
        } else {
            out.push(base);
        }
    }
    out
}

/// Live counts for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests started.
    pub started: AtomicUsize,
    /// Requests answered (or failed).
    pub done: AtomicUsize,
}

/// Sends `plan` against the gateway at `url` (its base URL) from `start`.
pub(crate) async fn drive(
    load: &Load,
    plan: Vec<Planned>,
    url: String,
    start: Instant,
    progress: Arc<Progress>,
) -> Vec<RequestFact> {
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "Could not build the load's HTTP client.");
            return Vec::new();
        }
    };
    let gate = Arc::new(Semaphore::new(load.concurrency));
    let shared = Arc::new((client, url, load.clone()));
    let mut tasks = JoinSet::new();
    for (order, p) in plan.into_iter().enumerate() {
        tokio::time::sleep_until(start + p.at).await;
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        progress.started.fetch_add(1, Relaxed);
        let (shared, progress) = (shared.clone(), progress.clone());
        tasks.spawn(async move {
            let (client, url, load) = &*shared;
            let fact = send(client, url, load, p, start).await;
            progress.done.fetch_add(1, Relaxed);
            drop(permit);
            (order, fact)
        });
    }
    let mut facts: Vec<(usize, RequestFact)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(pair) = joined {
            facts.push(pair);
        }
    }
    facts.sort_by_key(|(order, _)| *order);
    facts.into_iter().map(|(_, f)| f).collect()
}

/// Sends one planned request and reads its answer, within the load's timeout.
async fn send(
    client: &reqwest::Client,
    url: &str,
    load: &Load,
    p: Planned,
    start: Instant,
) -> RequestFact {
    let sent = Instant::now();
    let tenant = p.tenant.and_then(|i| load.tenants.get(i));
    // Copies sharing a key send the same body (another body is a 422 conflict).
    let text = format!(
        "chaos request {}",
        p.idempotency_key.as_deref().unwrap_or(&p.id)
    );
    let messages = serde_json::json!([{"role": "user", "content": text}]);
    let mut req = if p.anthropic {
        let body = serde_json::json!({
            "model": load.model, "stream": p.stream, "max_tokens": 256, "messages": messages,
        });
        client
            .post(format!("{url}/v1/messages"))
            .header("anthropic-version", "2023-06-01")
            .json(&body)
    } else {
        let body = serde_json::json!({
            "model": load.model, "stream": p.stream, "messages": messages,
        });
        client
            .post(format!("{url}/v1/chat/completions"))
            .json(&body)
    };
    req = req.header("x-request-id", &p.id);
    if let Some(t) = tenant {
        if let Some(key) = &t.key {
            req = req.bearer_auth(key);
        }
        for (k, v) in &t.headers {
            req = req.header(k, v);
        }
    }
    if let Some(key) = &p.idempotency_key {
        req = req.header("idempotency-key", key);
    }
    if p.irreversible {
        req = req.header("x-signalbox-irreversible", "true");
    }
    if let Some(s) = p.session {
        req = req.header("x-signalbox-session", format!("session-{s}"));
    }
    let mut head_after = None;
    let answer = tokio::time::timeout(
        load.request_timeout,
        read(req, (p.stream, p.anthropic), sent, &mut head_after),
    )
    .await;
    let answer = answer.unwrap_or_else(|_| Answer {
        failure: Some(format!(
            "no whole answer within the client's {} s",
            load.request_timeout.as_secs_f64()
        )),
        ..Answer::default()
    });
    RequestFact {
        id: p.id,
        sent_at: sent.saturating_duration_since(start),
        head_after,
        elapsed: sent.elapsed(),
        tenant: tenant.map(|t| t.name.clone()).unwrap_or_default(),
        stream: p.stream,
        idempotency_key: p.idempotency_key,
        irreversible: p.irreversible,
        answer,
    }
}

async fn read(
    req: reqwest::RequestBuilder,
    (stream, anthropic): (bool, bool),
    sent: Instant,
    head_after: &mut Option<Duration>,
) -> Answer {
    let mut response = match req.send().await {
        Ok(r) => r,
        Err(error) => {
            return Answer {
                failure: Some(format!("no response head: {error}")),
                ..Answer::default()
            };
        }
    };
    *head_after = Some(sent.elapsed());
    let mut answer = head(&response);
    let is_sse = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if stream && is_sse {
        let mut sse = SseReader::new(anthropic);
        let broke = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => sse.feed(&chunk),
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        answer.body = sse.finish(broke);
        return answer;
    }
    match response.bytes().await {
        Ok(bytes) if anthropic => answer.body = anthropic_json_body(&bytes),
        Ok(bytes) => answer.body = json_body(&bytes),
        Err(error) => answer.failure = Some(format!("the body broke off: {error}")),
    }
    answer
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::scenario::Tenant;

    fn load() -> Load {
        let tenant = |name: &str, share| Tenant {
            name: name.to_owned(),
            key: None,
            share,
            headers: BTreeMap::new(),
        };
        Load {
            duration: Duration::from_secs(10),
            rate: 20.0,
            concurrency: 4,
            model: "chat".to_owned(),
            stream_share: 0.5,
            anthropic_share: 0.0,
            idempotent_share: 0.2,
            irreversible_share: 0.1,
            sessions: 3,
            tenants: vec![tenant("a", 3.0), tenant("b", 1.0)],
            request_timeout: Duration::from_secs(5),
            seed: 7,
        }
    }

    #[test]
    fn the_plan_is_deterministic_and_follows_the_shares() {
        let p = plan(&load(), "s");
        assert_eq!(p, plan(&load(), "s"));
        let logical = p.iter().filter(|r| !r.id.ends_with("-b")).count();
        assert_eq!(logical, 200);
        let share = |f: &dyn Fn(&Planned) -> bool| {
            p.iter().filter(|r| f(r)).count() as f64 / p.len() as f64
        };
        assert!((share(&|r| r.stream) - 0.5).abs() < 0.1);
        assert!((share(&|r| r.tenant == Some(0)) - 0.75).abs() < 0.1);
        assert!(
            p.iter()
                .all(|r| !(r.irreversible && r.idempotency_key.is_some()))
        );
        let keyed: Vec<&Planned> = p.iter().filter(|r| r.idempotency_key.is_some()).collect();
        assert!(!keyed.is_empty() && keyed.len().is_multiple_of(2));
        assert_eq!(keyed[0].idempotency_key, keyed[1].idempotency_key);
        assert_eq!(keyed[0].at, keyed[1].at);
        assert!(p.iter().all(|r| r.session.is_some_and(|s| s < 3)));
        assert!(p.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
