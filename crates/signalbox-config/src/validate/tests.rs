use std::collections::HashMap;
use std::time::Duration;

use crate::{ConfigErrors, load_str};

const BASE: &str = "\
regions: [us, eu]
providers:
  - name: primary
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1/
  - name: secondary
    kind: openai-compatible
    base-url: https://api.example.com
routes:
  - id: primary
    provider: primary
    model: gpt-4o-mini
    region: us
  - id: secondary
    provider: secondary
    model: gpt-4o-mini
    region: eu
aliases:
  - name: chat
    routes: [primary, secondary]
";

fn vars() -> HashMap<String, String> {
    [
        ("OPENAI_API_KEY".to_owned(), "sk-env".to_owned()),
        ("MAX".to_owned(), "2048".to_owned()),
    ]
    .into()
}

fn load_errors(text: &str) -> ConfigErrors {
    match load_str(text, "test.yaml", &vars()) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// `BASE` with `from` replaced by `to` (which must occur).
fn edited(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    BASE.replacen(from, to, 1)
}

/// Asserts exactly one error, at `path`, with `message`.
fn assert_single(text: &str, path: &str, message: &str) {
    let errs = load_errors(text);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, path, "{errs}");
    assert_eq!(errs.0[0].message, message, "{errs}");
}

#[test]
fn base_is_valid_and_defaults_apply() {
    let config = load_str(BASE, "test.yaml", &vars()).unwrap();
    let route = &config.routes[0];
    assert_eq!(route.context_window, 8192);
    assert_eq!(route.max_output_tokens, 4096);
    assert_eq!(route.version, "gpt-4o-mini");
    assert_eq!(route.retention, crate::Retention::Standard);
    assert_eq!(route.supports, crate::Supports::default());
    assert!(route.supports.streaming);
    assert_eq!(route.price, crate::Price::default());
    assert_eq!(config.providers[0].timeouts, crate::Timeouts::default());
    assert_eq!(config.providers[0].base_url, "http://127.0.0.1:9001/v1");
    assert_eq!(config.providers[1].base_url, "https://api.example.com");
    assert_eq!(config.server, crate::ServerConfig::default());
}

#[test]
fn default_regions_when_omitted() {
    let config = load_str(&edited("regions: [us, eu]\n", ""), "t", &vars()).unwrap();
    assert_eq!(config.regions, crate::DEFAULT_REGIONS);
}

#[test]
fn unknown_region() {
    assert_single(
        &edited("region: eu", "region: eu-wst"),
        "routes[1].region",
        "unknown region \"eu-wst\" (known: us, eu)",
    );
}

#[test]
fn unknown_provider() {
    assert_single(
        &edited("provider: secondary", "provider: foo"),
        "routes[1].provider",
        "unknown provider \"foo\" (known: primary, secondary)",
    );
}

#[test]
fn duplicate_ids() {
    let errs = load_errors(&edited("id: secondary", "id: primary"));
    assert_eq!(errs.0[0].path, "routes[1].id", "{errs}");
    assert_eq!(
        errs.0[0].message,
        "duplicate route id \"primary\" (first defined at routes[0])"
    );
    // The alias now names a route that no longer exists; the known list is deduplicated.
    assert_eq!(
        errs.0[1].message,
        "unknown route \"secondary\" (known: primary)"
    );
    let errs = load_errors(&edited("name: secondary", "name: primary"));
    assert!(errs.has_path("providers[1].name"), "{errs}");
    assert_single(
        &edited("routes: [primary, secondary]", "routes: [primary, primary]"),
        "aliases[0].routes[1]",
        "duplicate route \"primary\" (first defined at routes[0])",
    );
}

#[test]
fn bad_names() {
    assert_single(
        &edited("name: chat", "name: \"chat model\""),
        "aliases[0].name",
        "invalid alias name \"chat model\": use only letters, digits, '.', '_' and '-'",
    );
}

#[test]
fn inline_api_key() {
    assert_single(
        &edited(
            "base-url: https://api.example.com",
            "base-url: https://api.example.com\n    api-key: sk-live-123",
        ),
        "providers[1].api-key",
        "inline keys are not allowed; use {env: VAR} or {file: PATH}",
    );
}

