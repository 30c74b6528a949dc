//! A route's capacity gate: at most `capacity` requests in flight; the rest
//! wait in per-tenant queues served by weighted fair queuing (the tenant with
//! the least weighted service goes next), so one tenant's surge cannot
//! starve another. Each tenant may queue a bounded number of requests; beyond
//! that, or after the wait bound, the request is refused (429).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Duration;

/// Why the gate refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The tenant already has a full queue on this route.
    #[error("this tenant already has {0} requests queued for the route")]
    QueueFull(usize),
    /// No slot came free within the wait bound.
    #[error("no capacity on the route within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Default)]
struct Tenant {
    queue: VecDeque<(u64, oneshot::Sender<()>)>,
    /// Weighted service received (requests / weight): the fair-queue clock.
    served: f64,
    weight: f64,
}

#[derive(Debug, Default)]
struct Inner {
    in_use: u32,
    next_id: u64,
    tenants: HashMap<String, Tenant>,
}

/// One route's capacity gate.
#[derive(Debug, Clone)]
pub struct FairGate {
    inner: Arc<Mutex<Inner>>,
    capacity: u32,
    queue_per_tenant: usize,
}

/// A slot on the route; frees it (to the next fair waiter) when dropped.
#[derive(Debug)]
pub struct GatePermit {
    gate: FairGate,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        self.gate.release();
    }
}

impl FairGate {
    /// A gate admitting `capacity` requests at once, with at most
    /// `queue_per_tenant` waiting per tenant.
    pub fn new(capacity: u32, queue_per_tenant: usize) -> Self {
        Self {
            inner: Arc::default(),
            capacity: capacity.max(1),
            queue_per_tenant: queue_per_tenant.max(1),
        }
    }

    /// (in flight, queued).
    pub fn usage(&self) -> (u32, usize) {
        let g = self.inner.lock();
        (g.in_use, g.tenants.values().map(|t| t.queue.len()).sum())
    }

    /// Waits (fairly, at most `timeout`) for a slot.
    pub async fn acquire(
        &self,
        tenant: &str,
        weight: f64,
        timeout: Duration,
    ) -> Result<GatePermit, GateError> {
        let (id, rx) = {
            let mut g = self.inner.lock();
            let queued: usize = g.tenants.values().map(|t| t.queue.len()).sum();
            if g.in_use < self.capacity && queued == 0 {
                g.in_use += 1;
                Self::charge(&mut g, tenant, weight);
                return Ok(GatePermit { gate: self.clone() });
            }
            // A tenant joining the queue starts at the least service among
            // those waiting, so it neither jumps ahead nor falls behind.
            let floor = g
                .tenants
                .values()
                .filter(|t| !t.queue.is_empty())
                .map(|t| t.served)
                .fold(f64::INFINITY, f64::min);
            let id = g.next_id;
            g.next_id += 1;
            let t = g.tenants.entry(tenant.to_owned()).or_default();
            t.weight = weight.max(f64::MIN_POSITIVE);
            if t.queue.len() >= self.queue_per_tenant {
                return Err(GateError::QueueFull(t.queue.len()));
            }
            if t.queue.is_empty() && floor.is_finite() {
                t.served = t.served.max(floor);
            }
            let (tx, rx) = oneshot::channel();
            t.queue.push_back((id, tx));
            (id, rx)
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => Ok(GatePermit { gate: self.clone() }),
            Ok(Err(_)) => Err(GateError::Timeout(timeout)),
            Err(_) => {
                let mut g = self.inner.lock();
                let removed = g.tenants.get_mut(tenant).is_some_and(|t| {
                    let before = t.queue.len();
                    t.queue.retain(|(i, _)| *i != id);
                    t.queue.len() < before
                });
                if removed {
                    Err(GateError::Timeout(timeout))
                } else {
                    // The slot was handed over as the wait ran out: keep it.
                    drop(g);
                    Ok(GatePermit { gate: self.clone() })
                }
            }
        }
    }

    fn charge(g: &mut Inner, tenant: &str, weight: f64) {
        let t = g.tenants.entry(tenant.to_owned()).or_default();
        t.weight = weight.max(f64::MIN_POSITIVE);
        t.served += 1.0 / t.weight;
    }

    fn release(&self) {
        let mut g = self.inner.lock();
        loop {
            let next = g
                .tenants
                .iter()
                .filter(|(_, t)| !t.queue.is_empty())
                .min_by(|a, b| a.1.served.total_cmp(&b.1.served))
                .map(|(k, _)| k.clone());
            let Some(name) = next else {
                g.in_use = g.in_use.saturating_sub(1);
                // Forget idle tenants so the map stays small.
                g.tenants.retain(|_, t| !t.queue.is_empty());
                return;
            };
            let Some(t) = g.tenants.get_mut(&name) else {
                continue;
            };
            let Some((_, tx)) = t.queue.pop_front() else {
                continue;
            };
            t.served += 1.0 / t.weight;
            if tx.send(()).is_ok() {
                return; // the slot moves to the waiter
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_fairly_across_tenants() {
        let gate = FairGate::new(1, 4);
        let held = gate
            .acquire("a", 1.0, Duration::from_secs(1))
            .await
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Tenant a queues 3 first, then b queues 1: b must not wait behind all of a.
        for (i, who) in ["a", "a", "a", "b"].into_iter().enumerate() {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = gate
                    .acquire(who, 1.0, Duration::from_secs(10))
                    .await
                    .unwrap();
                order.lock().push(format!("{who}{i}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(p);
            }));
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().clone();
        let b = order.iter().position(|s| s == "b3").unwrap();
        assert!(b <= 1, "b served at position {b}: {order:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn queue_is_bounded_per_tenant_and_waits_time_out() {
        let gate = FairGate::new(1, 1);
        let _held = gate
            .acquire("a", 1.0, Duration::from_secs(1))
            .await
            .unwrap();
        let g2 = gate.clone();
        let waiting = tokio::spawn(async move {
            g2.acquire("a", 1.0, Duration::from_secs(2))
                .await
                .map(|_| ())
        });
        tokio::task::yield_now().await;
        assert_eq!(
            gate.acquire("a", 1.0, Duration::from_secs(1))
                .await
                .unwrap_err(),
            GateError::QueueFull(1)
        );
        assert_eq!(
            waiting.await.unwrap(),
            Err(GateError::Timeout(Duration::from_secs(2)))
        );
        assert_eq!(gate.usage(), (1, 0));
    }
}
