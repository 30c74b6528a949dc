//! Configuration loading: `signalbox_config::load_str` (YAML parse,
//! `${VAR}` interpolation, schema, validation) on arbitrary UTF-8 text.
//!
//! A provider key may be `{file: PATH}`, read at load time; a fuzzer that
//! invents `file: /dev/zero` or `/dev/stdin` would report an OOM or a hang
//! that says nothing about the parser. Inputs that could name a secret file
//! are therefore skipped: any containing `file`, or a YAML escape that could
//! spell it (`\x`, `\u`, `\U`, or an escaped line break). Other escapes are
//! still fuzzed.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

fn may_read_files(text: &str) -> bool {
    text.contains("file")
        || ["\\x", "\\u", "\\U", "\\\n", "\\\r"]
            .iter()
            .any(|esc| text.contains(esc))
}

fn vars() -> HashMap<String, String> {
    [
        ("OPENAI_API_KEY", "sk-fuzz"),
        ("ANTHROPIC_API_KEY", "sk-ant-fuzz"),
        ("ACME_KEY", "acme-key"),
        ("GLOBEX_KEY", "globex-key"),
        ("ADMIN_TOKEN", "admin-token"),
        ("PRIMARY_URL", "http://127.0.0.1:9101/v1"),
        ("SECONDARY_URL", "http://127.0.0.1:9102/v1"),
        ("UPSTREAM_URL", "http://127.0.0.1:9103/v1"),
        ("OPENAI_URL", "http://127.0.0.1:9104/v1"),
        ("ANTHROPIC_URL", "http://127.0.0.1:9105"),
        ("EU_URL", "http://127.0.0.1:9106/v1"),
        ("US_URL", "http://127.0.0.1:9107/v1"),
        ("PRIMARY_MODEL", "gpt-4o"),
        ("SECONDARY_MODEL", "gpt-4o-mini"),
        ("UPSTREAM_MODEL", "m"),
        ("OPENAI_MODEL", "gpt-4o"),
        ("ANTHROPIC_MODEL", "claude-sonnet"),
        ("LISTEN", "127.0.0.1:4000"),
        ("DECISION_DB", "/nonexistent/fuzz-decisions.db"),
        ("DECISION_LOG", "off"),
        ("EMPTY", ""),
        ("PORT", "8080"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if may_read_files(text) {
        return;
    }
    // Two variable sources: none set, and the names the examples (the seed
    // corpus) use, so that seeds get past interpolation and secrets.
    let empty = HashMap::<String, String>::new();
    let _ = std::hint::black_box(signalbox_config::load_str(text, "fuzz.yaml", &empty));
    let vars = vars();
    let _ = std::hint::black_box(signalbox_config::interpolate_str(text, &vars));
    let _ = std::hint::black_box(signalbox_config::load_str(text, "fuzz.yaml", &vars));
});
