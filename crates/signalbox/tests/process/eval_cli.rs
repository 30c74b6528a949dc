//! `signalbox eval`: suites checked with their errors' paths, and run
//! through a real gateway process against mocks, with pass rates reported
//! and `--min` deciding the exit status.

use crate::common::process::{serve, two_mocks};
use crate::common::{bin, repo_root, temp_file};

const SUITE: &str = r#"
suite: demo-tools
cases:
  - id: weather
    intent: weather
    messages: [{role: user, content: "What is the weather in Paris?"}]
    tools:
      - name: get_weather
        parameters: {type: object, properties: {location: {type: string}}, required: [location]}
    expect: {tool: {name: get_weather, arguments: {location: Paris}}}
  - id: echo
    intent: smalltalk
    messages: [{role: user, content: "hello there"}]
    expect: {facts: ["hello there"], refusal: false}
"#;

#[test]
fn eval_check_names_the_bad_field() {
    let (_good_dir, good) = temp_file("eval-check", "good.yaml", SUITE);
    let (_bad_dir, bad) = temp_file(
        "eval-check",
        "bad.yaml",
        &SUITE.replace("name: get_weather, arguments", "name: nope, arguments"),
    );
    let out = bin()
        .args(["eval", "check"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("suite demo-tools with 2 case(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("cases[0].expect.tool.name"), "{stdout}");
}

// Multi-threaded: the mocks keep answering while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_scores_a_gateways_answers_and_gates_on_min() {
    let (primary, _secondary, _child, addr) = failover_gateway().await;
    let (_suite_dir, suite) = temp_file("eval-run", "suite.yaml", SUITE);
    let run = |min: &str| {
        bin()
            .args([
                "eval",
                "run",
                "--url",
                &format!("http://{addr}"),
                "--model",
                "chat",
                "--min",
                min,
            ])
            .arg(&suite)
            .output()
            .unwrap()
    };
    let out = run("tool-call=1.0");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tool-call"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");

    // The model silently breaks its tool calls: the run says so and fails.
    primary.set_faults(signalbox_mock::Faults {
        corrupt_tool_arguments: true,
        ..signalbox_mock::Faults::default()
    });
    let out = run("tool-call=1.0");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL demo-tools weather tool-call"),
        "{stdout}"
    );
    assert!(
        stdout.contains("below threshold: tool-call 0.00 < 1.00"),
        "{stdout}"
    );
}

// Multi-threaded: the mocks keep answering while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_with_routes_judges_each_route_of_the_alias_on_its_own() {
    let (_primary, secondary, _child, addr) = failover_gateway().await;
    let (_suite_dir, suite) = temp_file("eval-routes", "suite.yaml", SUITE);
    // The fallback route's model breaks its tool calls: through the alias
    // nobody sees it (the primary serves everything).
    secondary.set_faults(signalbox_mock::Faults {
        corrupt_tool_arguments: true,
        ..signalbox_mock::Faults::default()
    });
    let run = |routes: &[&str]| {
        let mut cmd = bin();
        cmd.args(["eval", "run", "--url", &format!("http://{addr}")])
            .args(["--alias", "chat", "--min", "tool-call=1.0"]);
        for r in routes {
            cmd.args(["--route", r]);
        }
        cmd.arg(&suite).output().unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(secondary.stats().requests, 0);

    let out = run(&["primary", "secondary"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("route primary") && stdout.contains("route secondary"),
        "one table row per route: {stdout}"
    );
    assert!(
        stdout.contains("below threshold: tool-call 0.00 < 1.00 (route secondary)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("(route primary)\nbelow") && !stdout.contains("< 1.00 (route primary)"),
        "the primary passes on its own: {stdout}"
    );
    assert_eq!(
        secondary.stats().requests,
        2,
        "each case reached the pinned route"
    );

    // A broken suite file costs no traffic: every file is read first.
    let (_broken_dir, broken) = temp_file("eval-routes", "broken.yaml", "suite: x\ncases: []\n");
    let before = secondary.stats().requests;
    let out = bin()
        .args([
            "eval",
            "run",
            "--url",
            &format!("http://{addr}"),
            "--alias",
            "chat",
        ])
        .args(["--route", "secondary"])
        .arg(&suite)
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cases: must not be empty"));
    assert_eq!(secondary.stats().requests, before);

    // A route the alias does not have is refused by the gateway, not
    // served by another route.
    let out = run(&["nowhere"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("unknown route `nowhere`"), "{stdout}");
}

// Multi-threaded: the mocks keep answering while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_with_a_prompt_version_sends_that_version() {
    let TranslationGateway {
        claude: _,
        gpt,
        config: _,
        envs: _,
        _child,
        addr,
    } = translation_gateway().await;
    let (_suite_dir, suite) = temp_file("eval-prompt-version", "support.yaml", GREETING);
    // The model cannot cope with v2's wording.
    gpt.set_faults(signalbox_mock::Faults {
        fail_when_body_contains: Some("cite the help-center".into()),
        ..signalbox_mock::Faults::default()
    });
    let run = |version: &str| {
        bin()
            .args(["eval", "run", "--url", &format!("http://{addr}")])
            .args(["--alias", "chat-gpt", "--min", "grounded=1.0"])
            .args(["--prompt-version", version, "--var", "product=Acme"])
            .arg(&suite)
            .output()
            .unwrap()
    };
    let out = run("support-answer@v1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let sent = gpt.stats().last_request.unwrap_or_default().to_string();
    assert!(sent.contains("support assistant for Acme"), "{sent}");

    let out = run("support-answer@v2");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("greet: no answer"), "{stdout}");
}

const GREETING: &str = r#"
suite: support
cases:
  - id: greet
    intent: support
    messages: [{role: user, content: "hello there"}]
    expect: {facts: ["hello there"], refusal: false}
"#;

// Multi-threaded: the mocks keep answering while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_prompts_compares_every_variant_and_fails_on_a_disagreement() {
    let TranslationGateway {
        claude,
        gpt: _,
        config,
        envs,
        _child,
        addr,
    } = translation_gateway().await;
    let (_suite_dir, suite) = temp_file("eval-prompts", "support.yaml", GREETING);
    let run = || {
        bin()
            .args(["eval", "prompts", "support-answer@v2", "--config"])
            .arg(&config)
            .arg("--suite")
            .arg(&suite)
            .args(["--url", &format!("http://{addr}")])
            .args([
                "--model",
                "default=chat-gpt",
                "--model",
                "anthropic=chat-claude",
            ])
            .args(["--var", "product=Acme"])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every variant agrees"), "{stdout}");
    assert!(
        stdout.contains("anthropic"),
        "both variants were asked: {stdout}"
    );
    // The Anthropic family's model starts refusing what the other answers.
    claude.set_faults(signalbox_mock::Faults {
        quality: Some(signalbox_mock::QualityFault::OverRefuse),
        ..signalbox_mock::Faults::default()
    });
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "DISAGREE support greet (support): default refused=false, anthropic refused=true"
        ),
        "{stdout}"
    );
}

