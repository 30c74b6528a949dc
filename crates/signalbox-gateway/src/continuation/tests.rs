//! The continuation's request: the delivered text as the assistant's start.

use super::*;

#[test]
fn the_prefill_is_the_last_assistant_message() {
    let body = br#"{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let req = ChatRequest::parse(body).unwrap_or_else(|e| panic!("{e}"));
    let out = with_prefill(&req, "Hello wor").unwrap_or_else(|| panic!("no request"));
    let messages = out.body().get("messages").cloned().unwrap_or_default();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], "Hello wor");
    assert!(out.native().is_none(), "never the client's own body");
    // Nothing delivered: the request as it was.
    let same = with_prefill(&req, "").unwrap_or_else(|| panic!("no request"));
    assert_eq!(same.body(), req.body());
}
