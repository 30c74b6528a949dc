//! Route gates in the attempt loop: a route at its rate or capacity is
//! skipped (without spending the retry budget), and a stream keeps its
//! capacity slot until it ends.

use signalbox_core::SkipKind;
use tokio::time::{Duration, Instant};

use super::{Fixture, drain};
use crate::Route;
use crate::StreamOutcome;
use crate::scripted::{Chunk, ROLE, STOP, Script, Scripted};

#[tokio::test(start_paused = true)]
async fn a_route_at_its_rate_is_skipped_and_the_next_serves() {
    let f = Fixture::shaped(
        vec![
            Scripted::new([Script::Json, Script::Json]),
            Scripted::new([Script::Json]),
        ],
        |i, r| Route {
            rate: (i == 0).then(|| signalbox_state::RateGate::new(1)),
            ..r
        },
    );
    assert_eq!(f.run(false).await.unwrap().route.get(), 0);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(served.skipped[0].kind, SkipKind::AtRate);
    assert_eq!(f.calls(0), 1);
}

#[tokio::test(start_paused = true)]
async fn a_full_route_is_skipped_after_the_queue_timeout() {
    let gate = signalbox_state::FairGate::new(1, 8);
    let f = Fixture::shaped(
        vec![Scripted::new([Script::Json]), Scripted::new([Script::Json])],
        |i, r| Route {
            gate: (i == 0).then(|| gate.clone()),
            ..r
        },
    );
    let held = gate
        .acquire("other", 1.0, Duration::from_secs(1))
        .await
        .unwrap();
    let t0 = Instant::now();
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(served.skipped[0].kind, SkipKind::AtCapacity);
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(1),
        "waited its queue timeout"
    );
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_its_route_slot_until_it_ends() {
    let gate = signalbox_state::FairGate::new(1, 8);
    let f = Fixture::shaped(
        vec![Scripted::new([Script::Stream(vec![
            Chunk::Data(ROLE),
            Chunk::Wait(Duration::from_secs(1)),
            Chunk::Data(STOP),
        ])])],
        |_, r| Route {
            gate: Some(gate.clone()),
            ..r
        },
    );
    let served = f.run(true).await.unwrap();
    assert_eq!(gate.usage(), (1, 0), "held while the stream runs");
    let (_, end) = drain(served).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(gate.usage(), (0, 0));
}
