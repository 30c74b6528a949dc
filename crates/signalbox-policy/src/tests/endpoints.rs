//! The `endpoint` constraint and the embedding capability record: a chat
//! request never lands on an embedding route and an embeddings request
//! never on a chat route; inputs and dimensions are checked against the
//! route's record; everything shows in the verdicts explain prints.

use super::*;

const MIXED: &str = r#"
providers:
  - { name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
routes:
  - { id: chat-route, provider: p, model: gpt, region: us }
  - { id: small-embed, provider: p, model: te3, region: us, endpoint: embeddings, embedding: { dimensions: 1536, max-input-tokens: 50 } }
  - { id: big-embed, provider: p, model: te3-large, region: us, endpoint: embeddings, embedding: { dimensions: 3072 } }
aliases:
  - { name: chat, routes: [chat-route, small-embed] }
  - { name: embed, routes: [small-embed, chat-route] }
  - { name: big, routes: [big-embed] }
"#;

fn embeddings(body: serde_json::Value) -> ChatRequest {
    let serde_json::Value::Object(map) = body else {
        panic!("not an object")
    };
    ChatRequest::embeddings(map, Vec::new()).unwrap()
}

fn verdicts(
    snap: &PolicySnapshot,
    s: &Signals,
    d: &Decision,
    route: &str,
) -> Vec<(String, bool, String)> {
    d.trace(snap, s)
        .candidates
        .iter()
        .find(|c| c.route == route)
        .map(|c| {
            c.verdicts
                .iter()
                .map(|v| (v.constraint.to_string(), v.ok, v.detail.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_chat_request_never_lands_on_an_embedding_route() {
    let snap = snapshot_of(MIXED);
    let (s, d) = run(&snap, &HeaderMap::new(), &chat(serde_json::json!({}), "hi")).unwrap();
    assert_eq!(routes(&snap, &d), ["chat-route"]);
    let v = verdicts(&snap, &s, &d, "small-embed");
    assert!(
        v.contains(&(
            "endpoint".into(),
            false,
            "endpoint chat ≠ route serves embeddings ✗".into()
        )),
        "{v:?}"
    );
}

#[test]
fn an_embeddings_request_never_lands_on_a_chat_route() {
    let snap = snapshot_of(MIXED);
    let req = embeddings(serde_json::json!({"model": "embed", "input": ["a", "b"]}));
    let (s, d) = run(&snap, &HeaderMap::new(), &req).unwrap();
    assert_eq!(s.endpoint, signalbox_core::EndpointKind::Embeddings);
    assert_eq!(routes(&snap, &d), ["small-embed"]);
    let v = verdicts(&snap, &s, &d, "chat-route");
    assert!(v.iter().any(|(k, ok, _)| k == "endpoint" && !ok), "{v:?}");
    assert!(
        !verdicts(&snap, &s, &d, "small-embed")
            .iter()
            .any(|(k, _, _)| k == "context_window"),
        "an embedding has no context window to fill"
    );
}

#[test]
fn an_embedding_only_alias_refuses_chat_naming_the_endpoint() {
    let snap = snapshot_of(MIXED);
    let mut req =
        serde_json::json!({"model": "big", "messages": [{"role": "user", "content": "x"}]});
    let req = ChatRequest::parse(req.take().to_string().as_bytes()).unwrap();
    let (_, d) = run(&snap, &HeaderMap::new(), &req).unwrap();
    let Some(PolicyError::NoEligibleRoute { reasons, .. }) = &d.refusal else {
        panic!("{d:?}")
    };
    assert!(
        reasons.contains("big-embed: endpoint chat ≠ route serves embeddings"),
        "{reasons}"
    );
}

#[test]
fn inputs_longer_than_the_route_takes_and_other_dimensions_are_refused() {
    let snap = snapshot_of(MIXED);
    let long =
        embeddings(serde_json::json!({"model": "embed", "input": ["short", "word ".repeat(80)]}));
    let (s, d) = run(&snap, &HeaderMap::new(), &long).unwrap();
    assert!(s.longest_input_tokens > 50, "{s:?}");
    let v = verdicts(&snap, &s, &d, "small-embed");
    assert!(
        v.iter().any(|(k, ok, _)| k == "max_input_tokens" && !ok),
        "{v:?}"
    );
    assert!(d.candidates.is_empty());

    let dims = embeddings(serde_json::json!({"model": "big", "input": "a", "dimensions": 256}));
    let (s, d) = run(&snap, &HeaderMap::new(), &dims).unwrap();
    let v = verdicts(&snap, &s, &d, "big-embed");
    assert!(
        v.contains(&(
            "dimensions".into(),
            false,
            "dimensions 256 ≠ route's 3072 ✗".into()
        )),
        "{v:?}"
    );
    let same = embeddings(serde_json::json!({"model": "big", "input": "a", "dimensions": 3072}));
    let (_, d) = run(&snap, &HeaderMap::new(), &same).unwrap();
    assert_eq!(routes(&snap, &d), ["big-embed"]);
}
