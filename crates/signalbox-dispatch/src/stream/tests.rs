use futures::StreamExt;

use signalbox_core::WireFormat;

use super::wire::finishes_answer;
use super::*;

const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n";
const TEXT: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n";
const STOP: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const USAGE: &str =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n";

/// Runs a committed stream whose first event is `ROLE` over `rest`; returns
/// what the caller got and how the stream ended.
async fn run(rest: Vec<Vec<u8>>, framer: SseFramer) -> (String, StreamEnd) {
    let rest = rest
        .into_iter()
        .map(|c| Chunk::Data(Bytes::from(c)))
        .collect();
    run_chunks(rest, framer, Ending::default()).await
}

/// [`run`] over typed chunks, with the stream's ending state (its format).
async fn run_chunks(rest: Vec<Chunk>, framer: SseFramer, ending: Ending) -> (String, StreamEnd) {
    let inner: UpstreamBytes = futures::stream::iter(rest.into_iter().map(Ok)).boxed();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stream =
        CommittedStream::new(Bytes::from(ROLE), inner, framer, ending).on_end(move |end| {
            let _ = tx.send(end);
        });
    let out: Vec<Piece> = stream.collect().await;
    let end = rx.await.unwrap();
    (as_text(out), end)
}

/// The pieces as an OpenAI client's edge would write them; a cut as
/// `CUT stream_interrupted: <detail>`, typed events in their debug form.
pub(crate) fn as_text(pieces: Vec<Piece>) -> String {
    let mut text = String::new();
    for piece in pieces {
        match piece {
            Piece::Wire(b) => text.push_str(std::str::from_utf8(&b).unwrap()),
            Piece::Events(events) => text.push_str(&format!("{events:?}")),
            Piece::End { marked: false } => text.push_str("data: [DONE]\n\n"),
            Piece::End { marked: true } => {}
            Piece::Cut(detail) => text.push_str(&format!("CUT stream_interrupted: {detail}")),
        }
    }
    text
}

