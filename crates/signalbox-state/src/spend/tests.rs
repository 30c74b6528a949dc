use super::*;

/// 2026-12-06T09:00:00Z.
const DEC_6: u64 = 1_796_547_600;
/// 2027-01-01T00:00:00Z.
const JAN_1: u64 = 1_798_761_600;

#[test]
fn periods_are_calendar_months_in_utc() {
    let p = Period::containing(DEC_6);
    assert_eq!(p.label(), "2026-12");
    assert_eq!(p.start_unix(), 1_796_083_200, "2026-12-01T00:00:00Z");
    assert_eq!(p.reset_unix(), JAN_1);
    assert_eq!(Period::containing(JAN_1 - 1).label(), "2026-12");
    assert_eq!(Period::containing(JAN_1).label(), "2027-01");
    assert_eq!(Period::containing(0).label(), "1970-01");
    // A leap year's February.
    let feb = Period::containing(1_709_208_000); // 2024-02-29T12:00:00Z
    assert_eq!(feb.label(), "2024-02");
    assert_eq!(feb.reset_unix(), 1_709_251_200, "2024-03-01T00:00:00Z");
}

#[test]
fn every_day_maps_back_to_itself() {
    for days in (-800_000..800_000).step_by(997) {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
    }
}

#[tokio::test]
async fn spend_is_refused_at_the_budget_and_resets_next_month() {
    let s = InMemorySpend::default();
    let dec = Period::containing(DEC_6);
    assert_eq!(check_budget(&s, "t", 1.0, DEC_6).await.unwrap(), Ok(()));
    assert_eq!(s.add("t", dec, 600_000).await.unwrap(), 600_000);
    assert_eq!(check_budget(&s, "t", 1.0, DEC_6).await.unwrap(), Ok(()));
    assert_eq!(s.add("t", dec, 400_000).await.unwrap(), 1_000_000);
    let e = check_budget(&s, "t", 1.0, DEC_6)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.resets_at_unix, JAN_1);
    assert_eq!(e.retry_after, Duration::from_secs(JAN_1 - DEC_6));
    assert!((e.spent_usd - 1.0).abs() < 1e-9);
    assert_eq!(
        check_budget(&s, "other", 1.0, DEC_6).await.unwrap(),
        Ok(()),
        "per tenant"
    );
    // The clock passes midnight UTC on the 1st: a new period, nothing spent.
    assert_eq!(check_budget(&s, "t", 1.0, JAN_1).await.unwrap(), Ok(()));
    let jan = Period::containing(JAN_1);
    assert_eq!(s.add("t", jan, 5).await.unwrap(), 5);
    // A call that finishes late for December does not count against January.
    assert_eq!(s.add("t", dec, 7).await.unwrap(), 0);
    assert_eq!(s.spent("t", jan).await.unwrap(), 5);
}

#[tokio::test]
async fn a_zero_budget_admits_nothing() {
    let s = InMemorySpend::default();
    assert!(check_budget(&s, "t", 0.0, DEC_6).await.unwrap().is_err());
}

#[test]
fn usd_rounds_up_to_whole_micros() {
    assert_eq!(usd_to_micros(0.0), 0);
    assert_eq!(usd_to_micros(-1.0), 0);
    assert_eq!(usd_to_micros(f64::NAN), 0);
    assert_eq!(usd_to_micros(0.000_000_1), 1);
    assert_eq!(usd_to_micros(1.5), 1_500_000);
}