#[test]
fn api_key_from_env_and_missing_var() {
    let text = edited(
        "base-url: https://api.example.com",
        "base-url: https://api.example.com\n    api-key: { env: OPENAI_API_KEY }",
    );
    let config = load_str(&text, "t", &vars()).unwrap();
    let key = config.providers[1].api_key.as_ref().unwrap();
    assert_eq!(key.expose(), "sk-env");
    assert!(!format!("{config:?}").contains("sk-env"));
    assert_single(
        &text.replace("OPENAI_API_KEY", "NO_SUCH_KEY"),
        "providers[1].api-key",
        "environment variable NO_SUCH_KEY is not set",
    );
}

#[test]
fn a_two_line_key_file_is_an_error_at_its_path() {
    let (_dir, file) = crate::test_temp::temp_file("two-line-key", "sk-first\nsk-second\n");
    assert_single(
        &edited(
            "base-url: https://api.example.com",
            &format!(
                "base-url: https://api.example.com\n    api-key: {{ file: {} }}",
                file.display()
            ),
        ),
        "providers[1].api-key",
        &format!(
            "file {} has more than one line; a secret must be one line of visible ASCII",
            file.display()
        ),
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn forbidden_and_invalid_headers() {
    assert_single(
        &edited(
            "base-url: https://api.example.com",
            "base-url: https://api.example.com\n    headers: { Authorization: Bearer x }",
        ),
        "providers[1].headers.Authorization",
        "header \"Authorization\" carries credentials; set the provider's api-key ({env: VAR} or {file: PATH}) instead",
    );
    let errs = load_errors(&edited(
        "base-url: https://api.example.com",
        "base-url: https://api.example.com\n    headers: { \"bad name\": x, X-Api-Key: k, Ok: \"a\\nb\" }",
    ));
    assert_eq!(errs.0.len(), 3, "{errs}");
    assert!(errs.has_path("providers[1].headers.bad name"));
    assert!(errs.has_path("providers[1].headers.X-Api-Key"));
    assert!(errs.has_path("providers[1].headers.Ok"));
    let config = load_str(
        &edited(
            "base-url: https://api.example.com",
            "base-url: https://api.example.com\n    headers: { OpenAI-Organization: org-1 }",
        ),
        "t",
        &vars(),
    )
    .unwrap();
    assert_eq!(
        config.providers[1].headers,
        [("OpenAI-Organization".to_owned(), "org-1".to_owned())]
    );
}

#[test]
fn bad_urls() {
    assert_single(
        &edited("https://api.example.com", "api.example.com"),
        "providers[1].base-url",
        "invalid URL \"api.example.com\": relative URL without a base (expected e.g. https://api.example.com/v1)",
    );
    assert_single(
        &edited("https://api.example.com", "ftp://api.example.com"),
        "providers[1].base-url",
        "unsupported scheme \"ftp\" (use http or https)",
    );
    // The query's value is never repeated: it is where keys get pasted.
    assert_single(
        &edited(
            "https://api.example.com",
            "https://api.example.com/v1?key=sk-secret-1",
        ),
        "providers[1].base-url",
        "URL \"https://api.example.com/v1…\" must not contain a query (`?…`); credentials belong in api-key",
    );
}

#[test]
fn url_errors_never_repeat_a_query_fragment_or_user_info() {
    for url in [
        "https://api.example.com/v1?key=sk-secret-1#sk-secret-2",
        "https://user:sk-secret-1@api.example.com/v1?key=sk-secret-2",
        "https://user:sk-secret-1@api.example.com:99999/v1?key=sk-secret-2",
        "https://:sk-secret-1@/v1?key=sk-secret-2",
    ] {
        let errs = load_errors(&edited("https://api.example.com", url));
        assert!(errs.has_path("providers[1].base-url"), "{url}: {errs}");
        let text = errs.to_string();
        assert!(!text.contains("sk-secret"), "{url}: {text}");
    }
}

#[test]
fn every_credential_header_is_refused() {
    for name in [
        "X-Goog-Api-Key",
        "Cookie",
        "Set-Cookie",
        "Proxy-Authorization",
        "X-Amz-Security-Token",
        "X-Auth-Token",
        "Ocp-Apim-Subscription-Key",
        "X-Portkey-Api-Key",
        "apikey",
    ] {
        let errs = load_errors(&edited(
            "base-url: https://api.example.com",
            &format!("base-url: https://api.example.com\n    headers: {{ {name}: v }}"),
        ));
        assert_eq!(errs.0.len(), 1, "{name}: {errs}");
        assert!(
            errs.has_path(&format!("providers[1].headers.{name}")),
            "{name}: {errs}"
        );
        assert!(errs.to_string().contains("carries credentials"), "{errs}");
    }
}

#[test]
fn max_output_above_context_window() {
    assert_single(
        &edited(
            "region: us",
            "region: us\n    context-window: 8000\n    max-output-tokens: 16384",
        ),
        "routes[0].max-output-tokens",
        "max-output-tokens (16384) must not exceed context-window (8000)",
    );
}

#[test]
fn small_context_window_caps_default_max_output() {
    let text = edited("region: us", "region: us\n    context-window: 2048");
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(config.routes[0].max_output_tokens, 2048);
}

#[test]
fn max_output_clamps_by_default_and_may_refuse() {
    let config = load_str(BASE, "t", &vars()).unwrap();
    assert_eq!(config.routes[0].max_output, crate::MaxOutput::Clamp);
    let text = edited("region: us", "region: us\n    max-output: refuse");
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(config.routes[0].max_output, crate::MaxOutput::Refuse);
    let errs = load_errors(&edited("region: us", "region: us\n    max-output: trim"));
    assert_eq!(errs.0[0].path, "routes[0].max-output", "{errs}");
}

#[test]
fn negative_price() {
    assert_single(
        &edited(
            "region: us",
            "region: us\n    price: { input-per-1m: -1, output-per-1m: 2 }",
        ),
        "routes[0].price.input-per-1m",
        "price must be a finite number ≥ 0 (USD per 1M tokens), got -1",
    );
}

#[test]
fn empty_alias_routes_and_unknown_route() {
    assert_single(
        &edited("routes: [primary, secondary]", "routes: []"),
        "aliases[0].routes",
        "at least one route is required (route ids in failover order)",
    );
    assert_single(
        &edited(
            "routes: [primary, secondary]",
            "routes: [primary, tertiary]",
        ),
        "aliases[0].routes[1]",
        "unknown route \"tertiary\" (known: primary, secondary)",
    );
}

#[test]
fn timeouts_rules() {
    let errs = load_errors(&edited(
        "base-url: https://api.example.com",
        "base-url: https://api.example.com\n    timeouts: { connect: 0s, first-byte: 10m, total: 1m }",
    ));
    assert_eq!(
        errs.to_string(),
        "providers[1].timeouts.connect: must be greater than 0\n\
         providers[1].timeouts.first-byte: first-byte (10m) must not exceed total (1m)"
    );
}

#[test]
fn unknown_field_is_reported_with_path() {
    assert_single(
        &edited("region: us", "region: us\n    regoin: eu"),
        "routes[0].regoin",
        "unknown field `regoin`, expected one of `id`, `provider`, `model`, `region`, `version`, `context-window`, `max-output-tokens`, `max-output`, `supports`, `price`, `retention`, `max-risk-tier`, `content-filter`, `breaker`, `health-check`, `weight`, `max-concurrency`, `zone`, `max-requests-per-second`, `endpoint`, `embedding`",
    );
}

#[test]
fn wrong_type_is_reported_with_path() {
    let errs = load_errors(&edited(
        "region: us",
        "region: us\n    context-window: lots",
    ));
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "routes[0].context-window");
    assert!(errs.0[0].message.contains("invalid type"), "{errs}");
    let errs = load_errors(&edited("region: us", "region: us\n    retention: forever"));
    assert_eq!(errs.0[0].path, "routes[0].retention", "{errs}");
}

#[test]
fn missing_sections() {
    let errs = load_errors("server: { listen: 127.0.0.1:0 }\n");
    assert_eq!(
        errs.to_string(),
        "providers: at least one provider is required\n\
         routes: at least one route is required\n\
         aliases: at least one alias is required"
    );
}

#[test]
fn server_rules_and_numeric_interpolation() {
    let config = load_str(
        &format!("server:\n  listen: 0.0.0.0:8080\n  max-body-bytes: ${{MAX:-1024}}\n{BASE}"),
        "t",
        &vars(),
    )
    .unwrap();
    assert_eq!(config.server.max_body_bytes, 2048);
    assert_eq!(config.server.listen.port(), 8080);
    let errs = load_errors(&format!(
        "server: {{ listen: localhost, max-body-bytes: 0 }}\n{BASE}"
    ));
    assert_eq!(
        errs.to_string(),
        "server.listen: invalid address \"localhost\" (expected IP:PORT, e.g. 127.0.0.1:4000)\n\
         server.max-body-bytes: must be greater than 0"
    );
}

#[test]
fn server_client_timeouts_and_connection_cap() {
    let defaults = load_str(BASE, "t", &vars()).unwrap().server;
    assert_eq!(defaults.header_read_timeout, Duration::from_secs(30));
    assert_eq!(defaults.body_read_timeout, Duration::from_secs(60));
    assert_eq!(defaults.keep_alive_timeout, Duration::from_secs(75));
    assert_eq!(defaults.max_connections, None);
    let config = load_str(
        &format!(
            "server: {{ header-read-timeout: 5s, body-read-timeout: 2m, \
             keep-alive-timeout: 500ms, max-connections: 64 }}\n{BASE}"
        ),
        "t",
        &vars(),
    )
    .unwrap()
    .server;
    assert_eq!(config.header_read_timeout, Duration::from_secs(5));
    assert_eq!(config.body_read_timeout, Duration::from_secs(120));
    assert_eq!(config.keep_alive_timeout, Duration::from_millis(500));
    assert_eq!(config.max_connections, Some(64));
    let errs = load_errors(&format!(
        "server: {{ header-read-timeout: 0s, body-read-timeout: 0s, \
         keep-alive-timeout: 0s, max-connections: 0 }}\n{BASE}"
    ));
    assert_eq!(
        errs.to_string(),
        "server.header-read-timeout: must be greater than 0\n\
         server.body-read-timeout: must be greater than 0\n\
         server.keep-alive-timeout: must be greater than 0\n\
         server.max-connections: must be at least 1"
    );
}

#[test]
fn server_scheduler_and_threads() {
    let defaults = load_str(BASE, "t", &vars()).unwrap();
    assert_eq!(defaults.server.scheduler, crate::Scheduler::PerCore);
    assert_eq!(defaults.server.threads, None);
    let config = load_str(
        &format!("server: {{ scheduler: work-stealing, threads: 3 }}\n{BASE}"),
        "t",
        &vars(),
    )
    .unwrap();
    assert_eq!(config.server.scheduler, crate::Scheduler::WorkStealing);
    assert_eq!(config.server.threads, Some(3));
    for bad in ["0", "1025"] {
        assert_single(
            &format!("server: {{ threads: {bad} }}\n{BASE}"),
            "server.threads",
            &format!("{bad} threads: must be between 1 and 1024"),
        );
    }
    let errs = load_errors(&format!("server: {{ scheduler: fifo }}\n{BASE}"));
    assert!(errs.to_string().contains("fifo"), "{errs}");
}

#[test]
fn numeric_text_fields_accept_retyped_values() {
    let text = edited("model: gpt-4o-mini", "model: ${M:-123}");
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(config.routes[0].model, "123");
}

#[test]
fn many_errors_are_reported_at_once() {
    let text = BASE
        .replacen("region: us", "region: mars", 1)
        .replacen("provider: secondary", "provider: nobody", 1)
        .replacen("https://api.example.com", "not a url", 1)
        .replacen(
            "routes: [primary, secondary]",
            "routes: [primary, ghost]\n    max-attempts: 0",
            1,
        );
    let errs = load_errors(&text);
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "providers[1].base-url",
            "routes[0].region",
            "routes[1].provider",
            "aliases[0].routes[1]",
            "aliases[0].max-attempts",
        ]
    );
}

#[test]
fn api_key_from_file() {
    let (_dir, path) = crate::test_temp::temp_file("apikey", "sk-file\n");
    let text = edited(
        "base-url: https://api.example.com",
        &format!(
            "base-url: https://api.example.com\n    api-key: {{ file: {} }}",
            path.display()
        ),
    );
    let config = load_str(&text, "t", &vars()).unwrap();
    assert_eq!(
        config.providers[1].api_key.as_ref().unwrap().expose(),
        "sk-file"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn api_key_with_unknown_source() {
    let errs = load_errors(&edited(
        "base-url: https://api.example.com",
        "base-url: https://api.example.com\n    api-key: { vault: x }",
    ));
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "providers[1].api-key.vault", "{errs}");
    assert_eq!(
        errs.0[0].message,
        "unknown variant `vault`, expected `env` or `file`"
    );
}

#[test]
fn unterminated_interpolation_has_path() {
    assert_single(
        &edited("model: gpt-4o-mini", "model: ${MODEL"),
        "routes[0].model",
        "unterminated \"${\" (missing \"}\")",
    );
}
