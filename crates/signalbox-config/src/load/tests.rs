use std::collections::HashMap;
use std::path::Path;

use super::{load_file, load_str};
use crate::vars::VarSource;
use crate::{ConfigErrors, Retention};

fn example_vars() -> HashMap<String, String> {
    [
        ("PRIMARY_URL", "http://127.0.0.1:9001/v1"),
        ("SECONDARY_URL", "http://127.0.0.1:9002/v1/"),
        ("US_URL", "http://127.0.0.1:9011/v1"),
        ("EU_URL", "http://127.0.0.1:9012/v1"),
        ("ACME_KEY", "sk-acme-example"),
        ("GLOBEX_KEY", "sk-globex-example"),
        ("ADMIN_TOKEN", "admin-example"),
        ("UPSTREAM_URL", "http://127.0.0.1:9001/v1"),
        ("ANTHROPIC_URL", "http://127.0.0.1:9101"),
        ("OPENAI_URL", "http://127.0.0.1:9102/v1"),
        ("DEMO_EU_BANK_KEY", "demo-eu-bank-example"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn examples_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

#[test]
fn every_example_validates() {
    let mut count = 0;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        // `*-cases.yaml` files are policy test cases, not configurations.
        let is_cases = path
            .file_stem()
            .is_some_and(|s| s.to_string_lossy().ends_with("-cases"));
        if !is_cases && path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let config = load_file(&path, &example_vars())
                .unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
            assert_eq!(config.origin, path.display().to_string());
            assert_eq!(config.version.len(), 12);
            count += 1;
        }
    }
    assert!(count >= 3, "found only {count} examples");
}

#[test]
fn failover_example_values() {
    let config = load_file(&examples_dir().join("failover.yaml"), &example_vars()).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:4000");
    assert_eq!(config.server.max_body_bytes, 4 * 1024 * 1024);
    assert_eq!(config.regions, ["us", "eu"]);
    assert_eq!(config.providers[0].base_url, "http://127.0.0.1:9001/v1");
    assert_eq!(config.providers[1].base_url, "http://127.0.0.1:9002/v1");
    assert!(config.providers[0].api_key.is_none());
    assert_eq!(config.providers[0].timeouts.connect.as_secs(), 1);
    let route = &config.routes[0];
    assert_eq!(route.model, "gpt-4o-mini");
    assert_eq!(route.version, "gpt-4o-mini");
    assert_eq!(route.retention, Retention::Zero);
    assert!(route.supports.json_mode);
    assert_eq!(route.price.output_per_1m, 0.60);
    let alias = config.alias("chat").unwrap();
    assert_eq!(alias.max_attempts, 2);
    assert_eq!(
        config.route(&alias.routes[1]).unwrap().id.as_str(),
        "secondary"
    );
    assert!(config.provider(&route.provider).is_some());
}

#[test]
fn residency_example_values() {
    let config = load_file(&examples_dir().join("residency.yaml"), &example_vars()).unwrap();
    assert_eq!(config.anonymous_tenant, None);
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.plan, "enterprise");
    assert_eq!(acme.allowed_regions, ["eu"]);
    assert_eq!(acme.api_key_hashes, [crate::hash_secret("sk-acme-example")]);
    let globex = config.tenant("globex").unwrap();
    assert_eq!(globex.plan, "default");
    assert_eq!(globex.allowed_regions, ["us", "eu"]);
    assert_eq!(globex.preferred_regions, ["us"]);
    assert_eq!(
        config.admin.token_hash,
        Some(crate::hash_secret("admin-example"))
    );
    assert_eq!(
        config.decision_log.path,
        Path::new("signalbox-decisions.db")
    );
    let eu = config.route(&signalbox_core::RouteId::new("eu")).unwrap();
    assert_eq!((eu.region.as_str(), eu.retention), ("eu", Retention::Zero));
    assert!(eu.supports.tools && eu.supports.json_mode && eu.supports.streaming);
    assert_eq!(eu.context_window, 128_000);
    assert_eq!(config.providers[1].timeouts.first_byte.as_secs(), 5);
    let debug = format!("{config:?}");
    assert!(!debug.contains("sk-acme-example") && !debug.contains("admin-example"));

    let mut vars = example_vars();
    vars.insert("DECISION_DB".into(), "/tmp/decisions.db".into());
    let moved = load_file(&examples_dir().join("residency.yaml"), &vars).unwrap();
    assert_eq!(moved.decision_log.path, Path::new("/tmp/decisions.db"));
    assert_ne!(moved.version, config.version);
    // Rotating a key leaves the policy version alone.
    vars.insert("ACME_KEY".into(), "sk-acme-rotated".into());
    let rotated = load_file(&examples_dir().join("residency.yaml"), &vars).unwrap();
    assert_eq!(rotated.version, moved.version);
}

#[test]
fn demo_example_uses_defaults_and_overrides() {
    let text = std::fs::read_to_string(examples_dir().join("demo.yaml")).unwrap();
    // Only eu-bank's key has no default (`signalbox demo` sets one per run).
    let key = (
        "DEMO_EU_BANK_KEY".to_owned(),
        "demo-eu-bank-test".to_owned(),
    );
    let vars: HashMap<String, String> = [key.clone()].into();
    let config = load_str(&text, "<embedded>", &vars).unwrap();
    assert_eq!(config.providers[2].base_url, "http://127.0.0.1:9103/v1");
    let vars: HashMap<String, String> = [
        ("DEMO_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "DEMO_VLLM_EU_URL".to_owned(),
            "http://127.0.0.1:5555/v1".to_owned(),
        ),
        key,
    ]
    .into();
    let overridden = load_str(&text, "<embedded>", &vars).unwrap();
    assert_eq!(overridden.server.listen.port(), 0);
    assert_eq!(overridden.providers[2].base_url, "http://127.0.0.1:5555/v1");
    assert_ne!(config.version, overridden.version);
}