const JUDGED: &str = r#"
suite: judged
cases:
  - id: greet
    intent: support
    messages: [{role: user, content: "hello there"}]
    expect: {judge: {rubric: "Answers the greeting instead of refusing it.", min: 0.7}}
"#;

// Multi-threaded: the mocks keep answering while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_asks_a_judge_alias_routed_by_the_policy() {
    let TranslationGateway {
        claude,
        gpt,
        config: _,
        envs: _,
        _child,
        addr,
    } = translation_gateway().await;
    let (_suite_dir, suite) = temp_file("eval-judge", "judged.yaml", JUDGED);
    let run = || {
        bin()
            .args(["eval", "run", "--url", &format!("http://{addr}")])
            .args([
                "--model",
                "chat-claude",
                "--judge",
                "chat-gpt",
                "--min",
                "judge=1.0",
            ])
            .arg(&suite)
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("judge"), "{stdout}");
    // The graded model starts refusing; the judge (another route) says so.
    claude.set_faults(signalbox_mock::Faults {
        quality: Some(signalbox_mock::QualityFault::OverRefuse),
        ..signalbox_mock::Faults::default()
    });
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL judged greet judge: judged 0.00 < 0.70"),
        "{stdout}"
    );
    assert!(
        stdout.contains("below threshold: judge 0.00 < 1.00"),
        "{stdout}"
    );
    // The judge's request went through the gateway to the judge alias's route.
    let judged = gpt.stats().last_request.unwrap_or_default();
    assert!(judged.to_string().contains("[signalbox-judge]"), "{judged}");
}

