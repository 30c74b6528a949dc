//! Owns the *combination*: the shared identifiers of a record that the
//! filters and aggregates ask by (tenant, alias, route, provider, model
//! version, prompt version, policy version, intent, tools, outcome,
//! degradation steps, operator actions, routes skipped and why). Each distinct combination is one
//! row of the small table `combos`; a decision row carries only its id.
//! There are few combinations (thousands), so a reader loads them all,
//! finds the ids a filter admits in memory, and asks SQLite only about rows
//! of those ids; aggregates group by id and map ids to keys in memory.

use std::hash::{Hash, Hasher};

use rusqlite::{Connection, params};
use signalbox_core::{DecisionRecord, SkipRecord};

use crate::codec::FastHasher;

/// Separates the steps or action ids of one record in a combination.
const SEP: char = '\u{1f}';

/// The columns of `combos`, in order, after `id`.
pub(crate) const COLUMNS: &str = "tenant, alias, route, provider, model_version, prompt_version, \
     policy_version, intent, tools, outcome, degraded, actions, skips";

/// One combination, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Combo {
    pub tenant: String,
    pub alias: Option<String>,
    /// The serving route, else the last one tried.
    pub route: Option<String>,
    pub provider: Option<String>,
    pub model_version: Option<String>,
    pub prompt_version: Option<String>,
    pub policy_version: String,
    /// The first `intent` signal's value.
    pub intent: Option<String>,
    /// Whether a `tools` signal asked for tools.
    pub tools: Option<bool>,
    pub outcome: String,
    /// The degradation steps, joined by [`SEP`] (none: `None`).
    pub degraded: Option<String>,
    /// The operator action ids, joined by [`SEP`] (none: `None`).
    pub actions: Option<String>,
    /// The routes skipped, each `route kind`, joined by [`SEP`].
    pub skips: Option<String>,
}

impl Combo {
    /// Whether the record was served.
    pub(crate) fn served(&self) -> bool {
        self.outcome == "served"
    }

    /// Whether `step` is among the degradation steps.
    pub(crate) fn degraded_by(&self, step: &str) -> bool {
        self.degraded
            .as_deref()
            .is_some_and(|d| d.split(SEP).any(|s| s == step))
    }

    /// Whether the operator action `id` changed the request.
    /// The degradation steps joined by `+`, for grouping (none: `None`).
    pub(crate) fn degraded_steps(&self) -> Option<String> {
        self.degraded.as_deref().map(|d| d.replace(SEP, "+"))
    }

    pub(crate) fn changed_by(&self, id: &str) -> bool {
        self.actions
            .as_deref()
            .is_some_and(|a| a.split(SEP).any(|s| s == id))
    }

    /// The routes skipped, each as `route kind`.
    pub(crate) fn skipped(&self) -> impl Iterator<Item = &str> {
        self.skips.as_deref().into_iter().flat_map(|s| s.split(SEP))
    }

