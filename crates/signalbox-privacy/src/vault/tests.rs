use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use super::*;

/// Polls a future that is ready at once (the in-process vault's are).
fn ready<T>(future: VaultFuture<'_, T>) -> Result<T, VaultError> {
    let mut future = future;
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => unreachable!("in-process vault futures are ready"),
    }
}

fn manual_clock() -> (Clock, Arc<AtomicU64>) {
    let start = super::system_instant();
    let offset = Arc::new(AtomicU64::new(0));
    let read = Arc::clone(&offset);
    let clock: Clock = Arc::new(move || start + Duration::from_secs(read.load(Ordering::SeqCst)));
    (clock, offset)
}

fn scope(tenant: &str, session: &str) -> VaultScope {
    VaultScope {
        tenant: tenant.to_owned(),
        session: session.to_owned(),
    }
}

#[test]
fn sessions_are_per_tenant_and_expire_after_ttl() {
    let (clock, offset) = manual_clock();
    let vault = InMemoryVault::with_clock(Duration::from_secs(60), clock);
    let mut table = TokenTable::new();
    table.tokenise("EMAIL", "a@x.io");
    ready(vault.store(&scope("t1", "s"), table.take_fresh())).unwrap();

    assert_eq!(ready(vault.load(&scope("t1", "s"))).unwrap().len(), 1);
    assert!(ready(vault.load(&scope("t2", "s"))).unwrap().is_empty());

    offset.store(59, Ordering::SeqCst);
    assert_eq!(ready(vault.load(&scope("t1", "s"))).unwrap().len(), 1);
    offset.store(61, Ordering::SeqCst);
    assert!(ready(vault.load(&scope("t1", "s"))).unwrap().is_empty());
    assert_eq!(vault.sessions(), 0);
}

#[test]
fn store_renews_expiry_and_sweeps_expired_sessions() {
    let (clock, offset) = manual_clock();
    let vault = InMemoryVault::with_clock(Duration::from_secs(60), clock);
    let entry = |n: u32| TokenEntry {
        token: format!("⟦EMAIL_{n}⟧"),
        value: format!("u{n}@x.io"),
    };
    ready(vault.store(&scope("t", "keep"), vec![entry(1)])).unwrap();
    ready(vault.store(&scope("t", "drop"), vec![entry(1)])).unwrap();
    offset.store(50, Ordering::SeqCst);
    ready(vault.store(&scope("t", "keep"), vec![entry(2)])).unwrap();
    offset.store(100, Ordering::SeqCst);
    ready(vault.store(&scope("t", "other"), vec![entry(1)])).unwrap();
    assert_eq!(vault.sessions(), 2, "`drop` swept");
    let table = TokenTable::from_entries(ready(vault.load(&scope("t", "keep"))).unwrap());
    assert_eq!(table.len(), 2);
}

#[test]
fn load_and_store_helpers_round_trip() {
    let vault = InMemoryVault::new(Duration::from_secs(60));
    let scope = scope("t", "s");
    let run = |vault: &InMemoryVault| {
        let mut table = match std::pin::pin!(load_table(vault, &scope))
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(table) => table.unwrap(),
            Poll::Pending => unreachable!(),
        };
        let token = table.tokenise("EMAIL", "a@x.io").to_owned();
        let stored = std::pin::pin!(store_fresh(vault, &scope, &mut table))
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(stored, Poll::Ready(Ok(()))));
        token
    };
    assert_eq!(run(&vault), "⟦EMAIL_1⟧");
    assert_eq!(run(&vault), "⟦EMAIL_1⟧", "same session, same token");
    assert!(!format!("{vault:?}").contains("a@x.io"));
}
