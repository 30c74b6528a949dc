//! Round-trip properties: a client body parsed to canonical and rendered
//! back in the same format parses to the same canonical request.

use proptest::prelude::*;
use serde_json::json;
use signalbox_adapters::anthropic::{self, AnthropicAdapter};
use signalbox_adapters::openai::{self, OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{
    Adapter, ChatRequest, Dialect, Image, ImageSource, Message, Part, Role, Secret, Tool, ToolCall,
    ToolChoice, ToolResult,
};

use crate::{render, route};

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,!?é\"\\\\{}]{1,24}"
}

fn image() -> impl Strategy<Value = Part> {
    prop_oneof![
        "https://img\\.example/[a-z]{1,8}\\.png".prop_map(ImageSource::Url),
        "[A-Za-z0-9+/]{4,12}={0,2}".prop_map(|data| ImageSource::Base64 {
            media_type: "image/png".into(),
            data
        }),
    ]
    .prop_map(|source| {
        Part::Image(Image {
            source,
            detail: None,
        })
    })
}

/// Tool arguments exactly as a JSON object serialises.
fn arguments() -> impl Strategy<Value = String> {
    proptest::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            any::<i32>().prop_map(|n| json!(n)),
            text().prop_map(|s| json!(s)),
            any::<bool>().prop_map(|b| json!(b)),
        ],
        0..3,
    )
    .prop_map(|m| serde_json::to_string(&m).unwrap())
}

fn tool_call() -> impl Strategy<Value = Part> {
    ("call_[a-z0-9]{1,8}", "[a-z_]{1,10}", arguments()).prop_map(|(id, name, arguments)| {
        Part::ToolCall(ToolCall {
            id,
            name,
            arguments,
        })
    })
}

fn user() -> impl Strategy<Value = Message> {
    proptest::collection::vec(
        prop_oneof![3 => text().prop_map(Part::Text), 1 => image()],
        1..4,
    )
    .prop_map(|content| Message {
        role: Role::User,
        content,
        name: None,
    })
}

fn assistant() -> impl Strategy<Value = Message> {
    (
        proptest::collection::vec(text().prop_map(Part::Text), 0..3),
        proptest::collection::vec(tool_call(), 0..3),
    )
        .prop_map(|(mut content, calls)| {
            content.extend(calls);
            Message {
                role: Role::Assistant,
                content,
                name: None,
            }
        })
}

fn tool_message(is_error: bool, max_results: usize) -> impl Strategy<Value = Message> {
    proptest::collection::vec(
        (
            "call_[a-z0-9]{1,8}",
            proptest::collection::vec(text().prop_map(Part::Text), 1..3),
        ),
        1..=max_results,
    )
    .prop_flat_map(move |results| {
        let flags = proptest::collection::vec(any::<bool>(), results.len());
        (Just(results), flags)
    })
    .prop_map(move |(results, flags)| Message {
        role: Role::Tool,
        content: results
            .into_iter()
            .zip(flags)
            .map(|((call_id, content), f)| {
                Part::ToolResult(ToolResult {
                    call_id,
                    content,
                    is_error: is_error && f,
                })
            })
            .collect(),
        name: None,
    })
}

fn tools() -> impl Strategy<Value = Vec<Tool>> {
    proptest::collection::vec(("[a-z_]{1,10}", proptest::option::of(text())), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(name, description)| Tool {
                name,
                description,
                parameters: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
                strict: None,
            })
            .collect()
    })
}

fn choice() -> impl Strategy<Value = Option<ToolChoice>> {
    proptest::option::of(prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        "[a-z_]{1,10}".prop_map(ToolChoice::Tool),
    ])
}

/// Tool messages never follow each other: both formats merge those.
fn conversation(tool: BoxedStrategy<Message>) -> impl Strategy<Value = Vec<Message>> {
    proptest::collection::vec(prop_oneof![user().boxed(), assistant().boxed(), tool], 1..6)
        .prop_map(|mut msgs| {
            msgs.dedup_by(|b, a| a.role == Role::Tool && b.role == Role::Tool);
            msgs
        })
}