    /// Reads every combination of a log.
    pub(crate) fn load_all(conn: &Connection) -> rusqlite::Result<Vec<(i64, Self)>> {
        let mut stmt = conn.prepare(&format!("SELECT id, {COLUMNS} FROM combos"))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                Self {
                    tenant: r.get(1)?,
                    alias: r.get(2)?,
                    route: r.get(3)?,
                    provider: r.get(4)?,
                    model_version: r.get(5)?,
                    prompt_version: r.get(6)?,
                    policy_version: r.get(7)?,
                    intent: r.get(8)?,
                    tools: r.get(9)?,
                    outcome: r.get(10)?,
                    degraded: r.get(11)?,
                    actions: r.get(12)?,
                    skips: r.get(13)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// Stores a new combination, returning its id.
    pub(crate) fn insert(&self, conn: &Connection) -> rusqlite::Result<i64> {
        conn.prepare_cached(&format!(
            "INSERT INTO combos ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?
        .execute(params![
            self.tenant,
            self.alias,
            self.route,
            self.provider,
            self.model_version,
            self.prompt_version,
            self.policy_version,
            self.intent,
            self.tools,
            self.outcome,
            self.degraded,
            self.actions,
            self.skips,
        ])?;
        Ok(conn.last_insert_rowid())
    }
}

/// A record's combination, borrowed from it: built for every record, so
/// it allocates nothing; only a new combination is copied out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ComboRef<'a> {
    tenant: &'a str,
    alias: Option<&'a str>,
    route: Option<&'a str>,
    provider: Option<&'a str>,
    model_version: Option<&'a str>,
    prompt_version: Option<&'a str>,
    policy_version: &'a str,
    intent: Option<&'a str>,
    tools: Option<bool>,
    outcome: &'a str,
    degraded: &'a [String],
    actions: &'a [String],
    skipped: &'a [SkipRecord],
}

impl<'a> ComboRef<'a> {
    pub(crate) fn of(r: &'a DecisionRecord) -> Self {
        let signal = |name: &str| {
            r.signals
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.as_ref())
        };
        Self {
            tenant: &r.tenant,
            alias: r.alias.as_deref(),
            route: route_of(r),
            provider: r.provider.as_deref(),
            model_version: r.model_version.as_deref(),
            prompt_version: r.prompt_version.as_deref(),
            policy_version: &r.policy_version,
            intent: signal("intent"),
            tools: signal("tools").map(|v| v != "none"),
            outcome: &r.outcome,
            degraded: &r.degraded,
            actions: &r.operator_actions,
            skipped: &r.skipped,
        }
    }

    /// A hash of every field, for the writer's map of known combinations.
    pub(crate) fn hash64(&self) -> u64 {
        let mut h = FastHasher::default();
        for s in [self.tenant, self.policy_version, self.outcome] {
            s.hash(&mut h);
        }
        for s in [
            self.alias,
            self.route,
            self.provider,
            self.model_version,
            self.prompt_version,
            self.intent,
        ] {
            s.hash(&mut h);
        }
        self.tools.hash(&mut h);
        self.degraded.hash(&mut h);
        self.actions.hash(&mut h);
        for skip in self.skipped {
            skip.route.hash(&mut h);
            skip.kind.label().hash(&mut h);
        }
        h.finish()
    }

    /// Whether `c` is this combination.
    pub(crate) fn is(&self, c: &Combo) -> bool {
        self.tenant == c.tenant
            && self.alias == c.alias.as_deref()
            && self.route == c.route.as_deref()
            && self.provider == c.provider.as_deref()
            && self.model_version == c.model_version.as_deref()
            && self.prompt_version == c.prompt_version.as_deref()
            && self.policy_version == c.policy_version
            && self.intent == c.intent.as_deref()
            && self.tools == c.tools
            && self.outcome == c.outcome
            && joined(self.degraded).as_deref() == c.degraded.as_deref()
            && joined(self.actions).as_deref() == c.actions.as_deref()
            && skips(self.skipped).as_deref() == c.skips.as_deref()
    }

    pub(crate) fn to_owned(self) -> Combo {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Combo {
            tenant: self.tenant.to_owned(),
            alias: own(self.alias),
            route: own(self.route),
            provider: own(self.provider),
            model_version: own(self.model_version),
            prompt_version: own(self.prompt_version),
            policy_version: self.policy_version.to_owned(),
            intent: own(self.intent),
            tools: self.tools,
            outcome: self.outcome.to_owned(),
            degraded: joined(self.degraded),
            actions: joined(self.actions),
            skips: skips(self.skipped),
        }
    }
}

/// `None` for no items, else the items joined by [`SEP`].
fn joined(items: &[String]) -> Option<String> {
    match items {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(many.join(&SEP.to_string())),
    }
}

/// `None` for no skips, else each as `route kind`, joined by [`SEP`].
fn skips(skipped: &[SkipRecord]) -> Option<String> {
    let items: Vec<String> = skipped
        .iter()
        .map(|s| format!("{} {}", s.route, s.kind))
        .collect();
    joined(&items)
}

/// The route a record is filed under: the serving route, else the last one
/// tried, else none.
pub(crate) fn route_of(record: &DecisionRecord) -> Option<&str> {
    record
        .chosen
        .as_deref()
        .or_else(|| record.attempts.last().map(|a| a.route.as_str()))
}
