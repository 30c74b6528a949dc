//! Owns the budget check: an answer within the case's `max_latency_ms`
//! and `max_cost_usd`, as the caller measured them (the runner times the
//! call; the cost is the usage at the route's price). A limit the caller
//! could not measure is not checked, and the verdict says so; a case
//! without limits gets no verdict.

use super::{Scorer, Verdict};
use crate::answer::Answer;
use crate::suite::Expect;

/// The verdict on `answer`'s latency and cost, when the case limits them.
pub fn score(expect: &Expect, answer: &Answer) -> Option<Verdict> {
    if expect.max_latency_ms.is_none() && expect.max_cost_usd.is_none() {
        return None;
    }
    let mut findings = Vec::new();
    let mut unmeasured = Vec::new();
    if let Some(max) = expect.max_latency_ms {
        match answer.latency_ms {
            Some(ms) if ms > max as f64 => findings.push(format!("took {ms:.0} ms, over {max} ms")),
            Some(_) => {}
            None => unmeasured.push("latency"),
        }
    }
    if let Some(max) = expect.max_cost_usd {
        match answer.cost_usd {
            Some(usd) if usd > max => findings.push(format!("cost ${usd:.6}, over ${max}")),
            Some(_) => {}
            None => unmeasured.push("cost"),
        }
    }
    let value = if findings.is_empty() { 1.0 } else { 0.0 };
    let mut verdict = Verdict::of(Scorer::Budget, value, findings);
    // Reported, not failed: an unmeasured limit is not a bad answer.
    verdict.findings.extend(
        unmeasured
            .iter()
            .map(|m| format!("{m} not measured; not checked")),
    );
    Some(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_when_measured_and_said_to_be_unchecked_otherwise() {
        let expect = Expect {
            max_latency_ms: Some(500),
            max_cost_usd: Some(0.01),
            ..Expect::default()
        };
        let fast = Answer {
            latency_ms: Some(120.0),
            cost_usd: Some(0.002),
            ..Answer::default()
        };
        assert!(score(&expect, &fast).is_some_and(|v| v.passed && v.findings.is_empty()));
        let slow = Answer {
            latency_ms: Some(900.0),
            cost_usd: Some(0.002),
            ..Answer::default()
        };
        let v = score(&expect, &slow).unwrap_or_else(|| unreachable!());
        assert!(!v.passed && v.findings[0].contains("900 ms"), "{v:?}");
        let unpriced = Answer {
            latency_ms: Some(100.0),
            ..Answer::default()
        };
        let v = score(&expect, &unpriced).unwrap_or_else(|| unreachable!());
        assert!(
            v.passed && v.findings[0].contains("cost not measured"),
            "{v:?}"
        );
        assert!(score(&Expect::default(), &fast).is_none());
    }
}