/// Canonical requests an OpenAI client can express.
fn openai_request() -> impl Strategy<Value = ChatRequest> {
    (
        proptest::option::of(text()),
        conversation(tool_message(false, 1).boxed()),
        tools(),
        choice(),
        (
            proptest::option::of(prop_oneof![Just(0.0), Just(0.5), Just(1.25)]),
            proptest::option::of(1u32..5000),
        ),
        proptest::collection::vec(text(), 0..3),
        proptest::option::of(any::<i64>()),
        any::<bool>(),
        proptest::option::of("[a-z0-9-]{1,12}"),
    )
        .prop_map(
            |(system, msgs, tools, choice, (temperature, max_tokens), stop, seed, stream, user)| {
                let mut req = ChatRequest::new("model-x", Dialect::OpenAi);
                req.messages
                    .extend(system.map(|s| Message::text(Role::System, s)));
                req.messages.extend(msgs);
                req.tools = tools;
                req.tool_choice = choice;
                req.sampling.temperature = temperature;
                req.sampling.max_tokens = max_tokens;
                req.sampling.stop = stop;
                req.sampling.seed = seed;
                req.stream = stream;
                req.stream_usage = stream;
                req.user = user;
                req
            },
        )
}

/// Canonical requests an Anthropic client can express.
fn anthropic_request() -> impl Strategy<Value = ChatRequest> {
    (
        proptest::option::of(proptest::collection::vec(text(), 1..3)),
        conversation(tool_message(true, 3).boxed()),
        tools(),
        choice(),
        proptest::option::of(any::<bool>()),
        (
            1u32..5000,
            proptest::option::of(prop_oneof![Just(0.0), Just(0.5), Just(1.0)]),
            proptest::option::of(1u32..100),
        ),
        proptest::collection::vec(text(), 0..3),
        any::<bool>(),
        proptest::option::of("[a-z0-9-]{1,12}"),
    )
        .prop_map(
            |(
                system,
                msgs,
                tools,
                choice,
                parallel,
                (max, temperature, top_k),
                stop,
                stream,
                user,
            )| {
                let mut req = ChatRequest::new("model-x", Dialect::Anthropic);
                if let Some(system) = system {
                    req.messages.push(Message {
                        role: Role::System,
                        content: system.into_iter().map(Part::Text).collect(),
                        name: None,
                    });
                }
                req.messages.extend(msgs);
                req.tools = tools;
                // `disable_parallel_tool_use` lives inside a tool choice other than none.
                req.parallel_tool_calls =
                    parallel.filter(|_| matches!(choice, Some(ref c) if *c != ToolChoice::None));
                req.tool_choice = choice;
                req.sampling.max_tokens = Some(max);
                req.sampling.temperature = temperature;
                req.sampling.top_k = top_k;
                req.sampling.stop = stop;
                req.stream = stream;
                req.stream_usage = true;
                req.user = user;
                req
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn openai_body_round_trips(req in openai_request()) {
        let adapter = Adapter::new(OpenAiAdapter { base_url: "http://x/v1".into(), api_key: None, quirks: OpenAiQuirks::default() });
        let out = render(&adapter, &req, &route("model-x"));
        prop_assert!(out.notes.is_empty(), "{:?}", out.notes);
        let again = openai::parse_request(&out.request.body).unwrap();
        prop_assert_eq!(&again, &req);
        // The gateway's path: the same body held as a JSON map, read for
        // another model without being serialised.
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out.request.body).unwrap();
        let mut read = openai::read_request(&map, "other-model").unwrap();
        prop_assert_eq!(&read.model, "other-model");
        read.model = req.model.clone();
        prop_assert_eq!(read, req);
    }

    #[test]
    fn anthropic_body_round_trips(req in anthropic_request()) {
        let adapter = Adapter::new(AnthropicAdapter { base_url: "http://x".into(), api_key: Some(Secret::new("k")) });
        let out = render(&adapter, &req, &route("model-x"));
        prop_assert!(out.notes.is_empty(), "{:?}", out.notes);
        let again = anthropic::parse_request(&out.request.body).unwrap();
        prop_assert_eq!(again, req);
    }
}

#[test]
fn openai_client_to_anthropic_upstream_keeps_the_conversation() {
    let req =
        openai::parse_request(crate::fixture("openai/request_tools.json").as_bytes()).unwrap();
    let adapter = Adapter::new(AnthropicAdapter {
        base_url: "http://x".into(),
        api_key: Some(Secret::new("k")),
    });
    let out = render(&adapter, &req, &route("claude"));
    let back = anthropic::parse_request(&out.request.body).unwrap();
    let texts = |r: &ChatRequest| -> Vec<(Role, usize)> {
        r.messages
            .iter()
            .map(|m| (m.role, m.content.len()))
            .collect()
    };
    assert_eq!(texts(&back), texts(&req));
    assert_eq!(back.tools, req.tools);
    assert_eq!(back.sampling.stop, req.sampling.stop);
}
