//! Tool-call validity on real data: the Berkeley Function Calling
//! Leaderboard's questions and possible answers, read at test time from
//! the `bfcl-eval` package (Apache-2.0; never copied into this
//! repository). A mock model answers every imported case twice: from
//! BFCL's possible answers (valid), and with its arguments corrupted in
//! one of three ways (invalid). The scorer must tell them apart.
//!
//! Ignored by default (the package is not on a fresh machine); `.ci/run`
//! installs it with `pip install --no-deps bfcl-eval` and runs this test
//! with `BFCL_DATA` set to the package's `data` directory. Without
//! `BFCL_DATA` it fails: a check that cannot fail is no check.

use serde_json::{Map, Value};
use signalbox_eval::bfcl;
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::suite::{Case, ExpectTool};
use signalbox_eval::{Answer, ToolCall, score_case};

fn read(dir: &str, file: &str) -> Result<String, String> {
    let path = format!("{dir}/{file}");
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

/// The answer BFCL's ground truth describes: each argument's first
/// acceptable value (inside objects too), left out where BFCL allows it.
fn valid(expect: &ExpectTool) -> Map<String, Value> {
    pick_fields(&expect.accept)
}

fn pick_fields(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|(k, options)| {
            let first = options.as_array()?.iter().find(|x| !x.is_null())?;
            Some((k.clone(), pick(first)))
        })
        .collect()
}

fn pick(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(pick_fields(m)),
        Value::Array(items) => Value::Array(items.iter().map(pick).collect()),
        other => other.clone(),
    }
}

/// Three corruptions: a required argument dropped, an argument of the
/// wrong type, an argument with a value BFCL does not accept.
fn corrupted(
    case: &Case,
    expect: &ExpectTool,
    args: &Map<String, Value>,
) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let required: Vec<String> = case
        .tools
        .iter()
        .find(|t| t.name == expect.name)
        .and_then(|t| t.parameters.get("required"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if let Some(r) = required.iter().find(|r| args.contains_key(*r)) {
        let mut a = args.clone();
        a.remove(r);
        out.push(a);
    }
    if let Some((k, v)) = args.iter().next() {
        let mut a = args.clone();
        let wrong = match v {
            Value::String(_) => Value::Bool(true),
            _ => Value::String("not-the-right-type".into()),
        };
        a.insert(k.clone(), wrong);
        out.push(a);
        let mut a = args.clone();
        let other = match v {
            Value::Number(n) => Value::from(n.as_f64().unwrap_or(0.0) + 1009.0),
            Value::String(s) => Value::String(format!("{s}-zz9")),
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        };
        a.insert(k.clone(), other);
        out.push(a);
    }
    out
}

fn answer(name: &str, args: &Map<String, Value>) -> Answer {
    Answer {
        tool_calls: vec![ToolCall {
            name: name.to_owned(),
            arguments: Value::Object(args.clone()).to_string(),
        }],
        ..Answer::default()
    }
}

#[test]
#[ignore = "needs the bfcl-eval package: BFCL_DATA=<site-packages>/bfcl_eval/data (run by .ci/run)"]
fn the_tool_call_scorer_separates_bfcls_answers_from_corrupted_ones() {
    let dir = std::env::var("BFCL_DATA").expect("BFCL_DATA names bfcl_eval's data directory");
    let detector = Detector::new(None);
    for category in ["simple_python", "multiple"] {
        let questions = read(&dir, &format!("BFCL_v4_{category}.json")).unwrap();
        let answers = read(&dir, &format!("possible_answer/BFCL_v4_{category}.json")).unwrap();
        let imported = bfcl::import(category, &questions, &answers, 200).unwrap();
        imported.suite.validate().unwrap();
        let (mut valid_pass, mut valid_all, mut bad_caught, mut bad_all) = (0, 0, 0, 0);
        let mut misses = Vec::new();
        for case in &imported.suite.cases {
            let Some(expect) = &case.expect.tool else {
                continue;
            };
            let args = valid(expect);
            let ok = score_case(case, &answer(&expect.name, &args), &detector);
            valid_all += 1;
            if ok.iter().all(|v| v.passed) {
                valid_pass += 1;
            } else {
                misses.push(format!("{} valid: {:?}", case.id, ok[0].findings));
            }
            for bad in corrupted(case, expect, &args) {
                bad_all += 1;
                if score_case(case, &answer(&expect.name, &bad), &detector)
                    .iter()
                    .any(|v| !v.passed)
                {
                    bad_caught += 1;
                } else {
                    misses.push(format!("{} corrupted {bad:?} passed", case.id));
                }
            }
        }
        let (pass, caught) = (
            f64::from(valid_pass) / f64::from(valid_all.max(1)),
            f64::from(bad_caught) / f64::from(bad_all.max(1)),
        );
        println!(
            "bfcl {category}: {valid_all} cases ({} skipped), valid answers passed {pass:.3}, corrupted answers caught {caught:.3} of {bad_all}",
            imported.skipped
        );
        for miss in &misses {
            println!("  miss: {miss}");
        }
        assert!(
            valid_all >= 150,
            "{category}: only {valid_all} cases imported"
        );
        assert!(pass >= 0.98 && caught >= 0.98, "{category}: {misses:#?}");
    }
}
