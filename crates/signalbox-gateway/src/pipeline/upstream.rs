//! The pipeline's upstream stages: failover over the decided routes (with
//! the flow's fallback rule), taking what it found into the context, and
//! turning the served answer into the reply (privacy tokens restored, the
//! spend charged, a degraded answer marked).

use std::sync::Arc;

use axum::http::HeaderMap;
use bytes::Bytes;
use signalbox_dispatch::{Decided, Served, ServedBody};
use signalbox_privacy::TokenTable;

use crate::budget::StreamCharge;
use crate::ctx::{LogFacts, RequestCtx, ServedFacts};
use crate::escalation::escalate;
use crate::failover::{self, Ended, NoFallback};
use crate::finish::Reply;
use crate::respond::ApiError;
use crate::trace::TraceContext;

/// Runs failover for the decided request; also says why the flow may not
/// fall back, if so.
pub(super) async fn failover(
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
    decided: &mut Decided,
) -> (failover::Outcome, Option<NoFallback>) {
    let no_fallback = NoFallback::of(&decided.decision, headers);
    let trace = ctx
        .trace
        .insert(TraceContext::for_span(&tracing::Span::current(), headers));
    let traceparent = trace.header();
    let ctx = &*ctx;
    let trace = ctx.trace.as_ref();
    let tenant = ctx.tenant_config();
    let fctx = failover::Context {
        state: &ctx.state,
        runtime: &ctx.runtime,
        headers,
        request_id: ctx.request_id(),
        request_id_header: &ctx.ids.echo_header,
        started: ctx.started,
        tenant_id: ctx.tenant_id(),
        tenant_weight: tenant.map_or(1.0, |t| t.weight),
        no_fallback,
        prompt: ctx.prompt.as_ref(),
        traceparent: traceparent.as_ref(),
        tracestate: trace.and_then(|t| t.state.as_ref()),
    };
    let outcome = failover::run(&fctx, decided).await;
    (outcome, no_fallback)
}

/// Takes what failover found into the context; the served answer (with
/// the token table to restore it), or the error the caller gets.
pub(super) fn settle(
    ctx: &mut RequestCtx,
    outcome: failover::Outcome,
    no_fallback: Option<NoFallback>,
) -> Result<(Served, Option<Arc<TokenTable>>), ApiError> {
    let failover::Outcome {
        result,
        attempts,
        skipped,
        degraded,
        at_most_once,
        excluded,
        privacy_report,
        round: restore_table,
        actions,
        reordered,
    } = outcome;
    ctx.actions.extend(actions);
    ctx.attempts = attempts;
    ctx.skipped = skipped;
    ctx.reordered = reordered;
    ctx.degraded = degraded;
    ctx.at_most_once = at_most_once;
    ctx.privacy = privacy_report;
    match result {
        Ok(mut served) => {
            ctx.route = Some(served.route);
            ctx.served = Some(ServedFacts {
                sticky: served.sticky,
                max_tokens_clamped: served.max_tokens_clamped,
            });
            ctx.translation = std::mem::take(&mut served.notes);
            Ok((served, restore_table))
        }
        Err(Ended::Refused(refusal)) => Err(ApiError::Policy(refusal)),
        Err(Ended::PrivacyBlocked { zone, classes }) => {
            Err(ApiError::PrivacyBlocked { zone, classes })
        }
        Err(Ended::Escalated { reason }) => {
            let webhook = escalate(
                &ctx.state,
                &ctx.runtime,
                ctx.request_id(),
                ctx.tenant_id(),
                &reason,
                &ctx.degraded,
            );
            Err(ApiError::Escalated { reason, webhook })
        }
        Err(Ended::Failed(failure)) => {
            ctx.stop = Some(failure.stop);
            ctx.route = failure.last_route;
            Err(ApiError::upstream(failure, excluded, no_fallback))
        }
    }
}

/// The served answer as the reply: a JSON body restored and charged, or
/// a stream (restored, charged and recorded as it goes and when it ends);
/// the edge writes either in the client's format and marks a degraded one.
pub(super) fn respond(
    ctx: &mut RequestCtx,
    served: Served,
    restore: Option<Arc<TokenTable>>,
    charge: StreamCharge,
) -> Reply {
    match served.body {
        ServedBody::Json(json) => {
            // Read before the body changes (restored tokens move bytes).
            if let Some(log) = ctx.log.as_mut() {
                log.answer_model = json.answer_model().map(str::to_owned);
            }
            let body = match &restore {
                Some(table) => {
                    let (body, stats) = crate::privacy::restore_json(json.body, table);
                    crate::privacy::count_restores(&ctx.state.telemetry, stats);
                    body
                }
                None => json.body,
            };
            let tenant = ctx.tenant_config();
            crate::budget::charge(&ctx.state, &ctx.runtime, tenant, served.route, json.usage);
            ctx.usage = json.usage;
            keep_response_content(ctx.log.as_mut(), &body);
            Reply::Json(body, json.format)
        }
        ServedBody::Stream(stream) => Reply::Stream {
            stream,
            route: served.route,
            restore,
            charge,
        },
    }
}

/// Keeps the answer in the record, when the tenant allows content logging
/// (the request's messages are already there): an OpenAI completion's
/// choices, or (passed on untranslated) an Anthropic message's content
/// blocks or a Response object's output items.
fn keep_response_content(log: Option<&mut LogFacts>, body: &Bytes) {
    if let Some(LogFacts {
        content: Some(content),
        ..
    }) = log
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
    {
        let answer = v
            .get("choices")
            .or_else(|| v.get("content"))
            .or_else(|| v.get("output"));
        content["response"] = answer.cloned().unwrap_or(serde_json::Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_answer_is_kept_in_either_wire_format() {
        for (body, want) in [
            (json!({"choices": [{"index": 0}]}), json!([{"index": 0}])),
            (
                json!({"type": "message", "content": [{"type": "thinking"}]}),
                json!([{"type": "thinking"}]),
            ),
            (
                json!({"object": "response", "output": [{"type": "reasoning"}]}),
                json!([{"type": "reasoning"}]),
            ),
        ] {
            let mut log = LogFacts {
                time_ms: 0,
                evidence: None,
                content: Some(json!({"request": []})),
                answer_model: None,
            };
            keep_response_content(Some(&mut log), &Bytes::from(body.to_string()));
            assert_eq!(log.content.unwrap_or_default()["response"], want);
        }
    }
}
