//! Session affinity memory: which route a session moved to after its
//! rendezvous choice broke, so it stays there. Per replica by design —
//! rendezvous hashing already gives every replica the same first choice;
//! this only keeps a moved session from moving back.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

/// Bounded, expiring session → route memory.
#[derive(Debug)]
pub struct AffinityMemory {
    inner: Mutex<HashMap<String, (String, Instant)>>,
    ttl: Duration,
    max: usize,
}

impl AffinityMemory {
    /// Remembers at most `max` sessions for `ttl` each.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            inner: Mutex::default(),
            ttl,
            max: max.max(1),
        }
    }

    /// The route `session` was moved to, if still remembered.
    pub fn get(&self, session: &str) -> Option<String> {
        let g = self.inner.lock();
        g.get(session)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(r, _)| r.clone())
    }

    /// Remembers that `session` is served by `route`.
    pub fn set(&self, session: &str, route: &str) {
        let now = Instant::now();
        let mut g = self.inner.lock();
        if g.len() >= self.max && !g.contains_key(session) {
            let ttl = self.ttl;
            g.retain(|_, (_, at)| now.duration_since(*at) < ttl);
            if g.len() >= self.max {
                // Still full of live sessions: forget the oldest one.
                if let Some(oldest) = g
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    g.remove(&oldest);
                }
            }
        }
        g.insert(session.to_owned(), (route.to_owned(), now));
    }

    /// Forgets `session` (it is back on its rendezvous route).
    pub fn forget(&self, session: &str) {
        self.inner.lock().remove(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remembers_bounded_and_expiring() {
        let m = AffinityMemory::new(Duration::from_secs(10), 2);
        m.set("a", "r1");
        tokio::time::advance(Duration::from_secs(1)).await;
        m.set("b", "r2");
        m.set("c", "r3");
        assert_eq!(m.get("a"), None, "oldest forgotten at capacity");
        assert_eq!(m.get("c").as_deref(), Some("r3"));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(m.get("c"), None);
    }
}
