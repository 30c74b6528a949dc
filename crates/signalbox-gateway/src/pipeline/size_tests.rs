//! How much memory a chat request's future holds while it waits on its
//! upstream. Every request in flight keeps one (5,000 slow streams keep
//! 5,000 of them until their first event), and each level of the nested
//! futures used to keep its own copy of the signals and the decision.
//! The bound is a regression guard for this (debug) build, where layouts
//! are somewhat larger than in release.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use signalbox_config::{EnvVars, load_str};

use crate::Gateway;

const CONFIG: &str = r#"
providers:
  - { name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9" }
routes:
  - { id: a, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [a] }
"#;

/// The chat handler's future, in bytes, in this build.
fn chat_future_size() -> usize {
    let gateway = Gateway::new(load_str(CONFIG, "<test>", &EnvVars).unwrap()).unwrap();
    let state = Arc::clone(&gateway.state);
    let future = super::chat_completions(State(state), HeaderMap::new(), Body::empty());
    std::mem::size_of_val(&future)
}

#[test]
fn the_chat_handlers_future_stays_small() {
    let size = chat_future_size();
    println!("chat handler future: {size} bytes");
    // 10,216 bytes before the request was kept once (`Admitted`,
    // `signalbox_dispatch::Decided`); 6,624 after.
    assert!(
        size <= 7 * 1024,
        "the chat handler's future grew to {size} bytes"
    );
}
