//! Owns the gateway's one wall clock. Durations and deadlines use
//! `tokio::time::Instant` (so tests can pause and advance them);
//! `std::time::Instant::now` and `SystemTime::now` are banned in
//! `clippy.toml` and this module is the one place that reads the system's
//! wall clock.
//!
//! A normal build answers the system time, read each time: SigV4
//! signatures, breaker deadlines shared between replicas, budget months
//! and record times need the real time, whatever NTP or a suspend did to
//! it. Test builds enable the `test-clock` feature (through
//! dev-dependencies, never in `cargo build`): the wall time is then the
//! system's, mapped onto the real monotonic clock, plus how far the calling
//! runtime's tokio clock is from the real one, so under a paused test clock
//! advancing tokio time advances the wall time with it (a shared breaker's
//! `open_until`, a budget's month, a record's timestamp), in that runtime
//! only. The mapping is checked against the system clock on every read and
//! follows it when they disagree by more than [`RESYNC`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far the system clock may drift from the mapping before it follows.
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

    use super::{RESYNC, nanos, system_ns};

    /// The real monotonic instant the mapping counts from.
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    /// Wall-clock nanoseconds since the epoch at `ORIGIN` (0: not yet read).
    static OFFSET_NS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn unix_ns() -> u64 {
        let origin = *ORIGIN.get_or_init(real_now);
        let real = nanos(real_now().saturating_duration_since(origin));
        let system = system_ns();
        let mut offset = OFFSET_NS.load(Ordering::Relaxed);
        if offset == 0 || system.abs_diff(offset.saturating_add(real)) > nanos(RESYNC) {
            // First read, suspend, or a stepped clock: follow the system.
            offset = system.saturating_sub(real);
            OFFSET_NS.store(offset, Ordering::Relaxed);
        }
        // The calling runtime's clock (the real one unless paused), which may
        // be before the origin (a runtime created earlier).
        let tokio = tokio::time::Instant::now().into_std();
        match tokio.checked_duration_since(origin) {
            Some(after) => offset.saturating_add(nanos(after)),
            None => offset.saturating_sub(nanos(origin.saturating_duration_since(tokio))),
        }
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the real monotonic clock, to check the mapping by (never paused)"
    )]
    fn real_now() -> std::time::Instant {
        std::time::Instant::now()
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
