//! Owns the writer thread's CPU priority: set once at start, raised to
//! normal while the queue backs up, and lowered again once the load is
//! light (the queue empty after a small batch).

use super::{BEHIND, SMALL_BATCH, WriterPriority};

/// Raises the writer to normal priority while it is behind ([`BEHIND`]
/// records in one batch) and lowers it back once the queue is empty after
/// a small batch, so an idle-priority writer keeps every record on a
/// saturated machine and still never competes with requests on a quiet one.
///
/// Why not lower as soon as the queue is empty: a raised writer catches up
/// within a batch or two, and on a saturated CPU a writer back at idle
/// priority gets almost no CPU, so the queue filled up again and records
/// dropped (13–27 % at the gateway's maximum). A small batch (the writer
/// lingered and still found fewer than [`SMALL_BATCH`]) means the arrival
/// rate itself is low: that, not an empty queue, is the moment to yield.
pub(super) struct Boost {
    configured: WriterPriority,
    pub(super) raised: bool,
    pub(super) refused: bool,
    /// Whether the last batch was small (a light load).
    light: bool,
}

impl Boost {
    pub(super) fn new(configured: WriterPriority) -> Self {
        Self {
            configured,
            raised: false,
            refused: false,
            light: true,
        }
    }

    /// Notes a batch of `len` records about to be written: raises the
    /// priority when it shows the writer is behind.
    pub(super) fn batch(&mut self, len: usize) {
        self.light = len < SMALL_BATCH;
        if len >= BEHIND {
            self.raise();
        }
    }

    /// The queue is empty: lowers the priority if the load is light.
    pub(super) fn caught_up(&mut self) {
        if self.light {
            self.lower();
        }
    }

    pub(super) fn raise(&mut self) {
        if self.raised || self.refused || self.configured == WriterPriority::Normal {
            return;
        }
        match set_priority(WriterPriority::Normal) {
            Ok(()) => self.raised = true,
            Err(error) => {
                self.refused = true;
                tracing::warn!(
                    %error,
                    "Decision log writer is behind but cannot raise its priority; records may drop. Run with CAP_SYS_NICE or LimitNICE=20, or set decision-log.priority: normal."
                );
            }
        }
    }

    pub(super) fn lower(&mut self) {
        if !self.raised {
            return;
        }
        self.raised = false;
        if let Err(error) = set_priority(self.configured) {
            tracing::warn!(%error, "Decision log writer keeps normal priority.");
        }
    }
}

/// Gives this thread its CPU priority (Linux: per thread), so that request
/// handling is not queued behind batch commits (at nice 10 they still
/// showed as +1 ms at p99 on two cores; at `SCHED_IDLE` they do not).
/// Lowering a thread's own priority needs no privilege. Best effort.
pub(super) fn set_priority(priority: WriterPriority) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let normal = |policy, nice| {
            set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Min,
                ThreadSchedulePolicy::Normal(policy),
            )
            .map_err(|e| format!("{e:?}"))?;
            rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
                .map_err(|e| e.to_string())
        };
        match priority {
            WriterPriority::Idle => normal(NormalThreadSchedulePolicy::Idle, 0),
            WriterPriority::Low => normal(NormalThreadSchedulePolicy::Other, 10),
            WriterPriority::Normal => normal(NormalThreadSchedulePolicy::Other, 0),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = priority;
        Ok(())
    }
}