#[test]
fn version_is_stable_and_tracks_values() {
    let text = std::fs::read_to_string(examples_dir().join("failover.yaml")).unwrap();
    let a = load_str(&text, "a", &example_vars()).unwrap();
    let b = load_str(&text, "b", &example_vars()).unwrap();
    assert_eq!(a.version, b.version);
    assert!(a.version.bytes().all(|c| c.is_ascii_hexdigit()));

    // Reordering keys or reformatting does not change it; a value does.
    let reordered = text.replace(
        "    connect: 1s\n      first-byte: 5s\n",
        "    first-byte: 5s\n      connect: 1s\n",
    );
    assert_eq!(
        load_str(&reordered, "c", &example_vars()).unwrap().version,
        a.version
    );
    let changed = text.replace("input-per-1m: 0.15", "input-per-1m: 0.16");
    assert_ne!(
        load_str(&changed, "d", &example_vars()).unwrap().version,
        a.version
    );

    let mut vars = example_vars();
    vars.insert("PRIMARY_URL".into(), "http://127.0.0.1:9999/v1".into());
    assert_ne!(load_str(&text, "e", &vars).unwrap().version, a.version);
}

#[test]
fn summary_lists_aliases_with_routes() {
    let config = load_file(&examples_dir().join("failover.yaml"), &example_vars()).unwrap();
    let summary = config.summary();
    let expected = format!(
        "{}: OK (policy version {})\n  2 providers, 2 routes, 1 alias\n  1 tenant (anonymous: default), 0 policy rules, 0 intent rules, decision log signalbox-decisions.db (7days)\n  alias chat -> primary (primary/gpt-4o-mini, us), secondary (secondary/gpt-4o-mini, us)\n",
        config.origin, config.version
    );
    assert_eq!(summary, expected);
}

fn errors(text: &str, vars: &dyn VarSource) -> ConfigErrors {
    load_str(text, "test.yaml", vars).unwrap_err()
}

#[test]
fn yaml_syntax_error_keeps_line_and_column() {
    let errs = errors("providers:\n  - name: [unclosed\n", &HashMap::new());
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].path, "");
    let message = &errs.0[0].message;
    assert!(message.starts_with("YAML syntax error"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn empty_document_and_missing_file() {
    let errs = errors("# nothing\n", &HashMap::new());
    assert_eq!(errs.to_string(), "the configuration is empty");
    let errs = load_file(Path::new("/nonexistent/signalbox.yaml"), &HashMap::new()).unwrap_err();
    assert_eq!(errs.0[0].path, "");
    assert!(
        errs.0[0]
            .message
            .starts_with("cannot read /nonexistent/signalbox.yaml")
    );
}

#[test]
fn interpolation_errors_are_all_reported_with_paths() {
    let text = std::fs::read_to_string(examples_dir().join("failover.yaml")).unwrap();
    let errs = errors(&text, &HashMap::new());
    assert_eq!(
        errs.to_string(),
        "providers[0].base-url: environment variable PRIMARY_URL is not set\n\
         providers[1].base-url: environment variable SECONDARY_URL is not set"
    );
}

/// The annotated example in docs/configuration.md must stay valid.
#[test]
fn documented_example_validates() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .unwrap();
    let start = doc.find("## Annotated example").unwrap();
    let block = &doc[start..];
    let body_start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let body = &block[body_start..];
    let yaml = &body[..body.find("```").unwrap()];

    let vars: HashMap<String, String> = [
        ("OPENAI_API_KEY", "sk-doc"),
        ("ACME_KEY", "acme-doc"),
        ("ADMIN_TOKEN", "admin-doc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // The file secret does not exist here; that must be the only problem.
    let errs = load_str(yaml, "docs", &vars).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "providers[1].api-key");

    let (_dir, key) = crate::test_temp::temp_file("doc", "k\n");
    let yaml = yaml.replace("/run/secrets/vllm", &key.display().to_string());
    let config = load_str(&yaml, "docs", &vars).unwrap();
    std::fs::remove_file(&key).unwrap();
    assert_eq!(config.providers[1].base_url, "http://10.0.0.5:8000/v1");
    assert_eq!(config.routes[1].max_output_tokens, 4096);
    assert_eq!(config.alias("chat").unwrap().max_attempts, 2);
    assert_eq!(config.routes[0].max_risk_tier, 1);
    assert_eq!(config.tenants.len(), 2);
    assert_eq!(config.anonymous_tenant.as_deref(), Some("walk-in"));
    assert_eq!(config.tenant("acme").unwrap().risk_floor, 1);
    assert!(config.admin.token_hash.is_some());
    assert_eq!(config.intents.rules.len(), 2);
    let drafting = config.intents.rules[1].when.last_user_message.as_ref();
    assert!(drafting.unwrap().is_match("please write it"));
    assert_eq!(config.policy_rules.len(), 2);
    assert!(config.policy_rules[0].degrade.is_empty());
    assert_eq!(
        config.policy_rules[1].when.headers,
        [("x-feature".to_owned(), "beta".to_owned())]
    );
}

#[test]
fn total_alone_below_default_first_byte_fails() {
    let text = std::fs::read_to_string(examples_dir().join("failover.yaml"))
        .unwrap()
        .replacen(
            "timeouts:\n      connect: 1s\n      first-byte: 5s\n      total: 60s",
            "timeouts: { total: 60s }",
            1,
        );
    let errs = errors(&text, &example_vars());
    assert_eq!(
        errs.to_string(),
        "providers[0].timeouts.first-byte: first-byte (2m) must not exceed total (1m)"
    );
}
