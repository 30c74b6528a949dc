//! `signalbox test-policy`: policy as code. Runs every case of a cases file
//! through the policy (no provider is called) and checks its expectations.
//!
//! Prints `PASS  name` or `FAIL  name  why` per case, then `N passed, M
//! failed`. Exit codes: 0 all passed, 1 a case failed (or the configuration
//! is invalid), 2 the cases file is invalid.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use signalbox_policy::PolicySnapshot;

use super::cases::{self, Case};
use super::evaluate::{Evaluation, evaluate};
use super::simulate::load_snapshot;

/// Exit code for an invalid cases file.
const CASES_ERROR: u8 = 2;

pub fn run(config: &Path, cases_path: &Path) -> anyhow::Result<ExitCode> {
    let snap = load_snapshot(config)?;
    let cases = match cases::load(cases_path, &snap) {
        Ok(cases) => cases,
        Err(errors) => {
            let n = errors.len();
            eprintln!(
                "{}: {n} error{}",
                cases_path.display(),
                if n == 1 { "" } else { "s" }
            );
            for e in &errors {
                eprintln!("  {e}");
            }
            return Ok(ExitCode::from(CASES_ERROR));
        }
    };
    let width = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let (mut passed, mut failed) = (0, 0);
    let mut report = String::new();
    for case in &cases {
        let problems = check(&snap, case);
        if problems.is_empty() {
            passed += 1;
            let _ = writeln!(report, "PASS  {}", case.name);
        } else {
            failed += 1;
            let _ = writeln!(
                report,
                "FAIL  {:<width$}  {}",
                case.name,
                problems.join("; "),
                width = width
            );
        }
    }
    let _ = writeln!(report, "{passed} passed, {failed} failed");
    super::emit(&report)?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every unmet expectation of one case.
fn check(snap: &PolicySnapshot, case: &Case) -> Vec<String> {
    let eval = evaluate(snap, case.tenant, &case.headers, &case.request);
    let ranking = eval.ranking(snap);
    let got = got(&eval, &ranking);
    let e = &case.expect;
    let mut problems = Vec::new();
    match (&e.refusal, &eval.refusal) {
        (None, Some(r)) => problems.push(format!("unexpected refusal {}: {r}", r.label())),
        (Some(want), None) if want == "any" => {
            problems.push(format!("expected a refusal, got {got}"));
        }
        (Some(want), None) => problems.push(format!("expected refusal {want}, got {got}")),
        (Some(want), Some(r)) if want != "any" && want != r.label() => {
            problems.push(format!("expected refusal {want}, got {got}"));
        }
        _ => {}
    }
    if let Some(want) = &e.route
        && ranking.first() != Some(want)
    {
        problems.push(format!("expected route {want}, got {got}"));
    }
    if let Some(want) = &e.ranking
        && &ranking != want
    {
        problems.push(format!(
            "expected ranking {}, got {}",
            list(want),
            list(&ranking)
        ));
    }
    if let Some(want) = &e.rule {
        match &eval.decision {
            None => problems.push(format!("expected rule {want}, got {got} before any rule")),
            Some(d) => {
                let actual = d.rule_name(snap).unwrap_or("none");
                if actual != want {
                    problems.push(format!("expected rule {want}, got {actual}"));
                }
            }
        }
    }
    if let Some(want) = &e.intent {
        match &eval.signals {
            None => problems.push(format!(
                "expected intent {want}, got {got} before signals were extracted"
            )),
            Some(s) if &s.intent != want => {
                problems.push(format!("expected intent {want}, got {}", s.intent));
            }
            Some(_) => {}
        }
    }
    if let Some(want) = &e.excluded {
        let excluded = eval.excluded(snap);
        let missing: Vec<&String> = want.iter().filter(|r| !excluded.contains(r)).collect();
        if !missing.is_empty() {
            let missing: Vec<String> = missing.into_iter().cloned().collect();
            problems.push(format!(
                "expected {} excluded, got excluded {}",
                list(&missing),
                list(&excluded)
            ));
        }
    }
    problems
}

/// What actually happened: `us (ranking [us, eu])` or `refusal forbidden (…)`.
fn got(eval: &Evaluation, ranking: &[String]) -> String {
    match (&eval.refusal, ranking.first()) {
        (Some(r), _) => format!("refusal {} ({r})", r.label()),
        (None, Some(first)) => format!("{first} (ranking {})", list(ranking)),
        (None, None) => "no candidates".to_string(),
    }
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}
