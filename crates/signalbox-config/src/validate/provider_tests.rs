//! Provider kinds: what each requires, defaults and refuses.

use std::collections::HashMap;

use crate::{ProviderKind, load_str};

fn doc(provider: &str) -> String {
    format!(
        "\
regions: [us]
providers:
{provider}
routes:
  - id: r
    provider: p
    model: m
    region: us
aliases:
  - name: chat
    routes: [r]
"
    )
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn errors(provider: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
    match load_str(&doc(provider), "t.yaml", &vars(env)) {
        Ok(_) => panic!("expected errors for {provider}"),
        Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

#[test]
fn anthropic_and_gemini_take_a_host_root_and_optional_key() {
    let c = load_str(
        &doc("  - {name: p, kind: anthropic, base-url: 'http://127.0.0.1:9/'}"),
        "t.yaml",
        &vars(&[]),
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.kind, ProviderKind::Anthropic);
    assert_eq!(p.base_url, "http://127.0.0.1:9");
    assert!(p.api_key.is_none() && p.api_version.is_none() && p.aws.is_none());

    let c = load_str(
        &doc("  - {name: p, kind: gemini, base-url: 'http://g', api-key: {env: G}}"),
        "t.yaml",
        &vars(&[("G", "g-key")]),
    )
    .unwrap();
    assert_eq!(c.providers[0].api_version.as_deref(), Some("v1beta"));
    assert_eq!(c.providers[0].kind.family(), "gemini");
}

#[test]
fn azure_defaults_its_api_version_and_takes_quirks() {
    let c = load_str(
        &doc("  - {name: p, kind: azure-openai, base-url: 'https://r.openai.azure.com', quirks: {seed: false}}"),
        "t.yaml",
        &vars(&[]),
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.api_version.as_deref(), Some("2024-10-21"));
    assert!(!p.quirks.seed);
    assert_eq!(p.kind.family(), "openai");
}

#[test]
fn bedrock_needs_a_region_and_credentials() {
    let c = load_str(
        &doc("  - {name: p, kind: bedrock, aws-region: eu-west-1}"),
        "t.yaml",
        &vars(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ]),
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(
        p.base_url,
        "https://bedrock-runtime.eu-west-1.amazonaws.com"
    );
    let aws = p.aws.as_ref().unwrap();
    assert_eq!(aws.region, "eu-west-1");
    assert_eq!(aws.access_key_id.expose(), "AKID");
    assert!(aws.session_token.is_none());

    let errs = errors("  - {name: p, kind: bedrock, aws-region: eu-west-1}", &[]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "providers[0].aws-credentials");
    assert!(errs[0].1.contains("AWS_ACCESS_KEY_ID"), "{errs:?}");
    // The message names variables, never values.
    let errs = errors(
        "  - {name: p, kind: bedrock, aws-credentials: {access-key-id: {env: A}, secret-access-key: {env: B}}}",
        &[("A", "AKID"), ("B", "s3cr3t")],
    );
    assert_eq!(
        errs,
        [(
            "providers[0].aws-region".to_owned(),
            "is required for a bedrock provider (e.g. us-east-1)".to_owned()
        )]
    );
}

#[test]
fn kind_specific_keys_are_refused_elsewhere() {
    let errs = errors(
        "  - {name: p, kind: anthropic, base-url: 'http://a', api-version: v1, aws-region: us-east-1, quirks: {seed: false}}",
        &[],
    );
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "providers[0].aws-region",
            "providers[0].api-version",
            "providers[0].quirks"
        ],
        "{errs:?}"
    );
    let errs = errors("  - {name: p, kind: gemini}", &[]);
    assert_eq!(
        errs,
        [(
            "providers[0].base-url".to_owned(),
            "is required for a provider of kind gemini".to_owned()
        )]
    );
    let errs = errors(
        "  - {name: p, kind: openai-compatible, base-url: 'http://a', quirks: {no-such: true}}",
        &[],
    );
    assert!(errs[0].1.contains("no-such"), "{errs:?}");
}

#[test]
fn stream_event_cap_defaults_and_refuses_tiny_values() {
    let c = load_str(
        &doc("  - {name: p, kind: openai-compatible, base-url: 'http://x/v1'}"),
        "t.yaml",
        &vars(&[]),
    )
    .unwrap();
    assert_eq!(
        c.providers[0].max_stream_event_bytes,
        crate::DEFAULT_MAX_STREAM_EVENT_BYTES
    );
    let c = load_str(
        &doc("  - {name: p, kind: openai-compatible, base-url: 'http://x/v1', max-stream-event-bytes: 65536}"),
        "t.yaml",
        &vars(&[]),
    )
    .unwrap();
    assert_eq!(c.providers[0].max_stream_event_bytes, 65536);
    let errs = errors(
        "  - {name: p, kind: openai-compatible, base-url: 'http://x/v1', max-stream-event-bytes: 8}",
        &[],
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "providers[0].max-stream-event-bytes");
    assert!(errs[0].1.contains("at least 4096"), "{errs:?}");
}

#[test]
fn cohere_takes_the_common_keys_only_with_messages_from_the_kind_list() {
    let c = load_str(
        &doc("  - {name: p, kind: cohere, base-url: 'https://api.cohere.com', api-key: {env: CO}}"),
        "t.yaml",
        &vars(&[("CO", "co-key")]),
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.kind, ProviderKind::Cohere);
    assert_eq!(p.kind.family(), "cohere");
    assert!(p.api_version.is_none() && p.aws.is_none());

    let errs = errors(
        "  - {name: p, kind: cohere, base-url: 'http://c', api-version: v2, quirks: {seed: false}, aws-region: us-east-1}",
        &[],
    );
    let want = [
        (
            "providers[0].api-version",
            "only azure-openai and gemini providers take an api-version (this one is cohere)",
        ),
        (
            "providers[0].quirks",
            "only openai-compatible and azure-openai providers take quirks (this one is cohere)",
        ),
        (
            "providers[0].aws-region",
            "only bedrock providers take aws-region (this one is cohere)",
        ),
    ];
    for (path, message) in want {
        assert!(
            errs.iter().any(|(p, m)| p == path && m == message),
            "{path}: {message} not in {errs:?}"
        );
    }
    let errs = errors("  - {name: p, kind: cohere}", &[]);
    assert!(
        errs.iter().any(|(p, m)| p == "providers[0].base-url"
            && m == "is required for a provider of kind cohere"),
        "{errs:?}"
    );
}

#[test]
fn a_default_first_token_follows_a_shorter_total_but_an_explicit_one_may_not_exceed_it() {
    let c = load_str(
        &doc("  - {name: p, kind: openai-compatible, base-url: 'http://x/v1', timeouts: {first-byte: 5s, total: 10s}}"),
        "t.yaml",
        &vars(&[]),
    )
    .unwrap();
    assert_eq!(c.providers[0].timeouts.first_token.as_secs(), 10);
    let errs = errors(
        "  - {name: p, kind: openai-compatible, base-url: 'http://x/v1', timeouts: {first-byte: 5s, first-token: 20s, total: 10s}}",
        &[],
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "providers[0].timeouts.first-token");
}