/// examples/translation.yaml served in front of an Anthropic mock (`chat-claude`)
/// and an OpenAI mock (`chat-gpt`).
struct TranslationGateway {
    claude: signalbox_mock::MockHandle,
    gpt: signalbox_mock::MockHandle,
    config: std::path::PathBuf,
    envs: [(&'static str, String); 3],
    _child: crate::common::process::Killed,
    addr: String,
}

async fn translation_gateway() -> TranslationGateway {
    use signalbox_mock::{MockFormat, MockOptions, MockProvider};
    signalbox_testkit::init_tls();
    let opts = |n: &str| MockOptions {
        name: n.into(),
        ..MockOptions::default()
    };
    let any = signalbox_testkit::any_port;
    let claude = MockProvider::start_as(any(), opts("claude"), MockFormat::Anthropic)
        .await
        .unwrap();
    let gpt = MockProvider::start(any(), opts("gpt")).await.unwrap();
    let config = repo_root().join("examples/translation.yaml");
    let envs = [
        ("ANTHROPIC_URL", claude.base_url()),
        ("OPENAI_URL", gpt.base_url()),
        ("DECISION_LOG", "false".to_owned()),
    ];
    let (child, addr) = serve(config.to_str().unwrap(), &envs, &[]).await;
    TranslationGateway {
        claude,
        gpt,
        config,
        envs,
        _child: child,
        addr,
    }
}

/// examples/failover.yaml served in front of two mocks (`chat`: primary,
/// then secondary).
async fn failover_gateway() -> (
    signalbox_mock::MockHandle,
    signalbox_mock::MockHandle,
    crate::common::process::Killed,
    String,
) {
    let (primary, secondary) = two_mocks().await;
    let config = repo_root().join("examples/failover.yaml");
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (child, addr) = serve(config.to_str().unwrap(), &envs, &[]).await;
    (primary, secondary, child, addr)
}

const SCORED_CONFIG: &str = r#"
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: us-large, provider: primary, model: m, region: us, supports: { tools: true } }
aliases:
  - { name: chat, routes: [us-large] }
admin:
  tokens:
    - { name: viewer, role: read-only, token: { env: VIEWER_TOKEN } }
quality:
  every: 1s
  suites:
    - { path: "${SUITE_PATH}", min-pass-rate: { tool-call: 1.0 } }
"#;

// Multi-threaded: the mock and the gateway keep serving while the CLI runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_scores_lists_the_scheduled_runs_scores_per_model_version() {
    let (_suite_dir, suite) = temp_file("eval-scores", "suite.yaml", SUITE);
    let h = signalbox_testkit::Harness::start(
        SCORED_CONFIG,
        &["primary"],
        &[
            ("VIEWER_TOKEN", "viewer-token".into()),
            ("SUITE_PATH", suite.display().to_string()),
        ],
    )
    .await;
    let url = h.gateway.base_url();
    let scores = |extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut cmd = bin();
            cmd.args(["eval", "scores", "--url", &url]).args(extra);
            cmd.env("SIGNALBOX_ADMIN_TOKEN", "viewer-token");
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let mut table = String::new();
    for _ in 0..100 {
        table = scores(&["--route", "us-large"]).await;
        if table.contains("tool-call") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(table.starts_with("window (unix)"), "{table}");
    assert!(
        table.contains("us-large") && table.contains("demo-tools"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("runs replicas")),
        "{table}"
    );
    let json = scores(&["--scorer", "tool-call", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["scores"][0]["model_version"], "m", "{v}");
    assert_eq!(v["scores"][0]["prompt_version"], "-", "{v}");
    assert_eq!(v["source"], "shared", "{v}");
    assert_eq!(
        v["scores"][0]["replicas"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
    let none = scores(&["--model-version", "nope"]).await;
    assert!(none.contains("(no scores yet)"), "{none}");
}

/// A case whose answer may cost at most a millionth of a dollar, on a
/// route priced so that every answer costs more.
const COSTLY_SUITE: &str = r#"
suite: costs
cases:
  - id: hello
    intent: smalltalk
    messages: [{role: user, content: "hello there"}]
    expect: {max_cost_usd: 0.000001, max_latency_ms: 60000}
"#;

// Multi-threaded: the mock and the gateway keep serving while the CLI runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_with_records_checks_cost_from_the_decision_record() {
    let (_suite_dir, suite) = temp_file("eval-records", "suite.yaml", COSTLY_SUITE);
    let config = SCORED_CONFIG
        .replace(
            "supports: { tools: true } }",
            "supports: { tools: true }, price: { input-per-1m: 1000, output-per-1m: 1000 } }",
        )
        .replace("quality:\n  every: 1s\n  suites:\n    - { path: \"${SUITE_PATH}\", min-pass-rate: { tool-call: 1.0 } }\n", "");
    let h = signalbox_testkit::Harness::start(
        &config,
        &["primary"],
        &[("VIEWER_TOKEN", "viewer-token".into())],
    )
    .await;
    let url = h.gateway.base_url();
    let run = |records: bool| {
        let mut cmd = bin();
        cmd.args([
            "eval",
            "run",
            "--url",
            &url,
            "--alias",
            "chat",
            "--min",
            "budget=1.0",
        ])
        .arg(&suite)
        .env("SIGNALBOX_ADMIN_TOKEN", "viewer-token");
        if records {
            cmd.arg("--records");
        }
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    // Without the record, the cost is unknown: not checked, not failed.
    let out = run(false).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With it, the gateway's own price of the answer breaks the limit.
    let out = run(true).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("budget"), "{stdout}");
    assert!(stdout.contains("cost"), "{stdout}");
    h.stop().await;
}
