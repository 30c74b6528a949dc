//! Validation of the `state` section.

use std::collections::HashMap;

use crate::model::{StateBackend, StateConfig};
use crate::{ConfigErrors, load_str};

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: r, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [r] }
";

fn vars() -> HashMap<String, String> {
    [
        (
            "REDIS_URL".to_owned(),
            "redis://:pw@10.0.0.5:6379/2".to_owned(),
        ),
        ("NOT_REDIS".to_owned(), "http://secret-host".to_owned()),
    ]
    .into()
}

fn load(extra: &str) -> Result<crate::Config, ConfigErrors> {
    load_str(&format!("{BASE}{extra}"), "test.yaml", &vars())
}

fn messages(extra: &str) -> Vec<String> {
    match load(extra) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(e) => {
            e.0.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        }
    }
}

#[test]
fn memory_is_the_default() {
    let c = load("").unwrap();
    assert_eq!(c.state, StateConfig::default());
    assert_eq!(c.state.key_prefix, "signalbox:");
    let c = load("state: { backend: memory }\n").unwrap();
    assert_eq!(c.state.backend, StateBackend::Memory);
}

#[test]
fn redis_reads_its_url_from_a_secret_source() {
    let c = load("state: { backend: redis, redis-url: { env: REDIS_URL }, key-prefix: 'prod:' }\n")
        .unwrap();
    let StateBackend::Redis { url } = &c.state.backend else {
        panic!("not redis: {:?}", c.state)
    };
    assert_eq!(url.expose(), "redis://:pw@10.0.0.5:6379/2");
    assert_eq!(c.state.key_prefix, "prod:");
    assert!(
        c.summary()
            .contains("  shared state in redis (key prefix prod:)\n")
    );
    assert!(!c.summary().contains("pw@"));
    assert!(
        !format!("{:?}", c.state).contains("pw@"),
        "the URL is never printed"
    );
}

#[test]
fn redis_url_errors_have_paths_and_never_echo_values() {
    assert_eq!(
        messages("state: { backend: redis }\n"),
        ["state.redis-url: required with backend: redis; use {env: VAR} or {file: PATH}"]
    );
    assert_eq!(
        messages("state: { backend: redis, redis-url: 'redis://:pw@h:6379' }\n"),
        ["state.redis-url: inline keys are not allowed; use {env: VAR} or {file: PATH}"]
    );
    assert_eq!(
        messages("state: { backend: redis, redis-url: { env: MISSING } }\n"),
        ["state.redis-url: environment variable MISSING is not set"]
    );
    let m = messages("state: { backend: redis, redis-url: { env: NOT_REDIS } }\n");
    assert_eq!(
        m,
        ["state.redis-url: must be a redis:// or redis+unix:// URL"]
    );
    assert_eq!(
        messages("state: { redis-url: { env: REDIS_URL } }\n"),
        ["state.redis-url: only used with backend: redis (the backend is memory)"]
    );
}

#[test]
fn bad_prefix_backend_and_unknown_keys() {
    assert_eq!(
        messages("state: { key-prefix: 'a b' }\n"),
        ["state.key-prefix: must be non-empty and contain no whitespace"]
    );
    assert_eq!(
        messages("state: { key-prefix: '' }\n"),
        ["state.key-prefix: must be non-empty and contain no whitespace"]
    );
    assert!(load("state: { backend: etcd }\n").is_err());
    assert!(load("state: { url: x }\n").is_err());
}
