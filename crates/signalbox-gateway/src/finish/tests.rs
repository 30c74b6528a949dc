//! `finish` and the context's drop, without sockets: what the response
//! headers, the record and the context say after each ending.

use std::time::Duration;

use axum::http::HeaderMap;
use signalbox_config::DegradeStep;
use signalbox_core::{
    AttemptRecord, DecisionRecord, OutcomeClass, ProviderName, RouteId, WireFormat,
};

use super::*;
use crate::ctx::{Idempotency, ServedFacts};
use crate::{Gateway, GatewayOptions};
use signalbox_testkit::{TempDb, temp_db};

const CONFIG: &str = r#"
providers:
  - { name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
routes:
  - { id: r, provider: p, model: m, region: us, price: { input-per-1m: 1.0, output-per-1m: 2.0 } }
aliases:
  - { name: chat, routes: [r] }
"#;

/// A gateway logging to `db` (which must outlive it), or logging nothing.
fn gateway(db: &TempDb, log: bool) -> Gateway {
    let config = signalbox_testkit::config(CONFIG, Vec::new());
    let options = GatewayOptions {
        decision_log_path: Some(db.to_path_buf()),
        ..GatewayOptions::default()
    };
    let mut g = Gateway::with_options(config, options).unwrap();
    if !log {
        let state = Arc::get_mut(&mut g.state).unwrap();
        state.decision_log = None;
    }
    g
}

async fn record(g: &Gateway, id: &str) -> DecisionRecord {
    let log = g.state.decision_log.clone().unwrap();
    log.flush().await;
    let mut found = log.reader().unwrap().find(id, None).unwrap();
    assert_eq!(found.len(), 1, "one record for {id}");
    found.remove(0)
}

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A context as the stages leave it after a served, degraded request.
fn served(g: &Gateway) -> RequestCtx {
    let mut ctx = RequestCtx::new(g.state.clone(), &HeaderMap::new(), WireFormat::OpenAi);
    ctx.tenant = Some(0);
    ctx.attempts = vec![AttemptRecord {
        route: RouteId::new("r"),
        provider: ProviderName::new("p"),
        outcome: OutcomeClass::Success,
        status: Some(200),
        elapsed: Duration::from_millis(3),
        sent_after: Duration::ZERO,
        detail: String::new(),
        retry_after_secs: None,
        provider_error: None,
    }];
    ctx.degraded = vec![DegradeStep::FallbackRoute];
    ctx.idempotency = Some(Idempotency::Executed);
    ctx.route = Some(signalbox_core::RouteIdx::new(0));
    ctx.served = Some(ServedFacts {
        sticky: None,
        max_tokens_clamped: None,
    });
    ctx.usage = Some(signalbox_core::Usage {
        prompt_tokens: 1_000_000,
        completion_tokens: 0,
    });
    ctx
}

#[tokio::test]
async fn headers_and_record_come_from_one_context() {
    let db = temp_db();
    let g = gateway(&db, true);
    let mut ctx = served(&g);
    let id = ctx.ids.gateway.clone();
    let resp = finish(
        &mut ctx,
        Ok(Reply::Json(
            Bytes::from_static(b"{}"),
            signalbox_core::WireFormat::OpenAi,
        )),
    );
    assert!(ctx.log.is_none(), "the record is written once");
    assert_eq!(header(&resp, "x-signalbox-route"), "r");
    assert_eq!(header(&resp, "x-signalbox-provider"), "p");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "1");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    assert_eq!(header(&resp, "x-signalbox-request-id"), id);
    assert_eq!(header(&resp, "content-type"), "application/json");
    drop(ctx);
    let rec = record(&g, &id).await;
    assert_eq!(rec.chosen.as_deref(), Some("r"));
    assert_eq!(rec.provider.as_deref(), Some("p"));
    assert_eq!(rec.attempts.len(), 1);
    assert_eq!(rec.degraded, vec!["fallback-route"]);
    assert_eq!(rec.idempotency.as_deref(), Some("executed"));
    assert_eq!((rec.status, rec.outcome.as_str()), (200, "served"));
    assert_eq!(
        rec.cost_usd,
        Some(1.0),
        "priced with the serving route's table"
    );
}

#[tokio::test]
async fn an_error_is_recorded_with_its_outcome_status_and_message() {
    let db = temp_db();
    let g = gateway(&db, true);
    let mut ctx = RequestCtx::new(g.state.clone(), &HeaderMap::new(), WireFormat::OpenAi);
    let id = ctx.ids.gateway.clone();
    let resp = finish(&mut ctx, Err(ApiError::IdempotencyInFlight));
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(header(&resp, "x-signalbox-attempts"), "0");
    drop(ctx);
    let rec = record(&g, &id).await;
    assert_eq!((rec.status, rec.outcome.as_str()), (409, "refused"));
    assert_eq!(
        rec.error.as_deref(),
        Some(ApiError::IdempotencyInFlight.to_string().as_str())
    );
}

#[tokio::test]
async fn a_context_dropped_before_finish_records_a_499() {
    let db = temp_db();
    let g = gateway(&db, true);
    let ctx = served(&g);
    let id = ctx.ids.gateway.clone();
    drop(ctx);
    let rec = record(&g, &id).await;
    assert_eq!((rec.status, rec.outcome.as_str()), (499, "cancelled"));
    assert_eq!(rec.attempts.len(), 1, "what the context knew is kept");
}

#[tokio::test]
async fn without_a_decision_log_no_record_work_is_done() {
    let db = temp_db();
    let g = gateway(&db, false);
    let mut ctx = served(&g);
    assert!(ctx.log.is_none());
    let resp = finish(
        &mut ctx,
        Ok(Reply::Json(
            Bytes::from_static(b"{}"),
            signalbox_core::WireFormat::OpenAi,
        )),
    );
    assert_eq!(header(&resp, "x-signalbox-route"), "r");
}
