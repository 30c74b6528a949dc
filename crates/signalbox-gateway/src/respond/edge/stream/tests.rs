//! The edge without sockets: pieces in, what each client reads out.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use signalbox_core::canonical::{StopReason, Usage};
use signalbox_privacy::TokenTable;

use super::*;

fn names() -> Names {
    Names {
        request_id: "r1".into(),
        route: "eu".into(),
    }
}

async fn written(edge: EdgeStream<futures::stream::Iter<std::vec::IntoIter<Piece>>>) -> String {
    let out: Vec<_> = edge.collect().await;
    out.into_iter()
        .map(|b| String::from_utf8(b.unwrap_or_default().to_vec()).unwrap_or_default())
        .collect()
}

fn edge(
    pieces: Vec<Piece>,
    client: WireFormat,
    usage: bool,
) -> EdgeStream<futures::stream::Iter<std::vec::IntoIter<Piece>>> {
    EdgeStream::new(futures::stream::iter(pieces), client, usage, names())
}

/// Every `data:` payload that is JSON, in order.
fn data(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

fn answer(text: &str) -> Vec<Piece> {
    vec![
        Piece::Events(vec![StreamEvent::Start {
            id: "m1".into(),
            model: "gemini-x".into(),
        }]),
        Piece::Events(vec![StreamEvent::TextDelta {
            choice: 0,
            text: text.into(),
        }]),
        Piece::Events(vec![
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::Stop,
            },
            StreamEvent::Usage(Usage {
                input_tokens: 5,
                output_tokens: 2,
            }),
        ]),
        Piece::End { marked: false },
    ]
}

#[tokio::test]
async fn decoded_events_are_openai_chunks_with_the_usage_asked_for_and_done() {
    let text = written(edge(answer("hi"), WireFormat::OpenAi, true)).await;
    let chunks = data(&text);
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["role"], "assistant",
        "{text}"
    );
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "hi", "{text}");
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop", "{text}");
    assert_eq!(chunks[3]["usage"]["prompt_tokens"], 5, "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let text = written(edge(answer("hi"), WireFormat::OpenAi, false)).await;
    assert!(!text.contains("\"usage\""), "{text}");
}

#[tokio::test]
async fn decoded_events_are_anthropic_events_marked_when_degraded() {
    let steps = [DegradeStep::FallbackRoute];
    let text = written(edge(answer("hi"), WireFormat::Anthropic, false).marked(&steps)).await;
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(text.contains("\"text\":\"hi\""), "{text}");
    assert!(
        text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    assert!(
        !text.contains("[DONE]") && !text.contains("chat.completion"),
        "{text}"
    );
    let start = &data(&text)[0];
    assert_eq!(start["type"], "message_start", "{text}");
    assert_eq!(
        start["signalbox"]["degraded"][0], "fallback-route",
        "{text}"
    );
    assert_eq!(start["signalbox"]["request_id"], "r1", "{text}");
}

#[tokio::test]
async fn passed_on_events_get_the_end_marker_only_when_theirs_did_not_pass() {
    let chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    let pieces = vec![
        Piece::Wire(Bytes::from(chunk)),
        Piece::End { marked: false },
    ];
    let text = written(edge(pieces, WireFormat::OpenAi, false)).await;
    assert_eq!(text, format!("{chunk}data: [DONE]\n\n"));

    let done = format!("{chunk}data: [DONE]\n\n");
    let pieces = vec![
        Piece::Wire(Bytes::from(done.clone())),
        Piece::End { marked: true },
    ];
    assert_eq!(written(edge(pieces, WireFormat::OpenAi, false)).await, done);

    let stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let pieces = vec![Piece::Wire(Bytes::from(stop)), Piece::End { marked: true }];
    assert_eq!(
        written(edge(pieces, WireFormat::Anthropic, false)).await,
        stop
    );
}

#[tokio::test]
async fn a_cut_is_the_clients_error_event_and_nothing_follows() {
    let pieces = |tail: Piece| {
        let mut p = answer("hi");
        p.truncate(2);
        p.push(tail);
        p.push(Piece::End { marked: false });
        p
    };
    let text = written(edge(
        pieces(Piece::Cut("stalled".into())),
        WireFormat::OpenAi,
        false,
    ))
    .await;
    let last = data(&text).pop().unwrap_or_default();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{text}");
    assert_eq!(last["signalbox"]["route"], "eu", "{text}");
    assert!(!text.contains("[DONE]"), "{text}");

    let text = written(edge(
        pieces(Piece::Cut("stalled".into())),
        WireFormat::Anthropic,
        false,
    ))
    .await;
    let tail = text.rsplit("\n\n").nth(1).unwrap_or_default();
    let err: Value = serde_json::from_str(
        tail.strip_prefix("event: error\ndata: ")
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(err["error"]["type"], "api_error", "{text}");
    assert_eq!(err["request_id"], "r1", "{text}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("stalled"),
        "{text}"
    );
    assert!(!text.contains("message_stop"), "{text}");
}

#[tokio::test]
async fn tokens_in_decoded_events_are_restored_for_either_client() {
    let mut table = TokenTable::new();
    table.tokenise("EMAIL", "jane.doe@example.com");
    let table = Arc::new(table);
    for client in [WireFormat::OpenAi, WireFormat::Anthropic] {
        let mut pieces = answer("write to ⟦EMA");
        pieces.insert(
            2,
            Piece::Events(vec![StreamEvent::TextDelta {
                choice: 0,
                text: "IL_1⟧ today".into(),
            }]),
        );
        let telemetry =
            Arc::new(crate::telemetry::Telemetry::new().unwrap_or_else(|_| unreachable!()));
        let restore = StreamRestore::new(Arc::clone(&table), telemetry);
        let text = written(edge(pieces, client, false).restoring(restore)).await;
        let said: String = data(&text)
            .iter()
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .or(v["delta"]["text"].as_str())
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            said, "write to jane.doe@example.com today",
            "{client:?}: {text}"
        );
    }
}
