//! Tenant spend in Redis, shared by every replica: one integer counter of
//! micro-dollars per tenant and month, `{prefix}spend:{tenant}:{YYYY-MM}`.
//! Adding is one `INCRBY` (atomic, exact) that also sets the key to expire
//! a day after the month ends, so old months clean themselves up; the day
//! of grace covers replicas whose clocks disagree around midnight.
//!
//! The period comes from the caller's clock (the gateway's wall clock, like
//! the decision record's time), not Redis's: every replica names the month
//! the same way as long as their clocks agree to within the grace.
//!
//! When Redis cannot answer, budgets fail OPEN: the request is admitted,
//! spend that could not be added is lost, and a warning is logged at most
//! once per 10 seconds.

use std::sync::Arc;

use redis::Script;
use signalbox_state::{BoxFuture, Period, SpendStore, StateError};

use crate::{FailOpenWarning, RedisConn};

/// How long a month's counter outlives the month.
const GRACE_SECS: u64 = 86_400;

/// KEYS: the counter. ARGV: micro-dollars, expiry (Unix seconds).
/// Returns the new total.
const ADD: &str = r"
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return total
";

/// The Redis spend store.
#[derive(Clone)]
pub struct RedisSpend {
    conn: RedisConn,
    add: Arc<Script>,
    warning: Arc<FailOpenWarning>,
}

impl std::fmt::Debug for RedisSpend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSpend")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl RedisSpend {
    /// A store on `conn`.
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            add: Arc::new(Script::new(ADD)),
            warning: Arc::new(FailOpenWarning::new(
                "tenant budgets unavailable; admitting requests (fail open)",
            )),
        }
    }

    fn key(&self, tenant: &str, period: Period) -> String {
        self.conn.key(&format!("spend:{tenant}:{}", period.label()))
    }
}

impl SpendStore for RedisSpend {
    fn spent<'a>(
        &'a self,
        tenant: &'a str,
        period: Period,
    ) -> BoxFuture<'a, Result<u64, StateError>> {
        Box::pin(async move {
            let cmd = redis::Cmd::get(self.key(tenant, period));
            match self.conn.query::<Option<u64>>(&cmd).await {
                Ok(v) => Ok(v.unwrap_or(0)),
                Err(e) => {
                    self.warning.warn(&e);
                    Ok(0)
                }
            }
        })
    }

    fn add(
        &self,
        tenant: &str,
        period: Period,
        micros: u64,
    ) -> BoxFuture<'static, Result<u64, StateError>> {
        let key = self.key(tenant, period);
        let (conn, add, warning) = (self.conn.clone(), self.add.clone(), self.warning.clone());
        let expire_at = period.reset_unix() + GRACE_SECS;
        Box::pin(async move {
            let mut inv = add.key(key);
            inv.arg(micros).arg(expire_at);
            conn.script::<u64>(&inv)
                .await
                .inspect_err(|e| warning.warn(e))
        })
    }
}
