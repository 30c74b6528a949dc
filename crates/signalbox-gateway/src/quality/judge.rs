//! Owns the judge in scheduled runs (`quality.judge`): a case with an
//! `expect.judge` rubric is graded by the judge alias, whose request is
//! decided by the same policy as a client's (as the eval tenant,
//! `quality.tenant`, else the anonymous tenant): rules, hard constraints,
//! residency and posture pick the candidates, in the policy's order. A
//! candidate is then called straight (like the suites' own calls: no
//! effect on its health), skipping routes whose breaker or quality gate
//! keeps them from serving, and routes where the suite's data classes may
//! not go (the judge's request carries the case and the answer). Each
//! call counts against the graded route's hourly budget. A judge that
//! cannot be asked, does not answer or answers without a grade gives a
//! failed verdict that says so.

use axum::http::{HeaderMap, HeaderValue};
use signalbox_core::ChatRequest;
use signalbox_eval::score::judge;
use signalbox_eval::{Answer, Case, Verdict};
use tokio::time::Duration;

use crate::pipeline::RouteObservations;
use crate::runtime::Runtime;

/// The judge alias of a scheduled run.
pub(crate) struct Judge<'a> {
    rt: &'a Runtime,
    alias: &'a str,
    timeout: Duration,
}

/// The judge's verdict and what asking it spent.
pub(crate) struct Graded {
    pub verdict: Verdict,
    pub requests: u32,
    pub cost_usd: f64,
}

impl<'a> Judge<'a> {
    /// The configured judge, if there is one.
    pub(crate) fn of(rt: &'a Runtime) -> Option<Self> {
        let q = &rt.config.quality;
        Some(Self {
            rt,
            alias: q.judge.as_deref()?,
            timeout: q.timeout,
        })
    }

    /// Grades `answer` to `case`, when the case has a rubric.
    pub(crate) async fn grade(
        &self,
        case: &Case,
        answer: &Answer,
        classes: &[String],
    ) -> Option<Graded> {
        let rubric = case.expect.judge.as_ref()?;
        let failed = |why: String| Graded {
            verdict: judge::unanswered(&why),
            requests: 0,
            cost_usd: 0.0,
        };
        let body = judge::request(self.alias, case, rubric, answer);
        let candidates = match self.candidates(&body) {
            Ok(c) => c,
            Err(why) => return Some(failed(why)),
        };
        let mut requests = 0;
        let mut passed_over = Vec::new();
        for idx in candidates {
            let (Some(route), Some(cfg)) = (self.rt.routes.get(idx), self.rt.route_config(idx))
            else {
                continue;
            };
            if let Some(why) = unfit(route, cfg, self.rt, classes) {
                passed_over.push(why);
                continue;
            }
            let mut body = body.clone();
            body["model"] = route.settings.upstream_model.as_str().into();
            let Ok(req) = ChatRequest::parse(body.to_string().as_bytes()) else {
                continue;
            };
            let id = HeaderValue::from_static("signalbox-quality-judge");
            requests += 1;
            let price = Some(cfg.price);
            if let Some(reply) = super::call(route, &req, self.timeout, price, &id).await {
                return Some(Graded {
                    verdict: judge::verdict(rubric, &reply.text),
                    requests,
                    cost_usd: reply.cost_usd.unwrap_or(0.0),
                });
            }
            passed_over.push(format!("{}: no answer", route.id));
        }
        let why = format!(
            "no route of `{}` answered: {}",
            self.alias,
            if passed_over.is_empty() {
                "none may serve it".to_owned()
            } else {
                passed_over.join("; ")
            }
        );
        Some(Graded {
            requests,
            ..failed(why)
        })
    }

    /// The policy's candidates for the judge's request, as the eval tenant.
    fn candidates(
        &self,
        body: &serde_json::Value,
    ) -> Result<Vec<signalbox_core::RouteIdx>, String> {
        let policy = &self.rt.policy;
        let req = ChatRequest::parse(body.to_string().as_bytes()).map_err(|e| e.to_string())?;
        let headers = HeaderMap::new();
        let (tenant, anonymous) = match super::eligible::tenant(&self.rt.config) {
            Some(t) => {
                let idx = self.rt.config.tenants.iter().position(|x| x.id == t.id);
                (idx.ok_or("the eval tenant disappeared")?, false)
            }
            None => signalbox_policy::authenticate(policy, &headers).map_err(|_| {
                "no tenant to decide the judge's requests as: set `quality.tenant`".to_owned()
            })?,
        };
        let signals = signalbox_policy::extract(policy, tenant, anonymous, &headers, &req)
            .map_err(|e| e.to_string())?;
        let observations = RouteObservations(self.rt);
        let decision = signalbox_policy::decide(policy, &signals, &headers, &observations);
        if let Some(refusal) = decision.refusal {
            return Err(refusal.to_string());
        }
        Ok(decision.candidates)
    }
}

/// Why a candidate may not judge now: its breaker or quality gate, or a
/// data class the judge's request carries.
fn unfit(
    route: &crate::runtime::Route,
    cfg: &signalbox_config::RouteConfig,
    rt: &Runtime,
    classes: &[String],
) -> Option<String> {
    if let signalbox_dispatch::Admission::Skip(_, why) = route.health.peek() {
        return Some(format!("{}: {why}", route.id));
    }
    if let Some(why) = route.health.quality.closed() {
        return Some(format!("{}: {why}", route.id));
    }
    // The judge's request has its own intent: any rule may apply.
    super::eligible::check(&rt.config, cfg, classes, None)
        .err()
        .map(|(_, why)| why)
}
