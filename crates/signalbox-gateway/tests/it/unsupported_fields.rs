//! One declared behaviour per field a route cannot honour
//! (`signalbox_adapters::unsupported::FIELDS`), end to end: a refusing
//! field (`logprobs`, `n > 1`) skips the route and, with no route left,
//! is a 400 naming the field; a route that can honour it still serves; a
//! dropping field (`seed`, `logit_bias`) is served without it, named in
//! `x-signalbox-dropped-fields` and noted in the record.

use serde_json::{Value, json};
use signalbox_testkit::chat_body;

use crate::header;
use crate::translation::{native, record};

#[tokio::test]
async fn a_refusing_field_is_a_400_naming_it_when_no_route_can_carry_it() {
    let h = native().await;
    // Every field is named as the client wrote it (`n`, not the
    // canonical `sampling.n`).
    for (field, value, named) in [
        ("logprobs", json!(true), "`logprobs`"),
        ("top_logprobs", json!(3), "`top_logprobs`"),
        ("n", json!(2), "`n`"),
    ] {
        let mut body = chat_body("claude", "hello");
        body[field] = value;
        let resp = h.chat(&body).await;
        assert_eq!(resp.status(), 400, "{field}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unsupported_by_routes", "{v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{field}: {v}");
        assert!(!message.contains("sampling."), "{field}: {v}");
    }
    assert_eq!(h.mock("claude").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_refusing_field_falls_back_to_a_route_that_honours_it() {
    let h = native().await;
    let mut body = chat_body("mixed", "hello");
    body["logprobs"] = json!(true);
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-dropped-fields"), "");
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert_eq!(sent["logprobs"], true, "{sent}");
    assert_eq!(h.mock("claude").stats().requests, 0);
    // Asking for nothing refuses nothing.
    let mut body = chat_body("claude", "hello");
    body["logprobs"] = json!(false);
    body["n"] = json!(1);
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-dropped-fields"), "logprobs");
    h.stop().await;
}

#[tokio::test]
async fn a_dropping_field_is_served_without_it_and_named_in_the_header() {
    let h = native().await;
    let mut body = chat_body("claude", "hello");
    body["seed"] = json!(7);
    body["logit_bias"] = json!({"50256": -100});
    let resp = h
        .chat_with(&body, &[("x-request-id", "dropped-fields")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-signalbox-dropped-fields"),
        "seed,logit_bias"
    );
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert!(
        sent.get("seed").is_none() && sent.get("logit_bias").is_none(),
        "{sent}"
    );
    let rec = record(&h, "dropped-fields").await;
    let fields: Vec<&str> = rec.translation.iter().map(|t| t.field.as_str()).collect();
    assert!(fields.contains(&"sampling.seed"), "{fields:?}");
    assert!(fields.contains(&"extra.logit_bias"), "{fields:?}");
    // Untranslated routes are sent everything: nothing dropped, no header.
    let mut body = chat_body("gpt", "hello");
    body["seed"] = json!(7);
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-signalbox-dropped-fields").is_none());
    h.stop().await;
}
