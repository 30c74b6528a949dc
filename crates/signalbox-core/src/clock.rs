//! Owns the gateway's one wall clock. Durations and deadlines use
//! `tokio::time::Instant` (so tests can pause and advance them);
//! `std::time::Instant::now` and `SystemTime::now` are banned in
//! `clippy.toml` and this module is the one place that reads the system's
//! wall clock.
//!
//! The wall time it answers is the tokio clock plus an offset: under a
//! paused test clock, advancing tokio time advances the wall time with it
//! (a shared breaker's `open_until`, a budget's month, a record's
//! timestamp all follow), and in production it is the system time. When
//! the system clock runs ahead of that sum by more than [`RESYNC`] (the
//! host was suspended, or NTP stepped it forward) the offset catches up;
//! it never moves back, so the answer never decreases.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// How far the system clock may run ahead before the offset follows it.
pub const RESYNC: Duration = Duration::from_secs(1);

/// The tokio instant the offset counts from.
static BASE: OnceLock<Instant> = OnceLock::new();
/// Wall-clock nanoseconds since the epoch at `BASE` (0: not yet read).
static OFFSET_NS: AtomicU64 = AtomicU64::new(0);

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

fn unix_ns() -> u64 {
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
