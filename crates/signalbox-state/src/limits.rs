//! Per-tenant limits: concurrency, requests per minute and tokens per
//! minute. Rates are token buckets refilled continuously (a burst of a full
//! minute's allowance, then the steady rate), so `retry-after` is exact.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

use crate::{BoxFuture, StateError};

/// One tenant's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Requests in flight.
    pub concurrency: Option<u32>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u64>,
}

/// A request over a tenant limit.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitExceeded {
    /// `concurrency`, `requests-per-minute` or `tokens-per-minute`.
    pub limit: &'static str,
    /// The configured value.
    pub value: u64,
    /// When a retry can succeed.
    pub retry_after: Duration,
}

/// Held while a request runs; releases its concurrency slot when dropped.
pub struct LimitPermit {
    release: Release,
}

enum Release {
    /// Nothing to release (no concurrency limit, or the store failed open).
    None,
    /// The in-process store's slot.
    Local {
        usage: Arc<Mutex<HashMap<String, Usage>>>,
        tenant: String,
    },
    /// A networked store's release (runs once, on drop).
    Custom(Box<dyn FnOnce() + Send + Sync>),
}

impl LimitPermit {
    /// A permit that holds no slot.
    pub fn unlimited() -> Self {
        Self {
            release: Release::None,
        }
    }

    /// A permit that runs `release` when dropped (for networked stores; it
    /// must not block).
    pub fn on_drop(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            release: Release::Custom(Box::new(release)),
        }
    }
}

impl std::fmt::Debug for LimitPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.release {
            Release::None => "LimitPermit(unlimited)",
            Release::Local { .. } => "LimitPermit(local)",
            Release::Custom(_) => "LimitPermit(shared)",
        })
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.release, Release::None) {
            Release::None => {}
            Release::Local { usage, tenant } => {
                if let Some(u) = usage.lock().get_mut(&tenant) {
                    u.in_flight = u.in_flight.saturating_sub(1);
                }
            }
            Release::Custom(release) => release(),
        }
    }
}

/// Tenant limit accounting.
pub trait LimitStore: Send + Sync + std::fmt::Debug {
    /// Admits one request of `tokens` estimated tokens for `tenant`, or says
    /// which limit it would break and when to retry.
    fn acquire<'a>(
        &'a self,
        tenant: &'a str,
        limits: Limits,
        tokens: u64,
    ) -> BoxFuture<'a, Result<Result<LimitPermit, LimitExceeded>, StateError>>;
}

#[derive(Debug, Default)]
struct Usage {
    in_flight: u32,
    requests: Bucket,
    tokens: Bucket,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Units still available; `None` until first use (starts full).
    level: Option<f64>,
    at: Option<Instant>,
}

impl Bucket {
    /// Takes `n` units from a bucket of `capacity` refilled over a minute;
    /// on refusal, the wait until `n` are available.
    fn take(&mut self, capacity: f64, n: f64, now: Instant) -> Result<(), Duration> {
        let rate = capacity / 60.0;
        let elapsed = self
            .at
            .map_or(0.0, |at| now.duration_since(at).as_secs_f64());
        let level = (self.level.unwrap_or(capacity) + elapsed * rate).min(capacity);
        self.at = Some(now);
        // A single request larger than the whole allowance can never pass; let
        // it through when the bucket is full rather than refuse forever.
        let need = n.min(capacity);
        if level >= need {
            self.level = Some(level - need);
            Ok(())
        } else {
            self.level = Some(level);
            Err(Duration::from_secs_f64((need - level) / rate))
        }
    }

    fn give_back(&mut self, capacity: f64, n: f64) {
        if let Some(l) = self.level.as_mut() {
            *l = (*l + n).min(capacity);
        }
    }
}

/// The in-process limit store.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLimits {
    usage: Arc<Mutex<HashMap<String, Usage>>>,
}

impl InMemoryLimits {
    /// Requests in flight for `tenant`.
    pub fn in_flight(&self, tenant: &str) -> u32 {
        self.usage.lock().get(tenant).map_or(0, |u| u.in_flight)
    }

    fn acquire_now(
        &self,
        tenant: &str,
        limits: Limits,
        tokens: u64,
    ) -> Result<LimitPermit, LimitExceeded> {
        let now = Instant::now();
        let mut map = self.usage.lock();
        let u = map.entry(tenant.to_owned()).or_default();
        if let Some(max) = limits.concurrency
            && u.in_flight >= max
        {
            return Err(LimitExceeded {
                limit: "concurrency",
                value: u64::from(max),
                retry_after: Duration::from_secs(1),
            });
        }
        if let Some(rpm) = limits.requests_per_minute
            && let Err(wait) = u.requests.take(f64::from(rpm), 1.0, now)
        {
            return Err(LimitExceeded {
                limit: "requests-per-minute",
                value: u64::from(rpm),
                retry_after: wait,
            });
        }
        if let Some(tpm) = limits.tokens_per_minute
            && let Err(wait) = u.tokens.take(tpm as f64, tokens as f64, now)
        {
            // The request was not admitted: return its request unit.
            if let Some(rpm) = limits.requests_per_minute {
                u.requests.give_back(f64::from(rpm), 1.0);
            }
            return Err(LimitExceeded {
                limit: "tokens-per-minute",
                value: tpm,
                retry_after: wait,
            });
        }
        let counted = limits.concurrency.is_some();
        if counted {
            u.in_flight += 1;
        }
        Ok(LimitPermit {
            release: if counted {
                Release::Local {
                    usage: Arc::clone(&self.usage),
                    tenant: tenant.to_owned(),
                }
            } else {
                Release::None
            },
        })
    }
}

impl LimitStore for InMemoryLimits {
    fn acquire<'a>(
        &'a self,
        tenant: &'a str,
        limits: Limits,
        tokens: u64,
    ) -> BoxFuture<'a, Result<Result<LimitPermit, LimitExceeded>, StateError>> {
        let r = self.acquire_now(tenant, limits, tokens);
        Box::pin(std::future::ready(Ok(r)))
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_released_on_drop() {
        let s = InMemoryLimits::default();
        let l = Limits {
            concurrency: Some(2),
            ..Limits::default()
        };
        let a = s.acquire("t", l, 1).await.unwrap().unwrap();
        let _b = s.acquire("t", l, 1).await.unwrap().unwrap();
        let e = s.acquire("t", l, 1).await.unwrap().unwrap_err();
        assert_eq!(e.limit, "concurrency");
        drop(a);
        assert!(s.acquire("t", l, 1).await.unwrap().is_ok());
        assert!(
            s.acquire("other", l, 1).await.unwrap().is_ok(),
            "per tenant"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rpm_bucket_refills_and_says_when() {
        let s = InMemoryLimits::default();
        let l = Limits {
            requests_per_minute: Some(60),
            ..Limits::default()
        };
        for _ in 0..60 {
            assert!(s.acquire("t", l, 0).await.unwrap().is_ok());
        }
        let e = s.acquire("t", l, 0).await.unwrap().unwrap_err();
        assert_eq!(e.limit, "requests-per-minute");
        assert!(
            (e.retry_after.as_secs_f64() - 1.0).abs() < 0.01,
            "{:?}",
            e.retry_after
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(s.acquire("t", l, 0).await.unwrap().is_ok());
    }
}
