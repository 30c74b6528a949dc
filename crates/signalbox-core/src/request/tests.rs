use proptest::prelude::*;

use super::*;

fn err(body: &str) -> RequestError {
    ChatRequest::parse(body.as_bytes()).unwrap_err()
}

#[test]
fn parses_a_minimal_request() {
    let r = ChatRequest::parse(br#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap();
    assert_eq!(r.model(), "chat");
    assert!(!r.is_stream());
}

#[test]
fn reads_the_stream_flag() {
    let r = ChatRequest::parse(
        br#"{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .unwrap();
    assert!(r.is_stream());
}

#[test]
fn names_the_problem() {
    assert!(matches!(err("{"), RequestError::Syntax(m) if m.contains("EOF")));
    assert_eq!(err("[]").to_string(), "(body): must be a JSON object");
    assert_eq!(err(r#"{"messages":[]}"#).to_string(), "model: is required");
    assert_eq!(
        err(r#"{"model":3,"messages":[]}"#).to_string(),
        "model: must be a string"
    );
    assert_eq!(err(r#"{"model":"m"}"#).to_string(), "messages: is required");
    assert_eq!(
        err(r#"{"model":"m","messages":[]}"#).to_string(),
        "messages: must contain at least one message"
    );
    assert_eq!(
        err(r#"{"model":"m","messages":[{"role":"user"},{"content":"x"}]}"#).to_string(),
        "messages[1].role: is required"
    );
    assert!(
        err(r#"{"model":"m","messages":[{"role":"wizard"}]}"#)
            .to_string()
            .contains("unknown role \"wizard\"")
    );
    assert_eq!(
        err(r#"{"model":"m","stream":"yes","messages":[{"role":"user"}]}"#).to_string(),
        "stream: must be a boolean"
    );
    assert_eq!(
        err(r#"{"model":"m","max_tokens":-1,"messages":[{"role":"user"}]}"#).param(),
        Some("max_tokens")
    );
}

#[test]
fn upstream_json_swaps_only_the_model() {
    let r = ChatRequest::parse(
        br#"{"model":"chat","temperature":0.5,"messages":[{"role":"user","content":"hi"}],"x_vendor":{"a":1}}"#,
    )
    .unwrap();
    let out: serde_json::Value =
        serde_json::from_slice(&r.to_upstream_json("gpt-4o-mini")).unwrap();
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["temperature"], 0.5);
    assert_eq!(out["x_vendor"]["a"], 1);
    assert_eq!(out["messages"][0]["content"], "hi");
    assert!(out.get("store").is_none());
}

#[test]
fn zero_retention_overrides_the_callers_store_flag() {
    let r = ChatRequest::parse(
        br#"{"model":"chat","store":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .unwrap();
    let raw = r.upstream_json("up", true);
    let out: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(out["store"], false);
    // One `store` key, not two.
    assert_eq!(
        String::from_utf8_lossy(&raw).matches("\"store\"").count(),
        1
    );
}

proptest! {
    // No input may panic the parser; every failure is a typed error.
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = ChatRequest::parse(&bytes);
    }

    #[test]
    fn valid_requests_round_trip(model in "[a-z][a-z0-9-]{0,20}", text in ".{0,40}", stream in any::<bool>()) {
        let body = serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]});
        let r = ChatRequest::parse(body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(r.model(), model.as_str());
        prop_assert_eq!(r.is_stream(), stream);
        let back: serde_json::Value = serde_json::from_slice(&r.to_upstream_json("up")).unwrap();
        prop_assert_eq!(&back["messages"], &body["messages"]);
        prop_assert_eq!(&back["model"], "up");
    }
}

#[test]
fn an_upstream_body_is_allocated_at_its_exact_size() {
    let text = "x".repeat(2_000);
    let body = format!(r#"{{"model":"chat","messages":[{{"role":"user","content":"{text}"}}]}}"#);
    let r = ChatRequest::parse(body.as_bytes()).unwrap();
    let out = r.to_upstream_json("up");
    assert_eq!(out.capacity(), out.len());
    // A huge body after it is written whole, and a small one after that too.
    let big = format!(
        r#"{{"model":"chat","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "y".repeat(100_000)
    );
    let big_out = ChatRequest::parse(big.as_bytes())
        .unwrap()
        .to_upstream_json("up");
    assert!(big_out.len() > 100_000);
    assert_eq!(big_out.capacity(), big_out.len());
    assert_eq!(r.to_upstream_json("up"), out);
}
