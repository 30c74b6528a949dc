//! Quality gates shared across replicas: when one replica's quality runs
//! disable a route (or mark it warned), it publishes a mark, and every
//! replica sharing the store honours it: the route is skipped (or given its
//! reduced share) there too, without waiting for that replica's own runs.
//! Marks are per route *and* per replica, so one replica's recovery clears
//! only its own mark (a route another replica still finds failing stays
//! disabled), and each mark expires unless its replica publishes it again
//! (every run does), so a replica that crashed holds no route forever.
//!
//! A mark may be scoped to one request intent ([`QualityMark::intent`]): the
//! verdict of suites that judge the route for that intent only. Such a mark
//! sits next to the route's own marks (one per route, replica *and*
//! intent), expires the same way, and is answered only by the `_for`
//! lookups: it never disables or warns the route as a whole.
//!
//! Reads are on the request path (every candidate's admission), so a store
//! keeps its view in a [`QualityMarks`] snapshot, as the breaker store does:
//! replaced as a whole when the store changes, read with a lock-free load,
//! and answered without a lookup while no mark exists (the common case).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::unix_ms;

/// One replica's quality verdict on one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityMark {
    /// The publishing replica.
    pub replica: u64,
    /// Why its runs keep the route from serving, if they do.
    pub disabled: Option<String>,
    /// Which warn bars its last run missed, if any.
    pub warning: Option<String>,
    /// Milliseconds since the Unix epoch after which the mark no longer
    /// holds unless published again.
    pub expires_ms: u64,
    /// The request intent the verdict is for, when it judges the route for
    /// one intent only (`None`: every request). Not in the mark's own
    /// serialization: a networked store carries it beside the mark, so a
    /// replica that predates intent marks skips them instead of reading
    /// them as the route's.
    #[serde(skip)]
    pub intent: Option<String>,
}

impl QualityMark {
    /// Whether the mark says nothing (publishing it clears the replica's mark).
    pub fn is_clear(&self) -> bool {
        self.disabled.is_none() && self.warning.is_none()
    }
}

/// Where replicas publish their quality marks.
pub trait QualityStore: Send + Sync + std::fmt::Debug {
    /// Replaces `mark.replica`'s mark on `route` (for `mark.intent`: a
    /// route's mark and its intents' marks replace only their own kind); a
    /// clear mark removes it. Never waits: a networked store publishes in the background.
    fn publish(&self, route: &str, mark: QualityMark);
    /// The store's view of every mark, kept current by the store: what
    /// route health reads on the request path.
    fn snapshot(&self) -> Arc<QualityMarks>;
    /// Publishes and refreshes that failed since the store was made (a
    /// networked store unreachable: the local view was used instead).
    fn failures(&self) -> u64 {
        0
    }
}

/// Marks by route, as a store last saw them (copy on write: marks change
/// once per quality run, reads are per candidate per request).
#[derive(Debug, Default)]
pub struct QualityMarks(ArcSwap<HashMap<String, Vec<QualityMark>>>);

impl QualityMarks {
    /// Why another replica than `replica` keeps `route` from serving now, if
    /// one does.
    pub fn disabled_elsewhere(&self, route: &str, replica: u64) -> Option<String> {
        self.elsewhere(route, replica, None, |m| m.disabled.clone())
    }

    /// Which warn bars another replica than `replica` found `route` missing
    /// now, if one did.
    pub fn warned_elsewhere(&self, route: &str, replica: u64) -> Option<String> {
        self.elsewhere(route, replica, None, |m| m.warning.clone())
    }

    /// Why another replica than `replica` keeps `route` from serving
    /// requests of `intent` now, if one does.
    pub fn disabled_elsewhere_for(
        &self,
        route: &str,
        intent: &str,
        replica: u64,
    ) -> Option<String> {
        self.elsewhere(route, replica, Some(intent), |m| m.disabled.clone())
    }

    /// Which warn bars another replica than `replica` found `route` missing
    /// for `intent` now, if one did.
    pub fn warned_elsewhere_for(&self, route: &str, intent: &str, replica: u64) -> Option<String> {
        self.elsewhere(route, replica, Some(intent), |m| m.warning.clone())
    }

    /// The intents another replica than `replica` keeps `route` from
    /// serving now, with why (one per intent, sorted).
    pub fn disabled_intents_elsewhere(&self, route: &str, replica: u64) -> Vec<(String, String)> {
        self.intents_elsewhere(route, replica, |m| m.disabled.clone())
    }

    /// The intents another replica than `replica` found `route` missing a
    /// warn bar for now, with which bars (one per intent, sorted).
    pub fn warned_intents_elsewhere(&self, route: &str, replica: u64) -> Vec<(String, String)> {
        self.intents_elsewhere(route, replica, |m| m.warning.clone())
    }

    fn intents_elsewhere(
        &self,
        route: &str,
        replica: u64,
        pick: impl Fn(&QualityMark) -> Option<String>,
    ) -> Vec<(String, String)> {
        let routes = self.0.load();
        let now = unix_ms();
        let mut out: Vec<(String, String)> = routes
            .get(route)
            .into_iter()
            .flatten()
            .filter(|m| m.replica != replica && m.expires_ms > now)
            .filter_map(|m| Some((m.intent.clone()?, pick(m)?)))
            .collect();
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    fn elsewhere(
        &self,
        route: &str,
        replica: u64,
        intent: Option<&str>,
        pick: impl Fn(&QualityMark) -> Option<String>,
    ) -> Option<String> {
        let routes = self.0.load();
        if routes.is_empty() {
            return None;
        }
        let now = unix_ms();
        routes
            .get(route)?
            .iter()
            .filter(|m| m.replica != replica && m.expires_ms > now)
            .filter(|m| m.intent.as_deref() == intent)
            .find_map(pick)
    }

    /// Applies one replica's mark on `route` (for its intent, if any) to
    /// the map.
    pub fn apply(&self, route: &str, mark: &QualityMark) {
        self.0.rcu(|routes| {
            let mut next = HashMap::clone(routes);
            let marks = next.entry(route.to_owned()).or_default();
            marks.retain(|m| m.replica != mark.replica || m.intent != mark.intent);
            if !mark.is_clear() {
                marks.push(mark.clone());
            }
            if marks.is_empty() {
                next.remove(route);
            }
            next
        });
    }

    /// Replaces the whole map (a refresh from the shared store).
    pub fn replace(&self, routes: HashMap<String, Vec<QualityMark>>) {
        self.0.store(Arc::new(routes));
    }
}

/// The in-process store: shared by every gateway in the process that is
/// given the same instance.
#[derive(Debug, Default)]
pub struct InMemoryQuality {
    marks: Arc<QualityMarks>,
}

impl QualityStore for InMemoryQuality {
    fn publish(&self, route: &str, mark: QualityMark) {
        self.marks.apply(route, &mark);
    }

    fn snapshot(&self) -> Arc<QualityMarks> {
        Arc::clone(&self.marks)
    }
}
