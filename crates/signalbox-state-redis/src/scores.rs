//! Quality scores shared through Redis: one hash per window,
//! `{prefix}qscores:{window start}`, with three counters per replica and
//! row — `p|{replica}|{row}` (passed), `s|…` (scored), `n|…` (runs), the
//! row being the JSON array `[route, model version, prompt version, suite,
//! scorer]` — indexed by the set `{prefix}qscores`. Each hash expires
//! [`RETAIN_WINDOWS`] + 1 windows after its window began, so the history
//! keeps itself short without a sweeper.
//!
//! Writes are queued by the synchronous `add` and sent by a background
//! task (one atomic pipeline of `HINCRBY`s per run), so a quality run
//! never waits on Redis; a write that fails is dropped, counted
//! ([`RedisScores::failures`]) and warned about (rate limited): the
//! replica's own decision log still has the run. Reads (for operators)
//! run one script over the index and add up the replicas' counters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::Script;
use signalbox_state::{
    BoxFuture, RETAIN_WINDOWS, ScoreKey, ScoreStore, ScoreTally, StateError, unix_ms,
};
use tokio::sync::mpsc;

use crate::RedisConn;

/// KEYS: the index. ARGV: the window keys' prefix. Returns `{window,
/// field, value, …}` for every live window, dropping expired members.
const READ: &str = r"
local out = {}
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HGETALL', ARGV[1] .. w)
  if #h == 0 then
    redis.call('SREM', KEYS[1], w)
  end
  for i = 1, #h, 2 do
    table.insert(out, w)
    table.insert(out, h[i])
    table.insert(out, h[i + 1])
  end
end
return out
";

/// One run's tallies, waiting to be written.
type Batch = (u64, Vec<(ScoreKey, ScoreTally)>);

/// The Redis quality-score store (see the module docs).
#[derive(Debug)]
pub struct RedisScores {
    conn: RedisConn,
    read: Script,
    writes: mpsc::UnboundedSender<Batch>,
    failures: Arc<AtomicU64>,
}

impl RedisScores {
    /// A store on `conn`; spawns its writer task (ends when the store is
    /// dropped). Must run inside a Tokio runtime.
    pub fn new(conn: RedisConn) -> Result<Self, StateError> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| StateError("redis quality scores: no Tokio runtime".into()))?;
        let failures = Arc::new(AtomicU64::new(0));
        let (writes, rx) = mpsc::unbounded_channel();
        rt.spawn(write_loop(conn.clone(), rx, Arc::clone(&failures)));
        Ok(Self {
            conn,
            read: Script::new(READ),
            writes,
            failures,
        })
    }

    /// Writes that failed since the store was made (Redis unreachable).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

async fn write_loop(
    conn: RedisConn,
    mut rx: mpsc::UnboundedReceiver<Batch>,
    failures: Arc<AtomicU64>,
) {
    let warning = crate::FailOpenWarning::new(
        "Quality scores not shared through redis; this replica's decision log keeps them.",
    );
    while let Some((window_secs, rows)) = rx.recv().await {
        if let Err(e) = write(&conn, window_secs, rows).await {
            failures.fetch_add(1, Ordering::Relaxed);
            warning.warn(&e);
        }
    }
}

async fn write(
    conn: &RedisConn,
    window_secs: u64,
    rows: Vec<(ScoreKey, ScoreTally)>,
) -> Result<(), StateError> {
    let window = window_secs.max(1);
    let index = conn.key("qscores");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (key, tally) in rows {
        let key = key.aligned(window);
        let expires_ms = key
            .window_start
            .saturating_add(window.saturating_mul(RETAIN_WINDOWS + 1))
            .saturating_mul(1000);
        if expires_ms <= unix_ms() {
            continue;
        }
        let hash = conn.key(&format!("qscores:{}", key.window_start));
        let row = serde_json::to_string(&[
            &key.route,
            &key.model_version,
            &key.prompt_version,
            &key.suite,
            &key.scorer,
        ])
        .map_err(|e| StateError(format!("quality score: {e}")))?;
        for replica in &tally.replicas {
            for (counter, n) in [("p", tally.passed), ("s", tally.scored), ("n", tally.runs)] {
                pipe.cmd("HINCRBY")
                    .arg(&hash)
                    .arg(format!("{counter}|{replica}|{row}"))
                    .arg(n)
                    .ignore();
            }
        }
        pipe.cmd("PEXPIREAT").arg(&hash).arg(expires_ms).ignore();
        pipe.cmd("SADD").arg(&index).arg(key.window_start).ignore();
    }
    conn.pipe(&pipe).await
}

/// The rows of `flat` (window, field, value triples), added up over replicas.
fn rows(flat: &[String]) -> Vec<(ScoreKey, ScoreTally)> {
    let mut out: BTreeMap<ScoreKey, ScoreTally> = BTreeMap::new();
    for triple in flat.chunks_exact(3) {
        let [window, field, value] = triple else {
            continue;
        };
        let mut parts = field.splitn(3, '|');
        let (Some(counter), Some(replica), Some(row)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(window_start), Ok(replica), Ok(n)) = (
            window.parse::<u64>(),
            replica.parse::<u64>(),
            value.parse::<u64>(),
        ) else {
            continue;
        };
        let Ok([route, model_version, prompt_version, suite, scorer]) =
            serde_json::from_str::<[String; 5]>(row)
        else {
            continue;
        };
        let key = ScoreKey {
            window_start,
            route,
            model_version,
            prompt_version,
            suite,
            scorer,
        };
        let mut one = ScoreTally {
            replicas: vec![replica],
            ..ScoreTally::default()
        };
        match counter {
            "p" => one.passed = n,
            "s" => one.scored = n,
            "n" => one.runs = n,
            _ => continue,
        }
        out.entry(key).or_default().merge(&one);
    }
    out.into_iter().collect()
}

impl ScoreStore for RedisScores {
    fn add(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>) {
        let _ = self.writes.send((window_secs, rows));
    }

    fn restore(&self, _window_secs: u64, _rows: Vec<(ScoreKey, ScoreTally)>) {
        // Redis kept these runs itself (they were written when they ran).
    }

    fn rows(&self) -> BoxFuture<'_, Result<Vec<(ScoreKey, ScoreTally)>, StateError>> {
        Box::pin(async move {
            let mut inv = self.read.key(self.conn.key("qscores"));
            inv.arg(self.conn.key("qscores:"));
            let flat: Vec<String> = self.conn.script(&inv).await?;
            Ok(rows(&flat))
        })
    }
}
