//! Owns the gateway's one wall clock. Durations and deadlines use
//! `tokio::time::Instant` (so tests can pause and advance them);
//! `std::time::Instant::now` and `SystemTime::now` are banned in
//! `clippy.toml` and this module is the one place that reads the system's
//! wall clock.
//!
//! In a normal build the wall time is the system's, read each time: SigV4
//! signatures, breaker expiry shared across replicas, budget months and
//! record times all need the real time, whatever NTP or a suspend did to
//! it. With the `test-clock` feature (enabled by the workspace's test
//! builds through dev-dependencies, never by `cargo build`) it is the tokio
//! clock plus an offset instead, so under a paused test clock advancing
//! tokio time advances the wall time with it; when the system clock runs
//! ahead of that sum by more than [`RESYNC`] the offset catches up, and it
//! never moves back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far the system clock may run ahead before the offset follows it
/// (`test-clock`).
pub const RESYNC: Duration = Duration::from_secs(1);

/// Now, as wall-clock time.
pub fn system_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_ns())
}

/// Now, in milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    unix_ns() / 1_000_000
}

/// Now, in whole seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    unix_ns() / 1_000_000_000
}

#[cfg(not(any(test, feature = "test-clock")))]
fn unix_ns() -> u64 {
    system_ns()
}

#[cfg(any(test, feature = "test-clock"))]
use pausable::unix_ns;

/// The wall clock that follows a paused tokio clock (`test-clock`).
#[cfg(any(test, feature = "test-clock"))]
mod pausable {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::time::Instant;

    use super::{RESYNC, nanos, system_ns};

    /// The tokio instant the offset counts from.
    static BASE: OnceLock<Instant> = OnceLock::new();
    /// Wall-clock nanoseconds since the epoch at `BASE` (0: not yet read).
    static OFFSET_NS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn unix_ns() -> u64 {
        let base = *BASE.get_or_init(Instant::now);
        let since_base = nanos(Instant::now().saturating_duration_since(base));
        let ours = OFFSET_NS.load(Ordering::Relaxed).saturating_add(since_base);
        let system = system_ns();
        if system > ours.saturating_add(nanos(RESYNC)) {
            // Behind the system clock (first read, suspend, NTP step): follow it.
            OFFSET_NS.fetch_max(system - since_base, Ordering::Relaxed);
            return system;
        }
        ours
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[expect(
    clippy::disallowed_methods,
    reason = "the one read of the system's wall clock"
)]
fn system_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(clippy::disallowed_methods, reason = "the reference to compare with")]
    fn system() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, nanos)
            / 1_000_000
    }

    #[test]
    fn follows_the_system_clock() {
        let (before, ours, after) = (system(), unix_ms(), system());
        assert!(
            before.saturating_sub(RESYNC.as_millis() as u64) <= ours && ours <= after + 1,
            "{before} <= {ours} <= {after}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_moves_the_wall_time_and_it_never_goes_back() {
        let start = unix_ms();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let later = unix_ms();
        assert!(later >= start + 3_600_000, "{start} → {later}");
        assert!(unix_ms() >= later, "monotone");
        assert!(unix_secs() >= later / 1000);
    }
}
