//! Owns the process-wide cap on open client connections, its rate-limited
//! warning, and the open-file limit it is derived from.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::Counter;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use signalbox_state::RateLimitedWarn;

/// Open client connections of the whole process (every serving worker
/// shares one), and the most allowed.
#[derive(Debug)]
pub(crate) struct ConnLimit {
    open: AtomicUsize,
    max: usize,
    refused: Counter,
    warned: RateLimitedWarn,
}

impl ConnLimit {
    /// A cap of `max` connections (`None`: [`default_max_connections`]);
    /// refusals are counted in `refused`.
    pub(crate) fn new(max: Option<usize>, refused: Counter) -> Self {
        Self {
            open: AtomicUsize::new(0),
            max: max.unwrap_or_else(default_max_connections).max(1),
            refused,
            warned: RateLimitedWarn::default(),
        }
    }

    /// The cap.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Takes a slot for a new connection, or counts the refusal (and warns,
    /// at most every [`signalbox_state::WARN_EVERY`]) when every slot is taken.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<ConnPermit> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.refused.increment(1);
            if let Some(refused) = self.warned.due() {
                tracing::warn!(
                    limit = self.max,
                    refused,
                    "Connection limit reached (server.max-connections); closing new connections."
                );
            }
            return None;
        }
        Some(ConnPermit(self.clone()))
    }
}

/// One admitted connection's slot, given back on drop.
#[derive(Debug)]
pub(crate) struct ConnPermit(Arc<ConnLimit>);

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The default cap: half the soft open-file limit, so that each client
/// connection can have an upstream connection beside it and the decision
/// log, listeners and pools still find descriptors.
pub(crate) fn default_max_connections() -> usize {
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    usize::try_from(soft / 2).unwrap_or(usize::MAX).max(1)
}

/// The open-file limit before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit found (`None`: unlimited).
    pub before: Option<u64>,
    /// The soft limit now.
    pub after: Option<u64>,
}

/// Raises the process's soft `RLIMIT_NOFILE` to its hard limit, as nginx
/// (`worker_rlimit_nofile`) and Envoy's deployments do: the soft limit is
/// often 1,024, which a few hundred slow clients exhaust.
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    // An unlimited hard limit cannot be the soft one (Linux refuses it).
    if let (Some(current), Some(maximum)) = (before, limit.maximum)
        && current < maximum
    {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            },
        )?;
    }
    Ok(OpenFileLimit {
        before,
        after: getrlimit(Resource::Nofile).current,
    })
}
