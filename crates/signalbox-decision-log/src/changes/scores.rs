//! Owns the eval-score part of "what changed?": each route × suite ×
//! scorer's pass rate in the two windows, from the scheduled evaluation
//! runs kept in `quality_scores` (tool-call validity, groundedness,
//! refusal correctness…), named when it moved, with the model versions
//! the evaluated answers named when those changed too.
//!
//! Why from the runs and not the decisions: scores exist only where a
//! suite ran, and they move without any live request (a silent model
//! update is often seen first by the evaluation). So they are compared
//! whenever both windows hold runs, whatever the traffic did.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, params};

use super::{Change, ChangeKind, Span};
use crate::{LogError, schema};

/// A pass rate that moved at least this much (absolute) is named.
const MOVED: f64 = 0.10;

/// One route × suite × scorer's tally over a window.
#[derive(Debug, Default, Clone, PartialEq)]
struct Tally {
    passed: u64,
    scored: u64,
    runs: u64,
    models: BTreeSet<String>,
}

impl Tally {
    fn rate(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.passed as f64 / self.scored as f64)
    }
}

type Key = (String, String, String);

/// The eval scores that moved from `before` to `after`, largest drop
/// first; none when the log kept no evaluation runs.
pub(crate) fn score_changes(
    conn: &Connection,
    before: Span,
    after: Span,
) -> Result<Vec<Change>, LogError> {
    if !schema::table_exists(conn, "quality_scores")? {
        return Ok(Vec::new());
    }
    let a = tallies(conn, before)?;
    let b = tallies(conn, after)?;
    let mut moved: Vec<(f64, Change)> = b
        .iter()
        .filter_map(|(key, now)| {
            let was = a.get(key)?;
            let (x, y) = (was.rate()?, now.rate()?);
            ((y - x).abs() >= MOVED).then(|| (y - x, change(key, was, now, x, y)))
        })
        .collect();
    moved.sort_by(|p, q| p.0.total_cmp(&q.0));
    Ok(moved.into_iter().map(|(_, c)| c).collect())
}

fn change(key: &Key, was: &Tally, now: &Tally, x: f64, y: f64) -> Change {
    let (route, suite, scorer) = key;
    let models = if was.models == now.models {
        String::new()
    } else {
        format!(
            "; answers named model version {} (was {})",
            join(&now.models),
            join(&was.models)
        )
    };
    Change::new(
        ChangeKind::Metric,
        format!(
            "route {route} eval score {scorer} (suite {suite}) {:.0}% → {:.0}% \
             ({} of {} answers in {} runs, before {} of {} in {}){models}",
            x * 100.0,
            y * 100.0,
            now.passed,
            now.scored,
            now.runs,
            was.passed,
            was.scored,
            was.runs,
        ),
    )
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Every route × suite × scorer's tally of the runs that ended in `span`.
fn tallies(conn: &Connection, span: Span) -> Result<BTreeMap<Key, Tally>, LogError> {
    let mut select = conn.prepare_cached(
        "SELECT route, suite, scorer, model_version, passed, scored FROM quality_scores \
         WHERE time_ms >= ?1 AND time_ms < ?2",
    )?;
    let mut rows = select.query(params![
        schema::to_sql_ms(span.since_ms),
        schema::to_sql_ms(span.until_ms)
    ])?;
    let mut out: BTreeMap<Key, Tally> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let count = |i: usize| row.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
        let key = (row.get(0)?, row.get(1)?, row.get(2)?);
        let t = out.entry(key).or_default();
        t.models.insert(row.get(3)?);
        t.passed += count(4)?;
        t.scored += count(5)?;
        t.runs += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScoreRun;
    use crate::test_support::TempDb;

    fn run(time_secs: u64, route: &str, model: &str, passed: u64) -> ScoreRun {
        ScoreRun {
            time_secs,
            replica: 1,
            route: route.into(),
            model_version: model.into(),
            prompt_version: "-".into(),
            suite: "tools".into(),
            scorer: "tool-call".into(),
            passed,
            scored: 10,
        }
    }

    fn span(since_secs: u64, until_secs: u64) -> Span {
        Span {
            since_ms: since_secs * 1000,
            until_ms: until_secs * 1000,
        }
    }

    #[tokio::test]
    async fn a_dropped_eval_score_is_named_with_the_model_version_its_answers_named() {
        let db = TempDb::new("changes-scores");
        let log = db.log();
        log.quality_scores(vec![
            run(100, "eu-small", "v1", 10),
            run(150, "eu-small", "v1", 9),
            run(120, "us-large", "v1", 10),
            // After: eu-small's answers name v2 and fail; us-large steady.
            run(250, "eu-small", "v2", 2),
            run(260, "us-large", "v1", 9),
        ])
        .await
        .unwrap();
        let conn = Connection::open(db.path()).unwrap();
        let changes = score_changes(&conn, span(0, 200), span(200, 400)).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        let what = &changes[0].what;
        assert_eq!(changes[0].kind, ChangeKind::Metric);
        assert!(
            what.starts_with("route eu-small eval score tool-call (suite tools) 95% → 20%"),
            "{what}"
        );
        assert!(
            what.contains("2 of 10 answers in 1 runs, before 19 of 20 in 2"),
            "{what}"
        );
        assert!(
            what.ends_with("answers named model version v2 (was v1)"),
            "{what}"
        );
    }

    #[tokio::test]
    async fn without_runs_in_both_windows_nothing_is_compared() {
        let db = TempDb::new("changes-scores-none");
        let log = db.log();
        let conn = Connection::open(db.path()).unwrap();
        assert!(
            score_changes(&conn, span(0, 200), span(200, 400))
                .unwrap()
                .is_empty(),
            "no table yet"
        );
        log.quality_scores(vec![run(250, "eu-small", "v2", 2)])
            .await
            .unwrap();
        assert!(
            score_changes(&conn, span(0, 200), span(200, 400))
                .unwrap()
                .is_empty(),
            "no baseline run"
        );
    }
}
