//! The scorers measured on a hand-labelled set (tests/labelled/): for each
//! scorer, precision and recall at finding bad answers. The figures are
//! printed and held to a floor; docs/quality.md reports them.

use std::collections::BTreeMap;

use serde::Deserialize;
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::{Answer, Suite, score_case};

#[derive(Deserialize)]
struct Labelled {
    case: String,
    answer: Answer,
    bad: Vec<String>,
    #[serde(default)]
    #[expect(dead_code, reason = "read by people, not by the test")]
    note: Option<String>,
}

#[derive(Default, Debug)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
}

impl Counts {
    fn precision(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }
    fn recall(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }
}

#[test]
fn every_scorer_finds_the_bad_answers_of_the_labelled_set() {
    let suite = Suite::from_yaml(include_str!("labelled/support.suite.yaml")).unwrap();
    let labelled: Vec<Labelled> =
        yaml_serde::from_str(include_str!("labelled/support.labels.yaml")).unwrap();
    let detector = Detector::new(suite.refusal_patterns.as_deref());
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (i, l) in labelled.iter().enumerate() {
        let case = suite.cases.iter().find(|c| c.id == l.case).unwrap();
        for verdict in score_case(case, &l.answer, &detector) {
            let label = verdict.scorer.label();
            let truly_bad = l.bad.iter().any(|b| b == label);
            let c = counts.entry(label).or_default();
            match (truly_bad, !verdict.passed) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
            if truly_bad == verdict.passed {
                wrong.push(format!("#{i} {} {label}: {:?}", l.case, verdict.findings));
            }
        }
        // Every label names a scorer the case runs.
        for b in &l.bad {
            assert!(
                score_case(case, &l.answer, &detector)
                    .iter()
                    .any(|v| v.scorer.label() == b),
                "#{i}: {b} does not score {}",
                l.case
            );
        }
    }
    println!("| scorer | answers | bad | precision | recall |");
    for (label, c) in &counts {
        println!(
            "| {label} | {} | {} | {:.2} | {:.2} |",
            c.tp + c.fp + c.fn_ + c.tn,
            c.tp + c.fn_,
            c.precision(),
            c.recall()
        );
    }
    println!("misjudged: {wrong:#?}");
    for (label, c) in &counts {
        assert!(
            c.precision() >= 0.75 && c.recall() >= 0.75,
            "{label}: {c:?}; misjudged: {wrong:#?}"
        );
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
}