#[test]
fn finish_reasons_are_found_only_when_not_null() {
    assert!(!finishes_answer(&TEXT[6..TEXT.len() - 2]));
    assert!(finishes_answer(&STOP[6..STOP.len() - 2]));
    assert!(finishes_answer(
        r#"{"choices":[{"index":1,"finish_reason" :  "length"}]}"#
    ));
    assert!(!finishes_answer(r#"{"choices":[],"usage":{}}"#));
    // The words inside a text are not a finish reason.
    assert!(!finishes_answer(
        r#"{"choices":[{"delta":{"content":"\"finish_reason\": \"stop\""},"finish_reason":null}]}"#
    ));
}

#[tokio::test]
async fn a_finished_answer_ending_without_done_completes_with_done_and_usage() {
    let body = [TEXT, STOP, USAGE].concat().into_bytes();
    let (text, end) = run(vec![body], SseFramer::new()).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert!(
        text.ends_with(&format!("{USAGE}data: [DONE]\n\n")),
        "{text}"
    );
    let usage = end.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (3, 2));
}

#[tokio::test]
async fn an_answer_ending_before_its_finish_reason_is_cut() {
    let (text, end) = run(vec![TEXT.as_bytes().to_vec()], SseFramer::new()).await;
    assert!(matches!(end.outcome, StreamOutcome::Cut { .. }), "{end:?}");
    assert!(text.contains("stream_interrupted") && !text.contains("[DONE]"));
}

#[tokio::test]
async fn an_event_past_the_cap_after_commit_ends_with_the_error_event() {
    let mut rest = vec![TEXT.as_bytes().to_vec(), b"data: {\"x\":\"".to_vec()];
    rest.extend(std::iter::repeat_n(vec![b'a'; 1024], 64));
    let (text, end) = run(rest, SseFramer::with_max_event_bytes(16 * 1024)).await;
    let StreamOutcome::Cut { detail } = &end.outcome else {
        panic!("{end:?}");
    };
    assert!(detail.contains("larger than 16384 bytes"), "{detail}");
    assert!(text.contains("stream_interrupted"), "{text}");
    // What came before the long event was forwarded.
    assert!(text.contains("\"hi\""), "{text}");
}

#[tokio::test]
async fn a_decoded_stream_yields_its_events_its_usage_and_an_unmarked_end() {
    use signalbox_core::canonical::{StopReason, StreamEvent};
    let usage = Usage {
        prompt_tokens: 11,
        completion_tokens: 4,
    };
    let reported = signalbox_core::canonical::Usage {
        input_tokens: 11,
        output_tokens: 4,
    };
    let first = vec![StreamEvent::Start {
        id: "m".into(),
        model: "x".into(),
    }];
    let text = StreamEvent::TextDelta {
        choice: 0,
        text: "hi".into(),
    };
    let stop = StreamEvent::Stop {
        choice: 0,
        reason: StopReason::Stop,
    };
    let rest = vec![
        Ok(Chunk::Events(vec![text.clone()])),
        Ok(Chunk::Events(vec![
            stop.clone(),
            StreamEvent::Usage(reported),
        ])),
    ];
    let inner: UpstreamBytes = futures::stream::iter(rest).boxed();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stream = CommittedStream::decoded(first.clone(), inner).on_end(move |end| {
        let _ = tx.send(end);
    });
    let out: Vec<Piece> = stream.collect().await;
    let end = rx.await.unwrap();
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(end.usage, Some(usage));
    assert_eq!(
        out,
        [
            Piece::Events(first),
            Piece::Events(vec![text]),
            Piece::Events(vec![stop, StreamEvent::Usage(reported)]),
            Piece::End { marked: false },
        ]
    );

    // Without a stop, the end of the body is a cut.
    let inner: UpstreamBytes = futures::stream::iter(Vec::new()).boxed();
    let start = vec![StreamEvent::Start {
        id: "m".into(),
        model: "x".into(),
    }];
    let out: Vec<Piece> = CommittedStream::decoded(start, inner).collect().await;
    assert!(matches!(out.last(), Some(Piece::Cut(_))), "{out:?}");
}

/// The ending state of a stream passed on in Anthropic's format.
fn anthropic() -> Ending {
    Ending {
        format: WireFormat::Anthropic,
        ..Ending::default()
    }
}

#[tokio::test]
async fn an_anthropic_stream_ends_at_message_stop_and_its_cut_is_an_error_event() {
    let anthropic = anthropic();
    let delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":5}}\n\n";
    let stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let whole = vec![
        Chunk::Data(Bytes::from(delta)),
        Chunk::Data(Bytes::from(stop)),
    ];
    let (text, end) = run_chunks(whole, SseFramer::new(), anthropic).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(end.usage.map(|u| u.completion_tokens), Some(5));
    assert!(text.ends_with(stop) && !text.contains("[DONE]"), "{text}");

    let cut = vec![Chunk::Data(Bytes::from(delta))];
    let (text, end) = run_chunks(cut, SseFramer::new(), anthropic).await;
    assert!(matches!(end.outcome, StreamOutcome::Cut { .. }), "{end:?}");
    assert!(
        text.ends_with("CUT stream_interrupted: upstream closed the stream before its end marker"),
        "{text}"
    );
}

#[tokio::test]
async fn an_anthropic_stream_ended_before_its_final_usage_is_not_charged_one_output_token() {
    let anthropic = anthropic();
    // `message_start` reports the input and a placeholder output of 1.
    let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[],\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n";
    let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word\"}}\n\n";
    let mut cut = vec![Chunk::Data(Bytes::from(start))];
    cut.extend((0..40).map(|_| Chunk::Data(Bytes::from(delta))));
    let (_, end) = run_chunks(cut, SseFramer::new(), anthropic).await;
    assert!(matches!(end.outcome, StreamOutcome::Cut { .. }), "{end:?}");
    let usage = end.usage.expect("the input tokens were reported");
    assert_eq!(usage.prompt_tokens, 125);
    assert!(
        usage.completion_tokens >= 40,
        "40 text deltas went out, charged as {usage:?}"
    );

    // The final usage, when it came, is what counts.
    let final_delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\n";
    let stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let mut whole = vec![Chunk::Data(Bytes::from(start))];
    whole.extend((0..10).map(|_| Chunk::Data(Bytes::from(delta))));
    whole.push(Chunk::Data(Bytes::from(final_delta)));
    whole.push(Chunk::Data(Bytes::from(stop)));
    let (_, end) = run_chunks(whole, SseFramer::new(), anthropic).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(
        end.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((125, 3))
    );
}

/// The ending state of a Responses stream passed through.
fn responses() -> Ending {
    Ending {
        format: WireFormat::Responses,
        ..Ending::default()
    }
}

#[tokio::test]
async fn a_responses_stream_ends_at_response_completed_with_its_usage() {
    let delta = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n";
    let done = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":4,\"output_tokens\":2}}}\n\n";
    let late = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"late\"}\n\n";
    let whole = [delta, done, late]
        .map(|e| Chunk::Data(Bytes::from(e)))
        .to_vec();
    let (text, end) = run_chunks(whole, SseFramer::new(), responses()).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(
        end.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((4, 2))
    );
    // Nothing after the end is passed on, and no `[DONE]` is added.
    assert!(text.ends_with(done) && !text.contains("late"), "{text}");

    // Ended without `response.completed`: a cut, not a completion.
    let short = vec![Chunk::Data(Bytes::from(delta))];
    let (text, end) = run_chunks(short, SseFramer::new(), responses()).await;
    assert!(matches!(end.outcome, StreamOutcome::Cut { .. }), "{end:?}");
    assert!(text.contains("before its end marker"), "{text}");
}

#[tokio::test]
async fn a_failure_event_after_commit_cuts_the_responses_stream_naming_it() {
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"overloaded\"}}}\n\n";
    let error =
        "data: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n";
    for (event, named) in [
        (failed, "server_error: overloaded"),
        (error, "rate_limit_exceeded: slow down"),
    ] {
        let rest = vec![Chunk::Data(Bytes::from(event))];
        let (text, end) = run_chunks(rest, SseFramer::new(), responses()).await;
        let StreamOutcome::Cut { detail } = &end.outcome else {
            panic!("{end:?}");
        };
        assert!(detail.contains(named), "{detail}");
        // The provider's failure event itself is not passed on: the edge
        // writes the client's error event from the cut.
        assert!(!text.contains("\"type\":\"error\"") && !text.contains("response.failed"));
    }
}

#[test]
fn the_first_events_model_is_found_by_a_scan_not_a_parse() {
    use signalbox_providers::model_named;
    let openai =
        r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-2024-11-20","choices":[]}"#;
    assert_eq!(model_named(openai), Some("gpt-4o-2024-11-20"));
    let anthropic = r#"{"type":"message_start","message":{"id":"m","role":"assistant","model" : "claude-x","content":[]}}"#;
    assert_eq!(model_named(anthropic), Some("claude-x"));
    // A value "model" (Gemini's role), a key inside a string, an escaped
    // name, no name: nothing taken.
    for none in [
        r#"{"role":"model","parts":[]}"#,
        r#"{"choices":[{"delta":{"content":"say \"model\": \"x\""}}]}"#,
        r#"{"model":"a\u002db"}"#,
        r#"{"model":""}"#,
        r#"{"model":null}"#,
    ] {
        assert_eq!(model_named(none), None, "{none}");
    }
}
