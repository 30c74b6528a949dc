//! Process-level tests of the policy tools: `signalbox simulate` and
//! `signalbox test-policy`, their output and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::{TempDir, bin, temp_file};

/// `signalbox` with the variables examples/residency.yaml needs.
fn residency() -> Command {
    let mut c = bin();
    c.env("US_URL", "http://127.0.0.1:9011/v1")
        .env("EU_URL", "http://127.0.0.1:9012/v1")
        .env("ACME_KEY", "sk-acme-test")
        .env("GLOBEX_KEY", "sk-globex-test")
        .env("ADMIN_TOKEN", "admin-test");
    c
}

/// `signalbox` with the variable examples/demo.yaml needs (eu-bank's key).
fn demo() -> Command {
    let mut c = bin();
    c.env("DEMO_EU_BANK_KEY", "demo-eu-bank-test");
    c
}

/// The request in a file `name` of its own directory (keep the guard).
fn chat_request(name: &str) -> (TempDir, PathBuf) {
    temp_file(
        "policy",
        name,
        r#"{"model":"chat","messages":[{"role":"user","content":"Hello"}]}"#,
    )
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// === test-policy ===

#[test]
fn shipped_policy_cases_pass() {
    let out = demo()
        .args([
            "test-policy",
            "examples/demo.yaml",
            "examples/policy-cases.yaml",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.ends_with(" passed, 0 failed"), "{stdout}");
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 8, "{stdout}");
    assert!(stdout.lines().filter(|l| l.starts_with("PASS  ")).count() == passed);
}

#[test]
fn a_failing_case_is_named_and_fails_the_run() {
    let (_cases_dir, cases) = temp_file(
        "policy",
        "failing.yaml",
        r"
cases:
  - name: default goes to the US
    expect: { route: us-large }
  - name: eu pinning goes to the US
    headers: { x-signalbox-region: eu }
    expect: { route: us-large }
",
    );
    let out = demo()
        .args(["test-policy", "examples/demo.yaml"])
        .arg(&cases)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  default goes to the US"), "{stdout}");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("FAIL  eu pinning goes to the US"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        fail.contains("expected route us-large, got eu-large (ranking [eu-large, eu-small])"),
        "{fail}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_malformed_cases_file_reports_the_path() {
    let (_cases_dir, cases) = temp_file(
        "policy",
        "malformed.yaml",
        r"
cases:
  - name: typo
    expect: { rout: eu-large }
  - name: unknown route
    expect: { route: eu-medium }
",
    );
    let out = demo()
        .args(["test-policy", "examples/demo.yaml"])
        .arg(&cases)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("cases[0].expect"), "{stderr}");
    assert!(stderr.contains("unknown field `rout`"), "{stderr}");

    let (_fixed_dir, fixed) = temp_file(
        "policy",
        "unknown-route.yaml",
        "cases:\n  - name: unknown route\n    expect: { route: eu-medium }\n",
    );
    let out = demo()
        .args(["test-policy", "examples/demo.yaml"])
        .arg(&fixed)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"cases[0].expect.route: unknown route "eu-medium""#),
        "{stderr}"
    );
}

// === simulate ===

#[test]
fn simulate_names_the_chosen_route() {
    let (_req_dir, req) = chat_request("routed.json");
    let out = demo()
        .args(["simulate", "--config", "examples/demo.yaml", "--request"])
        .arg(&req)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let why = stdout.lines().next().unwrap();
    assert!(why.starts_with("Why:"), "{stdout}");
    assert!(why.contains("us-large would be tried first"), "{why}");
}

#[test]
fn simulate_keeps_acme_in_the_eu() {
    let (_req_dir, req) = chat_request("acme.json");
    let out = residency()
        .args([
            "simulate",
            "--config",
            "examples/residency.yaml",
            "--tenant",
            "acme",
            "--request",
        ])
        .arg(&req)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("eu would be tried first"), "{stdout}");
    assert!(stdout.contains("us: not eligible"), "{stdout}");
    assert!(stdout.contains("region us ∉ [eu]"), "{stdout}");
}

#[test]
fn simulate_exits_2_when_the_policy_refuses() {
    let (_req_dir, req) = chat_request("forbidden.json");
    let out = residency()
        .args([
            "simulate",
            "--config",
            "examples/residency.yaml",
            "--tenant",
            "acme",
            "--header",
            "x-signalbox-region:us",
            "--request",
        ])
        .arg(&req)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("tenant acme may not request region us (allowed: eu)"),
        "{stdout}"
    );
    assert!(stdout.contains("status:  403"), "{stdout}");
}

#[test]
fn simulate_authenticates_with_a_header_and_prints_json() {
    let (_req_dir, req) = chat_request("json.json");
    let out = residency()
        .args([
            "simulate",
            "-c",
            "examples/residency.yaml",
            "-H",
            "authorization: Bearer sk-globex-test",
            "--json",
            "-r",
        ])
        .arg(&req)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["tenant"], "globex");
    assert_eq!(v["chosen"], "us");
    assert_eq!(v["ranking"], serde_json::json!(["us", "eu"]));
    assert_eq!(v["candidates"].as_array().unwrap().len(), 2);
}

#[test]
fn simulate_rejects_an_unknown_tenant_and_a_missing_key() {
    let (_req_dir, req) = chat_request("unknown.json");
    let out = residency()
        .args([
            "simulate",
            "-c",
            "examples/residency.yaml",
            "--tenant",
            "initech",
            "-r",
        ])
        .arg(&req)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("known: acme, globex"), "{stderr}");

    let out = residency()
        .args(["simulate", "-c", "examples/residency.yaml", "--json", "-r"])
        .arg(&req)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["outcome"], "refused");
    assert_eq!(v["status"], 401);
}
