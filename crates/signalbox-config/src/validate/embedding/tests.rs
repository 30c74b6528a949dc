use std::collections::HashMap;

use signalbox_core::EndpointKind;

use crate::load_str;

const BASE: &str = "\
providers:
  - name: primary
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1
  - name: secondary
    kind: openai-compatible
    base-url: http://127.0.0.1:9002/v1
routes:
  - id: chat
    provider: primary
    model: gpt-4o-mini
    region: us
  - id: embed-a
    provider: primary
    model: text-embedding-3-small
    region: us
    endpoint: embeddings
    embedding: { dimensions: 1536, max-batch: 2 }
  - id: embed-b
    provider: secondary
    model: te3-small-deployment
    region: us
    endpoint: embeddings
    embedding: { dimensions: 1536, model: text-embedding-3-small }
aliases:
  - name: chat
    routes: [chat]
  - name: embed
    routes: [embed-a, embed-b]
";

fn errors(text: &str) -> Vec<(String, String)> {
    match load_str(text, "test.yaml", &HashMap::new()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

#[test]
fn embedding_routes_carry_their_record_and_chat_routes_none() {
    let config = load_str(BASE, "test.yaml", &HashMap::new()).unwrap();
    let chat = &config.routes[0];
    assert_eq!(chat.endpoint, EndpointKind::Chat);
    assert_eq!(chat.embedding, None);
    let a = config.routes[1].embedding.clone().unwrap();
    assert_eq!(config.routes[1].endpoint, EndpointKind::Embeddings);
    assert_eq!(
        (a.dimensions, a.max_batch, a.max_input_tokens),
        (1536, 2, 8192)
    );
    assert_eq!(
        a.model, "text-embedding-3-small",
        "defaults to the route's model"
    );
    let b = config.routes[2].embedding.clone().unwrap();
    assert!(a.same_space(&b), "{a:?} {b:?}");
}

#[test]
fn an_alias_mixing_embedding_spaces_is_refused_naming_the_route() {
    let text = BASE.replace(
        "embedding: { dimensions: 1536, model: text-embedding-3-small }",
        "embedding: { dimensions: 3072, model: text-embedding-3-small }",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "aliases[1].routes[1]");
    assert!(errs[0].1.contains("another space"), "{}", errs[0].1);
    assert!(errs[0].1.contains("3072"), "{}", errs[0].1);
    let other_model = BASE.replace("model: text-embedding-3-small }", "model: nomic-embed }");
    assert_eq!(errors(&other_model)[0].0, "aliases[1].routes[1]");
}

#[test]
fn the_record_is_required_with_embeddings_and_refused_without() {
    let missing = BASE.replace("    embedding: { dimensions: 1536, max-batch: 2 }\n", "");
    assert_eq!(
        errors(&missing),
        vec![(
            "routes[1].embedding".to_owned(),
            "is required with `endpoint: embeddings` (at least `dimensions`)".to_owned()
        )]
    );
    let on_chat = BASE.replace(
        "    region: us\n  - id: embed-a",
        "    region: us\n    embedding: { dimensions: 8 }\n  - id: embed-a",
    );
    assert_eq!(errors(&on_chat)[0].0, "routes[0].embedding");
    let zero = BASE.replace("max-batch: 2", "max-batch: 0");
    assert_eq!(
        errors(&zero),
        vec![(
            "routes[1].embedding.max-batch".to_owned(),
            "must be greater than 0".to_owned()
        )]
    );
}
