use super::*;

#[test]
fn windows_are_the_span_and_the_one_before_it() {
    let w = |around: Option<&str>, since: Option<&str>, until: Option<&str>| Windows {
        around: around.map(str::to_owned),
        window: "10m".into(),
        since: since.map(str::to_owned),
        until: until.map(str::to_owned),
        alias: None,
    };
    let span = |s, u| Span {
        since_ms: s,
        until_ms: u,
    };
    let now = 10_000_000;
    assert_eq!(
        windows(&w(None, Some("30m"), None), now).unwrap(),
        (
            span(now - 3_600_000, now - 1_800_000),
            span(now - 1_800_000, now)
        )
    );
    let at = 1_765_029_600_000;
    assert_eq!(
        windows(&w(Some("2025-12-06T14:00:00Z"), None, None), now).unwrap(),
        (span(at - 600_000, at), span(at, at + 600_000))
    );
    assert!(
        windows(&w(None, Some("1m"), Some("2m")), now).is_err(),
        "empty"
    );
}

/// A report over one minute and the minute before it, without changes.
fn report(after_requests: u64, traffic: Traffic, seen: &[&str]) -> Report {
    let (before, after) = Span::with_baseline(0, 60_000).unwrap();
    Report {
        before_window: before,
        after_window: after,
        before: Default::default(),
        after: signalbox_decision_log::WindowSummary {
            requests: after_requests,
            ..Default::default()
        },
        traffic,
        seen: seen.iter().map(|s| (*s).to_owned()).collect(),
        changes: Vec::new(),
    }
}

#[test]
fn an_empty_report_says_nothing_changed() {
    assert_eq!(
        text(&report(0, Traffic::Neither, &[])),
        "0 requests before, 0 after (1m each)\nnothing changed\n"
    );
}

#[test]
fn an_empty_baseline_is_said_with_what_the_window_saw() {
    let seen = ["route us-large model version gpt-4o (3 requests)"];
    assert_eq!(
        text(&report(3, Traffic::NoneBefore, &seen)),
        "0 requests before, 3 after (1m each)\n\
         no traffic in the baseline window: versions and metrics are not compared; seen in the window:\n\
         \x20  route us-large model version gpt-4o (3 requests)\n"
    );
}
