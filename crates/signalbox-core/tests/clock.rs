//! The wall clock across runtimes, in a process of its own (the clock's
//! state is process-wide): a paused test runtime that advanced its clock
//! must not freeze the wall time every other thread sees.

use std::time::Duration;

use signalbox_core::clock::unix_ms;

#[test]
fn an_advanced_paused_runtime_does_not_freeze_the_wall_clock_elsewhere() {
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // The process's first read of the wall clock, an hour into a paused
    // runtime's time.
    paused.block_on(async {
        tokio::time::advance(Duration::from_secs(3600)).await;
        unix_ms()
    });
    // Outside that runtime, time is the system's and it moves.
    let t0 = unix_ms();
    std::thread::sleep(Duration::from_millis(200));
    let t1 = unix_ms();
    assert!(t1 >= t0 + 150, "the wall clock stood still: {t0} → {t1}");
}
