//! Owns the writer thread's CPU priority: set once at start, raised a
//! little above request handling while the queue backs up (by the writer
//! or by the sender that puts it behind), and lowered again once the load
//! is light (the queue empty after a small batch).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{BEHIND, SMALL_BATCH, WriterPriority};

/// The writer thread's priority as the writer and the senders share it:
/// raised while the writer is behind, lowered once the load is light.
///
/// Why the senders can raise it too: at `SCHED_IDLE` on a CPU saturated by
/// request handling, the writer barely runs, so it noticed its own backlog
/// late (the queue was full by then: records dropped at the gateway's
/// maximum). The sender whose record makes [`BEHIND`] wait raises the
/// writer at once: one pair of syscalls per saturation episode.
#[derive(Debug)]
pub(super) struct Lever {
    configured: WriterPriority,
    /// The writer's thread, once it has started (Linux).
    #[cfg(target_os = "linux")]
    thread: std::sync::OnceLock<(thread_priority::ThreadId, rustix::process::Pid)>,
    pub(super) raised: AtomicBool,
    pub(super) refused: AtomicBool,
}

impl Lever {
    pub(super) fn new(configured: WriterPriority) -> Self {
        Self {
            configured,
            #[cfg(target_os = "linux")]
            thread: std::sync::OnceLock::new(),
            raised: AtomicBool::new(false),
            refused: AtomicBool::new(false),
        }
    }

    /// Called on the writer thread as it starts: notes the thread and gives
    /// it its configured priority.
    pub(super) fn started(&self) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        {
            let me = (
                thread_priority::thread_native_id(),
                rustix::thread::gettid(),
            );
            let _ = self.thread.set(me);
        }
        self.apply(Level::Configured)
    }

    /// Raises the writer (from any thread); once per episode.
    pub(super) fn raise(&self) {
        if self.configured == WriterPriority::Normal
            || self.refused.load(Ordering::Relaxed)
            || self.raised.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if let Err(error) = self.apply(Level::Boosted) {
            self.refused.store(true, Ordering::Relaxed);
            self.raised.store(false, Ordering::Release);
            tracing::warn!(
                %error,
                "Decision log writer is behind but cannot raise its priority; records may drop. Run with CAP_SYS_NICE or LimitNICE=20, or set decision-log.priority: normal."
            );
        }
    }

    /// Lowers the writer back to its configured priority.
    pub(super) fn lower(&self) {
        if !self.raised.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Err(error) = self.apply(Level::Configured) {
            tracing::warn!(%error, "Decision log writer keeps its raised priority.");
        }
    }

    fn apply(&self, level: Level) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        {
            let Some(&(thread, pid)) = self.thread.get() else {
                return Ok(()); // not started yet: it starts at its own
            };
            match level {
                Level::Configured => set_priority(thread, pid, self.configured),
                Level::Boosted => set_boosted(thread, pid),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = level;
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Level {
    Configured,
    Boosted,
}

/// The writer's side of the [`Lever`]: raises it when a batch shows the
/// writer is behind, and lowers it once the queue is empty after a small
/// batch. Why not lower as soon as the queue is empty: a raised writer
/// catches up within a batch or two, and on a saturated CPU a writer back
/// at idle priority gets almost no CPU, so the queue filled up again. A
/// small batch (the writer lingered and still found fewer than
/// [`SMALL_BATCH`]) means the arrival rate itself is low: that, not an
/// empty queue, is the moment to yield.
pub(super) struct Boost {
    lever: Arc<Lever>,
    /// Whether the last batch was small (a light load).
    light: bool,
}

impl Boost {
    pub(super) fn new(lever: Arc<Lever>) -> Self {
        Self { lever, light: true }
    }

    /// Notes a batch of `len` records about to be written: raises the
    /// priority when it shows the writer is behind.
    pub(super) fn batch(&mut self, len: usize) {
        self.light = len < SMALL_BATCH;
        if len >= BEHIND {
            self.lever.raise();
        }
    }

    /// The queue is empty: lowers the priority if the load is light.
    pub(super) fn caught_up(&mut self) {
        if self.light {
            self.lever.lower();
        }
    }
}

/// While behind, the writer runs a little above request handling (nice
/// −5; plain normal priority where that is not allowed): at equal
/// priority, on a CPU saturated by request handling, its fair share was
/// less than the records arriving needed (38,000 a second on two cores)
/// and the queue still overflowed. Above it, the writer takes the CPU it
/// needs and request handling slows by that much: the records are kept,
/// the maximum throughput pays for them.
#[cfg(target_os = "linux")]
fn set_boosted(thread: thread_priority::ThreadId, pid: rustix::process::Pid) -> Result<(), String> {
    let above = set_priority(thread, pid, WriterPriority::Normal).and_then(|()| {
        rustix::process::setpriority_process(Some(pid), -5).map_err(|e| e.to_string())
    });
    above.or_else(|_| set_priority(thread, pid, WriterPriority::Normal))
}

/// Gives the writer thread its CPU priority (Linux: per thread), so that
/// request handling is not queued behind batch commits (at nice 10 they
/// still showed as +1 ms at p99 on two cores; at `SCHED_IDLE` they do
/// not). Lowering a priority needs no privilege. Best effort.
#[cfg(target_os = "linux")]
fn set_priority(
    thread: thread_priority::ThreadId,
    pid: rustix::process::Pid,
    priority: WriterPriority,
) -> Result<(), String> {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy,
    };
    let normal = |policy, nice| {
        set_thread_priority_and_policy(
            thread,
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(policy),
        )
        .map_err(|e| format!("{e:?}"))?;
        rustix::process::setpriority_process(Some(pid), nice).map_err(|e| e.to_string())
    };
    match priority {
        WriterPriority::Idle => normal(NormalThreadSchedulePolicy::Idle, 0),
        WriterPriority::Low => normal(NormalThreadSchedulePolicy::Other, 10),
        WriterPriority::Normal => normal(NormalThreadSchedulePolicy::Other, 0),
    }
}
