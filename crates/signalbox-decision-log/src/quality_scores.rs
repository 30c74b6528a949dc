//! Owns the quality scores of the gateway's scheduled eval runs, in the
//! table `quality_scores` beside the decisions: one row per completed run
//! × model version × suite × scorer (the replica, the run's time, the
//! route, model and prompt versions, passed and scored answers), so a
//! restarted gateway gets back the history it kept in memory. Runs are
//! few (one per route per `quality.every`), so each run's rows are written
//! at once in one transaction on a blocking thread with their own
//! connection, never through the decision queue and never on a request
//! path. The table is created when first written (files of older builds
//! stay readable) and trimmed by the decisions' retention.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::{DecisionLog, LogError, schema};

/// One scheduled run's tally for one route × model version × prompt
/// version × suite × scorer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRun {
    /// When the run ended (Unix seconds).
    pub time_secs: u64,
    /// The replica that ran it.
    pub replica: u64,
    /// The route judged.
    pub route: String,
    /// The model version its answers named.
    pub model_version: String,
    /// The prompt version (`-`: the suite's cases as written).
    pub prompt_version: String,
    /// The suite.
    pub suite: String,
    /// The scorer.
    pub scorer: String,
    /// Answers that passed.
    pub passed: u64,
    /// Answers scored.
    pub scored: u64,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS quality_scores (
    time_ms        INTEGER NOT NULL,
    replica        TEXT NOT NULL,
    route          TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    suite          TEXT NOT NULL,
    scorer         TEXT NOT NULL,
    passed         INTEGER NOT NULL,
    scored         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quality_scores_time ON quality_scores (time_ms);";

impl DecisionLog {
    /// Keeps one run's scores (at once, in one transaction, on a blocking
    /// thread).
    pub async fn quality_scores(&self, runs: Vec<ScoreRun>) -> Result<(), LogError> {
        let path = self.path().to_owned();
        tokio::task::spawn_blocking(move || write(&path, &runs))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// The runs kept since `since_secs` (Unix seconds), oldest first: what
    /// a restarted gateway reads back.
    pub fn quality_scores_since(&self, since_secs: u64) -> Result<Vec<ScoreRun>, LogError> {
        let conn = schema::open_side(self.path(), CREATE)?;
        read(&conn, since_secs)
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn write(path: &Path, runs: &[ScoreRun]) -> Result<(), LogError> {
    let mut conn = schema::open_side(path, CREATE)?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO quality_scores (time_ms, replica, route, model_version, prompt_version, \
             suite, scorer, passed, scored) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in runs {
            insert.execute(params![
                schema::to_sql_ms(r.time_secs.saturating_mul(1000)),
                r.replica.to_string(),
                r.route,
                r.model_version,
                r.prompt_version,
                r.suite,
                r.scorer,
                count(r.passed),
                count(r.scored),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn read(conn: &Connection, since_secs: u64) -> Result<Vec<ScoreRun>, LogError> {
    let mut select = conn.prepare(
        "SELECT time_ms, replica, route, model_version, prompt_version, suite, scorer, passed, \
         scored FROM quality_scores WHERE time_ms >= ?1 ORDER BY time_ms",
    )?;
    let since = schema::to_sql_ms(since_secs.saturating_mul(1000));
    let rows = select.query_map(params![since], |row| {
        let unsigned = |i: usize| row.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
        Ok(ScoreRun {
            time_secs: unsigned(0)? / 1000,
            replica: row.get::<_, String>(1)?.parse().unwrap_or(0),
            route: row.get(2)?,
            model_version: row.get(3)?,
            prompt_version: row.get(4)?,
            suite: row.get(5)?,
            scorer: row.get(6)?,
            passed: unsigned(7)?,
            scored: unsigned(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the runs older than `cutoff_ms` (the decisions' retention);
/// none when no run was kept.
pub(crate) fn purge(conn: &Connection, cutoff_ms: u64) -> rusqlite::Result<usize> {
    if !schema::table_exists(conn, "quality_scores")? {
        return Ok(0);
    }
    conn.execute(
        "DELETE FROM quality_scores WHERE time_ms < ?1",
        params![schema::to_sql_ms(cutoff_ms)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDb;

    fn run(time_secs: u64, replica: u64, passed: u64) -> ScoreRun {
        ScoreRun {
            time_secs,
            replica,
            route: "r".into(),
            model_version: "v1".into(),
            prompt_version: "-".into(),
            suite: "s".into(),
            scorer: "tool-call".into(),
            passed,
            scored: 2,
        }
    }

    #[tokio::test]
    async fn runs_are_kept_read_back_after_a_reopen_and_purged() {
        let db = TempDb::new("quality-scores");
        let log = db.log();
        assert!(log.quality_scores_since(0).unwrap().is_empty(), "none yet");
        log.quality_scores(vec![run(100, 1, 2), run(200, u64::MAX, 0)])
            .await
            .unwrap();
        drop(log);
        let reopened = db.log();
        let back = reopened.quality_scores_since(150).unwrap();
        assert_eq!(
            back,
            vec![run(200, u64::MAX, 0)],
            "since, replica kept whole"
        );
        assert_eq!(reopened.quality_scores_since(0).unwrap().len(), 2);
        let conn = Connection::open(db.path()).unwrap();
        assert_eq!(purge(&conn, 150_000).unwrap(), 1);
        assert_eq!(reopened.quality_scores_since(0).unwrap().len(), 1);
    }
}
