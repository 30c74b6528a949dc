//! Builders for hand-made fact sets in the checkers' tests.

use std::time::Duration;

use signalbox_config::{ContentFilter, Retention};
use signalbox_core::DecisionRecord;
use signalbox_mock::CallOutcome;

use crate::facts::{Answer, BodyFacts, RequestFact, RouteFact, StreamFacts, UpstreamCall};

/// A request answered 200 with a whole JSON completion, served by `route`.
pub(crate) fn ok(id: &str, route: &str) -> RequestFact {
    RequestFact {
        id: id.to_owned(),
        sent_at: Duration::from_millis(10),
        head_after: Some(Duration::from_millis(5)),
        elapsed: Duration::from_millis(5),
        tenant: "default".to_owned(),
        answer: Answer {
            status: Some(200),
            route: Some(route.to_owned()),
            attempts: Some(1),
            body: BodyFacts {
                completion: true,
                ..BodyFacts::default()
            },
            ..Answer::default()
        },
        ..RequestFact::default()
    }
}

/// A streamed request whose stream ended as `stream` says.
pub(crate) fn streamed(id: &str, route: &str, stream: StreamFacts) -> RequestFact {
    let mut r = ok(id, route);
    r.stream = true;
    r.answer.body = BodyFacts {
        stream: Some(stream),
        ..BodyFacts::default()
    };
    r
}

/// A whole stream.
pub(crate) fn whole_stream() -> StreamFacts {
    StreamFacts {
        events: 5,
        done: true,
        finished: true,
        ..StreamFacts::default()
    }
}

/// A request answered with an OpenAI-shaped error.
pub(crate) fn error(id: &str, status: u16) -> RequestFact {
    let mut r = ok(id, "");
    r.answer.status = Some(status);
    r.answer.route = None;
    r.answer.body = BodyFacts {
        error_shape: true,
        ..BodyFacts::default()
    };
    r
}

/// A call on `upstream` at `ms` for `id`.
pub(crate) fn call(upstream: &str, ms: u64, id: &str, outcome: CallOutcome) -> UpstreamCall {
    UpstreamCall {
        upstream: upstream.to_owned(),
        at: Duration::from_millis(ms),
        request_id: Some(id.to_owned()),
        outcome,
    }
}

/// A route in `region` on the mock of the same name.
pub(crate) fn route(id: &str, region: &str) -> RouteFact {
    RouteFact {
        id: id.to_owned(),
        region: region.to_owned(),
        retention: Retention::default(),
        content_filter: ContentFilter::default(),
        upstream: Some(id.to_owned()),
        open_for: Duration::from_secs(1),
    }
}

/// A served record with these attempts (route, outcome label).
pub(crate) fn record(
    id: &str,
    attempts: &[(&str, signalbox_core::OutcomeClass)],
) -> DecisionRecord {
    use signalbox_core::{AttemptRecord, ProviderName, RouteId};
    DecisionRecord {
        request_id: format!("gw-{id}"),
        caller_request_id: Some(id.to_owned()),
        tenant: "default".to_owned(),
        outcome: "served".to_owned(),
        status: 200,
        chosen: attempts.last().map(|(r, _)| (*r).to_owned()),
        ranking: attempts.iter().map(|(r, _)| (*r).to_owned()).collect(),
        attempts: attempts
            .iter()
            .map(|(r, o)| AttemptRecord {
                route: RouteId::from(*r),
                provider: ProviderName::from(*r),
                outcome: *o,
                status: None,
                elapsed: Duration::from_millis(1),
                sent_after: Duration::ZERO,
                detail: String::new(),
                retry_after_secs: None,
                provider_error: None,
            })
            .collect(),
        ..DecisionRecord::default()
    }
}
