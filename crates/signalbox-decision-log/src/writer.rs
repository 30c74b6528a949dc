//! The write side: a cheap handle whose `record` never blocks, feeding one
//! background thread that batches records into SQLite transactions and
//! keeps the running totals (`totals.rs`: folded every so often, at open
//! and at stop, read back after a rollback, a purge of their tail or
//! another writer's batch).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use tokio::time::Instant;

use rusqlite::{Connection, TransactionBehavior};
use signalbox_core::DecisionRecord;
use tokio::sync::oneshot;

use crate::store::Store;
use crate::totals::Fold;
use crate::{LogError, LogReader, schema};

#[cfg(test)]
mod fold_tests;
mod priority;
#[cfg(test)]
mod tests;

use priority::{Boost, Lever};

/// The most records one transaction (one WAL append) takes. Large, because
/// a commit writes every index page the batch touched: the more records
/// share a page, the fewer bytes each costs.
const MAX_BATCH: usize = 8192;
/// Records waiting in one batch that mean the queue is backing up: the
/// writer then raises its priority until it has caught up (see [`Boost`]).
const BEHIND: usize = 1024;
/// Below this many records a batch lingers for more.
const SMALL_BATCH: usize = 128;

/// The records of one batch, boxed as they arrived on the queue: moved
/// by value, each (~1 KB) was copied into the batch and again into the
/// store, and the batch regrown, for every batch.
type Batch = Vec<Box<DecisionRecord>>;

/// How often, at most, the writer deletes expired records.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How often, at most, the writer warns that records were dropped.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);
/// How long the writer waits for more records before committing a small
/// batch (never when records are waiting). Records become visible to
/// readers about this late (a flush is answered at once). Why this long: a
/// commit costs the pages it touched whatever the batch's size; at 2,000
/// requests a second 20 ms cost ~13 µs of writer CPU per record, 100 ms ~9.
const LINGER: Duration = Duration::from_millis(100);
/// How often, at most, the writer compares the file with its size limit.
const SIZE_INTERVAL: Duration = Duration::from_secs(1);
/// How often, at most, a batch folds the pending running totals into the
/// table (`totals.rs`): long enough that a key repeats (one upsert stands
/// for several records), short enough that a whole-log reader's tail stays
/// about [`crate::totals::LAG_MS`] of traffic.
const FOLD_INTERVAL: Duration = Duration::from_secs(10);

/// How the decision log is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Records that may wait for the writer; past this `record` drops (min 1).
    pub queue: usize,
    /// How long records are kept; `Duration::ZERO` keeps them forever.
    pub retention: Duration,
    /// The most bytes the records may take; past it the oldest are
    /// deleted. `0`: no limit.
    pub max_bytes: u64,
    /// How the writer thread competes with request handling for CPU.
    pub priority: WriterPriority,
}

/// The writer thread's CPU priority (Linux; elsewhere the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterPriority {
    /// `SCHED_IDLE`: runs only on CPU that nothing else wants, and is
    /// preempted at once when a request handler wakes, so batch commits
    /// never sit in front of a request. When the queue backs up (a
    /// saturated CPU) the writer runs a little above request handling
    /// (nice −5, else normal) until the load is light again, so records
    /// are kept rather than dropped; that needs the
    /// right to raise a priority again (root, `CAP_SYS_NICE`, or
    /// `RLIMIT_NICE` ≥ 20), else records drop (counted) past the queue.
    #[default]
    Idle,
    /// Nice 10: a small share even on a busy CPU. Under a scheduler that
    /// lets a running thread finish its slice, a commit can delay a waking
    /// request handler by up to a slice (about a millisecond).
    Low,
    /// Unchanged: competes equally with request handling.
    Normal,
}

/// Counters since the log was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Records committed.
    pub written: u64,
    /// Records dropped because the queue was full (or the writer had stopped).
    pub dropped: u64,
    /// Records that reached the writer but could not be written.
    pub write_errors: u64,
}

/// A cheap, cloneable handle to the decision log. The writer thread stops
/// once every handle is dropped (after writing what was queued).
#[derive(Debug, Clone)]
pub struct DecisionLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// An unbounded channel bounded by `counters.queued`: a bounded
    /// (array) channel made senders spin on the slot the writer was
    /// reading whenever the queue ran full (9 % of the gateway's CPU at
    /// its maximum throughput); a list channel's send is one atomic step.
    tx: Sender<Msg>,
    /// Most records waiting for the writer.
    capacity: usize,
    counters: Arc<Counters>,
    /// The writer's priority, which the sender that puts it behind raises.
    lever: Arc<Lever>,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
    /// Records sent and not yet taken by the writer.
    queued: AtomicUsize,
}

/// What travels to the writer. Records are boxed so queue slots stay small.
enum Msg {
    Record(Box<DecisionRecord>),
    /// Built on the writer thread, so rendering costs nothing on the request path.
    Deferred(Box<dyn FnOnce() -> DecisionRecord + Send>),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Record(_) => "Record",
            Self::Deferred(_) => "Deferred",
            Self::Flush(_) => "Flush",
        })
    }
}

// === impl DecisionLog ===

impl DecisionLog {
    /// Opens or creates the database at `path` (WAL, `synchronous=NORMAL`,
    /// schema migrated), deletes expired records, and starts the writer thread.
    pub fn open(path: &Path, options: LogOptions) -> Result<Self, LogError> {
        let (log, writer) = Self::open_parked(path, options)?;
        writer.spawn()?;
        Ok(log)
    }

    /// Opens the database and the queue without starting the writer.
    fn open_parked(path: &Path, options: LogOptions) -> Result<(Self, Writer), LogError> {
        let LogOptions {
            queue,
            retention,
            max_bytes,
            priority,
        } = options;
        let conn = schema::open_writer(path)?;
        let store = Store::load(&conn).map_err(|source| LogError::Open {
            path: path.to_owned(),
            source,
        })?;
        // Expired records go before anything new is accepted.
        let mut writer_state = WriterState {
            conn,
            store,
            counters: Arc::default(),
            retention,
            max_bytes,
            last_fold: Instant::now(),
        };
        // The rows a writer that stopped without folding left in the tail
        // (a crash) go into the totals before anything new.
        writer_state.fold_all();
        writer_state.purge();
        writer_state.trim();
        // A zero-capacity channel would be a rendezvous, where `try_send`
        // fails unless the writer happens to be waiting.
        let (tx, rx) = std::sync::mpsc::channel();
        let lever = Arc::new(Lever::new(priority));
        let log = Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                tx,
                capacity: queue.max(1),
                counters: Arc::clone(&writer_state.counters),
                lever: Arc::clone(&lever),
            }),
        };
        Ok((
            log,
            Writer {
                state: writer_state,
                rx,
                priority,
                lever,
            },
        ))
    }

    /// Queues a record for writing without blocking. When the queue is full
    /// (or the writer has stopped) the record is dropped, counted in
    /// [`LogStats::dropped`], and `false` is returned.
    pub fn record(&self, record: DecisionRecord) -> bool {
        self.enqueue(Msg::Record(Box::new(record)))
    }

    /// Like [`DecisionLog::record`], but the record is built by `make` on the
    /// writer thread. The gateway uses this so that rendering the evidence
    /// (verdict strings for every route and rule) stays off the request path.
    pub fn record_with(&self, make: impl FnOnce() -> DecisionRecord + Send + 'static) -> bool {
        self.enqueue(Msg::Deferred(Box::new(make)))
    }

    /// Sends a record's message unless `capacity` are already waiting (or
    /// the writer stopped): then it is dropped and counted.
    fn enqueue(&self, msg: Msg) -> bool {
        let inner = &self.inner;
        let c = &inner.counters;
        let waiting = c.queued.fetch_add(1, Ordering::Relaxed);
        if waiting >= inner.capacity || inner.tx.send(msg).is_err() {
            c.queued.fetch_sub(1, Ordering::Relaxed);
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if waiting == BEHIND {
            inner.lever.raise();
        }
        true
    }

    /// Keeps the summary of the configuration `version` (once per version).
    pub async fn config_version(&self, version: &str, summary: &str) -> Result<(), LogError> {
        let (path, version, summary) = (
            self.inner.path.clone(),
            version.to_owned(),
            summary.to_owned(),
        );
        let now = signalbox_core::clock::unix_ms();
        tokio::task::spawn_blocking(move || crate::versions::store(&path, &version, now, &summary))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// [`DecisionLog::config_version`] for synchronous start-up code.
    pub fn config_version_now(&self, version: &str, summary: &str) -> Result<(), LogError> {
        let now = signalbox_core::clock::unix_ms();
        crate::versions::store(&self.inner.path, version, now, summary)
    }

    /// Appends an admin call to the audit table, at once (never dropped).
    pub async fn audit(&self, entry: crate::AuditEntry) -> Result<(), LogError> {
        crate::audit::append(self.inner.path.clone(), entry).await
    }

    /// Resolves once every record queued before this call has been committed
    /// (or has failed to be). Returns at once if the writer has stopped.
    pub async fn flush(&self) {
        let (done, committed) = oneshot::channel();
        // The marker queues behind the records already waiting (it is not
        // one of them, so the bound does not apply).
        if self.inner.tx.send(Msg::Flush(done)).is_err() {
            return;
        }
        // An error means the writer stopped; nothing more will be committed.
        let _ = committed.await;
    }

    /// Counters since the log was opened.
    pub fn stats(&self) -> LogStats {
        let c = &self.inner.counters;
        LogStats {
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A reader on the same database.
    pub fn reader(&self) -> Result<LogReader, LogError> {
        LogReader::open(&self.inner.path)
    }
}

// === impl Writer ===

/// The writer, before its thread starts.
struct Writer {
    state: WriterState,
    rx: Receiver<Msg>,
    priority: WriterPriority,
    lever: Arc<Lever>,
}

/// What the writer thread owns.
struct WriterState {
    conn: Connection,
    /// Encodes records into rows; knows the stored combinations and shapes.
    store: Store,
    counters: Arc<Counters>,
    retention: Duration,
    max_bytes: u64,
    /// When pending running totals were last folded.
    last_fold: Instant,
}

impl Writer {
    fn spawn(self) -> Result<(), LogError> {
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || {
                if let Err(error) = self.lever.started() {
                    tracing::warn!(%error, priority = ?self.priority, "Decision log writer keeps the default priority.");
                }
                self.run()
            })
            .map(drop)
            .map_err(LogError::Spawn)
    }

    /// Batches until every handle is gone: block for one message, take
    /// what is waiting (up to [`MAX_BATCH`]; a small batch lingers briefly
    /// for more), write them in one transaction, then answer the flushes
    /// among them. Purges by age at most once per [`PURGE_INTERVAL`] and
    /// by size at most once per [`SIZE_INTERVAL`]. A batch folds the
    /// pending running totals at most once per [`FOLD_INTERVAL`]; the
    /// writer folds all of them when it stops (`totals.rs`).
    fn run(mut self) {
        let mut last_purge = Instant::now();
        let mut last_size = Instant::now();
        let mut drops = DropWarning::default();
        let mut boost = Boost::new(Arc::clone(&self.lever));
        let mut records = Vec::with_capacity(SMALL_BATCH);
        let mut flushes = Vec::new();
        loop {
            let idle = PURGE_INTERVAL.saturating_sub(last_purge.elapsed());
            let mut disconnected = false;
            // The queue is empty: after a small batch (a light load) the
            // writer goes back to its own priority before it waits.
            let next = match self.rx.try_recv() {
                Ok(msg) => Ok(msg),
                Err(TryRecvError::Empty) => {
                    boost.caught_up();
                    self.rx.recv_timeout(idle)
                }
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(first) => {
                    sort(first, &self.state.counters, &mut records, &mut flushes);
                    disconnected = self.take_waiting(&mut records, &mut flushes);
                    // A small batch lingers so that a trickle shares one
                    // transaction: a commit costs far more than an insert.
                    // The writer sleeps rather than waiting on the channel,
                    // so senders never pay for waking it. Never when records
                    // are waiting or a flush is asked for.
                    if records.len() < SMALL_BATCH && flushes.is_empty() && !disconnected {
                        std::thread::sleep(LINGER);
                        disconnected = self.take_waiting(&mut records, &mut flushes);
                    }
                    boost.batch(records.len());
                    self.state.write(&mut records);
                    drops.check(&self.state.counters);
                    for done in flushes.drain(..) {
                        // The flusher may have given up waiting; that is fine.
                        let _ = done.send(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => disconnected = true,
            }
            if last_purge.elapsed() >= PURGE_INTERVAL {
                self.state.purge();
                last_purge = Instant::now();
            }
            if last_size.elapsed() >= SIZE_INTERVAL {
                self.state.trim();
                last_size = Instant::now();
            }
            if disconnected {
                break;
            }
        }
        self.state.fold_all();
        tracing::debug!("Decision log writer stopped.");
    }

    /// Moves waiting messages into the batch (records up to [`MAX_BATCH`]);
    /// `true` once every handle is gone.
    fn take_waiting(&self, records: &mut Batch, flushes: &mut Vec<oneshot::Sender<()>>) -> bool {
        while records.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(msg) => sort(msg, &self.state.counters, records, flushes),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }
}

/// Warns, at most every [`DROP_WARNING_INTERVAL`], when records were
/// dropped since the last warning (the counter is also a metric).
#[derive(Default)]
struct DropWarning {
    reported: u64,
    at: Option<Instant>,
}

impl DropWarning {
    fn check(&mut self, counters: &Counters) {
        let dropped = counters.dropped.load(Ordering::Relaxed);
        if dropped == self.reported || self.at.is_some_and(|t| t.elapsed() < DROP_WARNING_INTERVAL)
        {
            return;
        }
        tracing::warn!(
            dropped = dropped - self.reported,
            total = dropped,
            "Decision log queue was full: records dropped (the writer is behind; see decision-log.priority and decision-log.queue)."
        );
        self.reported = dropped;
        self.at = Some(Instant::now());
    }
}

/// Whether a batch folds the pending running totals, and which: every
/// [`FOLD_INTERVAL`] since `last_fold`, or at once when they grew too large.
fn fold_due(store: &Store, last_fold: Instant) -> Option<Fold> {
    let due = store.totals().due(signalbox_core::clock::unix_ms());
    (due == Fold::All || last_fold.elapsed() >= FOLD_INTERVAL).then_some(due)
}

/// Takes one message into the batch; a record leaves the queue's count.
fn sort(
    msg: Msg,
    counters: &Counters,
    records: &mut Batch,
    flushes: &mut Vec<oneshot::Sender<()>>,
) {
    match msg {
        Msg::Record(record) => records.push(record),
        Msg::Deferred(make) => records.push(Box::new(make())),
        Msg::Flush(done) => return flushes.push(done),
    }
    counters.queued.fetch_sub(1, Ordering::Relaxed);
}

impl WriterState {
    /// Writes one batch in one transaction, leaving `records` empty (its
    /// room kept for the next batch); counts, logs and moves on when a
    /// record or the whole batch fails. Each record is dropped right after
    /// its insert, while it is still in the cache.
    fn write(&mut self, records: &mut Batch) {
        if records.is_empty() {
            return;
        }
        let n = records.len();
        let result = self.try_write(records);
        // Emptied already unless the transaction could not begin.
        records.clear();
        match result {
            Ok((written, failed)) => {
                self.counters.written.fetch_add(written, Ordering::Relaxed);
                self.counters
                    .write_errors
                    .fetch_add(failed, Ordering::Relaxed);
            }
            Err(error) => {
                let lost = u64::try_from(n).unwrap_or(u64::MAX);
                self.counters
                    .write_errors
                    .fetch_add(lost, Ordering::Relaxed);
                tracing::error!(%error, records = lost, "Decision log batch could not be committed.");
                // Combinations and shapes the batch added are gone with it.
                if let Err(error) = self.store.reload(&self.conn) {
                    tracing::error!(%error, "Decision log state could not be read back.");
                }
            }
        }
    }

    fn try_write(&mut self, records: &mut Batch) -> rusqlite::Result<(u64, u64)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.store.begin_batch(&tx)?;
        let (mut written, mut failed) = (0, 0);
        let mut insert = Store::prepare_insert(&tx)?;
        for mut record in records.drain(..) {
            match self.store.insert(&tx, &mut insert, &mut record) {
                Ok(()) => written += 1,
                Err(error) => {
                    failed += 1;
                    tracing::warn!(%error, "Decision record could not be written.");
                }
            }
        }
        drop(insert);
        let fold = fold_due(&self.store, self.last_fold);
        self.store.finish_batch(&tx, fold)?;
        tx.commit()?;
        if fold.is_some() {
            self.last_fold = Instant::now();
        }
        Ok((written, failed))
    }

    /// Folds every pending running total, in its own transaction (opening
    /// and stopping); a failure is logged, the state read back from the
    /// file, and the rows left to the next fold.
    fn fold_all(&mut self) {
        if let Err(error) = self.try_fold_all() {
            tracing::warn!(%error, "Decision log running totals could not be folded.");
            if let Err(error) = self.store.reload(&self.conn) {
                tracing::error!(%error, "Decision log state could not be read back.");
            }
        }
    }

    fn try_fold_all(&mut self) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.store.begin_batch(&tx)?;
        self.store.finish_batch(&tx, Some(Fold::All))?;
        tx.commit()?;
        self.last_fold = Instant::now();
        Ok(())
    }

    /// Deletes the oldest records while the file is over its size limit; a
    /// failure is logged and retried next time.
    fn trim(&mut self) {
        match schema::trim_to_size(&self.conn, self.max_bytes) {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(
                deleted,
                max_bytes = self.max_bytes,
                "Oldest decision records deleted: the log reached its size limit."
            ),
            Err(error) => {
                tracing::warn!(%error, "Decision log could not be trimmed to its size limit.");
            }
        }
    }

    /// Deletes expired records; a failure is logged and retried next time.
    fn purge(&mut self) {
        match schema::purge(&self.conn, self.retention) {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "Expired decision records deleted."),
            Err(error) => {
                tracing::warn!(%error, "Expired decision records could not be deleted.");
            }
        }
    }
}

/// Test hooks: open the log with no writer running, then start it on demand.
#[cfg(test)]
mod parking;
