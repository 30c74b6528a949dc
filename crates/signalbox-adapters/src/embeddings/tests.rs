use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn parse(v: Value) -> Result<Map<String, Value>, RequestError> {
    parse_request(v.to_string().as_bytes())
}

fn field(r: Result<Map<String, Value>, RequestError>) -> String {
    r.err()
        .and_then(|e| e.param().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn every_input_shape_openai_accepts_is_read() {
    for input in [
        json!("one"),
        json!(["a", "b"]),
        json!([1, 2, 3]),
        json!([[1, 2], [3]]),
    ] {
        let body =
            json!({"model": "e", "input": input, "encoding_format": "base64", "dimensions": 8});
        assert!(parse(body.clone()).is_ok(), "{body}");
    }
}

#[test]
fn refusals_name_the_field() {
    assert_eq!(field(parse(json!({"input": "a"}))), "model");
    assert_eq!(field(parse(json!({"model": "e"}))), "input");
    assert_eq!(field(parse(json!({"model": "e", "input": ""}))), "input");
    assert_eq!(field(parse(json!({"model": "e", "input": []}))), "input");
    assert_eq!(
        field(parse(json!({"model": "e", "input": ["a", 1]}))),
        "input[1]"
    );
    assert_eq!(
        field(parse(json!({"model": "e", "input": ["a", ""]}))),
        "input[1]"
    );
    assert_eq!(
        field(parse(json!({"model": "e", "input": [1, -2]}))),
        "input[1]"
    );
    assert_eq!(
        field(parse(json!({"model": "e", "input": [[1], []]}))),
        "input[1]"
    );
    assert_eq!(
        field(parse(json!({"model": "e", "input": {"a": 1}}))),
        "input"
    );
    let bad_format = json!({"model": "e", "input": "a", "encoding_format": "int8"});
    assert_eq!(field(parse(bad_format)), "encoding_format");
    assert_eq!(
        field(parse(json!({"model": "e", "input": "a", "dimensions": 0}))),
        "dimensions"
    );
    assert_eq!(
        field(parse(json!({"model": "e", "input": "a", "user": 3}))),
        "user"
    );
    assert!(matches!(parse_request(b"{"), Err(RequestError::Syntax(_))));
}

#[test]
fn a_batch_body_swaps_model_and_input_and_keeps_the_rest() {
    let body =
        parse(json!({"model": "alias", "input": ["a", "b", "c"], "input_type": "query"})).unwrap();
    let all = inputs(&body);
    let run = &all[1..];
    let out: Value = serde_json::from_slice(&openai_body(
        &EmbeddingsBody {
            body: &body,
            batch: Some(run),
        },
        "up",
    ))
    .unwrap();
    assert_eq!(
        out,
        json!({"model": "up", "input": ["b", "c"], "input_type": "query"})
    );
    let whole: Value = serde_json::from_slice(&openai_body(
        &EmbeddingsBody {
            body: &body,
            batch: None,
        },
        "up",
    ))
    .unwrap();
    assert_eq!(whole["input"], json!(["a", "b", "c"]));
    let tokens = parse(json!({"model": "e", "input": [5, 6]})).unwrap();
    assert_eq!(inputs(&tokens).len(), 1, "one token array is one input");
}

fn answer(vectors: &[[f32; 2]], tokens: u64) -> Vec<u8> {
    // Out of order on purpose: providers may answer in any order.
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    json!({"object": "list", "data": data, "model": "up", "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        .to_string()
        .into_bytes()
}

#[test]
fn batches_are_reassembled_in_input_order_with_usage_summed() {
    let first = read_answer(&answer(&[[1.0, 0.0], [0.0, 1.0]], 3), 2).unwrap();
    let second = read_answer(&answer(&[[0.5, 0.5]], 4), 1).unwrap();
    let (body, usage) = merge(vec![first, second], Encoding::Float, "alias");
    assert_eq!(usage.prompt_tokens, 7);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "up");
    assert_eq!(v["usage"], json!({"prompt_tokens": 7, "total_tokens": 7}));
    let got: Vec<(u64, Value)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["index"].as_u64().unwrap(), d["embedding"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, json!([1.0, 0.0])),
            (1, json!([0.0, 1.0])),
            (2, json!([0.5, 0.5]))
        ]
    );
}

#[test]
fn a_short_repeated_or_broken_answer_is_a_bad_response() {
    assert!(read_answer(&answer(&[[1.0, 0.0]], 1), 2).is_err());
    let repeated =
        json!({"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]});
    assert!(read_answer(repeated.to_string().as_bytes(), 2).is_err());
    let broken = json!({"data": [{"index": 0, "embedding": {"x": 1}}]});
    assert!(read_answer(broken.to_string().as_bytes(), 1).is_err());
    assert!(read_answer(b"{}", 1).is_err());
}

#[test]
fn float_vectors_are_encoded_for_a_base64_client() {
    let part = EmbeddingAnswer {
        vectors: vec![json!([1.0, -2.0])],
        model: None,
        usage: Usage::default(),
    };
    let (body, _) = merge(vec![part], Encoding::Base64, "alias");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let text = v["data"][0]["embedding"].as_str().unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(floats, [1.0, -2.0]);
    assert_eq!(v["model"], "alias");
}

#[test]
fn gemini_gets_one_request_per_text_and_its_answer_reads_back_in_order() {
    let adapter = crate::gemini::GeminiAdapter {
        base_url: "https://g.example".into(),
        api_version: "v1beta".into(),
        api_key: Some(crate::Secret::new("k")),
    };
    let body = parse(json!({"model": "e", "input": ["a", "b"], "dimensions": 4})).unwrap();
    let route = crate::RouteSettings::new("text-embedding-004");
    let req = adapter
        .render_embeddings(
            &EmbeddingsBody {
                body: &body,
                batch: None,
            },
            &route,
        )
        .unwrap();
    assert_eq!(
        req.url,
        "https://g.example/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent["requests"][1]["content"]["parts"][0]["text"], "b");
    assert_eq!(sent["requests"][0]["outputDimensionality"], 4);
    assert_eq!(sent["requests"][0]["model"], "models/text-embedding-004");
    let tokens = parse(json!({"model": "e", "input": [[1, 2]]})).unwrap();
    assert!(
        adapter
            .render_embeddings(
                &EmbeddingsBody {
                    body: &tokens,
                    batch: None
                },
                &route
            )
            .is_err()
    );
    let answer = json!({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]});
    let read = gemini::read_answer(answer.to_string().as_bytes(), 2).unwrap();
    assert_eq!(read.vectors, vec![json!([0.1, 0.2]), json!([0.3, 0.4])]);
    assert!(gemini::read_answer(answer.to_string().as_bytes(), 3).is_err());
}

fn input_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z ]{1,20}".prop_map(Value::from),
        prop::collection::vec("[a-z]{1,8}", 1..10).prop_map(|v| json!(v)),
        prop::collection::vec(0u32..100_000, 1..10).prop_map(|v| json!(v)),
        prop::collection::vec(prop::collection::vec(0u32..1000, 1..5), 1..6).prop_map(|v| json!(v)),
    ]
}

proptest! {
    /// The parser never panics, whatever the bytes.
    #[test]
    fn the_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_request(&bytes);
    }

    /// Any JSON value in any field is read or refused naming a field, never a panic.
    #[test]
    fn odd_values_are_refused_with_a_field(
        model in prop_oneof![Just(json!("e")), Just(json!(1)), Just(json!(null))],
        input in prop_oneof![input_strategy(), Just(json!(null)), Just(json!([null])), Just(json!({}))],
        dims in prop_oneof![Just(json!(null)), Just(json!(-1)), Just(json!(1.5)), Just(json!(8))],
    ) {
        match parse(json!({"model": model, "input": input, "dimensions": dims})) {
            Ok(body) => prop_assert!(!inputs(&body).is_empty()),
            Err(e) => prop_assert!(e.param().is_some(), "no field named: {}", e),
        }
    }

    /// Split into any batch size and merged back, every input's vector is
    /// where its input was.
    #[test]
    fn split_and_merged_batches_keep_input_order(input in input_strategy(), max in 1usize..4) {
        let body = parse(json!({"model": "e", "input": input})).unwrap();
        let all = inputs(&body);
        let parts: Vec<EmbeddingAnswer> = all
            .chunks(max)
            .enumerate()
            .map(|(b, run)| EmbeddingAnswer {
                vectors: (0..run.len()).map(|i| json!([(b * max + i) as f64])).collect(),
                model: None,
                usage: Usage { prompt_tokens: 1, completion_tokens: 0 },
            })
            .collect();
        let batches = parts.len() as u64;
        let (merged, usage) = merge(parts, Encoding::Float, "e");
        prop_assert_eq!(usage.prompt_tokens, batches);
        let v: Value = serde_json::from_slice(&merged).unwrap();
        let data = v["data"].as_array().unwrap();
        prop_assert_eq!(data.len(), all.len());
        for (i, d) in data.iter().enumerate() {
            prop_assert_eq!(d["index"].as_u64(), Some(i as u64));
            prop_assert_eq!(&d["embedding"], &json!([i as f64]));
        }
    }
}

#[test]
fn vectors_of_another_length_than_the_route_declares_are_refused() {
    let floats = EmbeddingAnswer {
        vectors: vec![json!([0.1, 0.2, 0.3])],
        model: None,
        usage: Usage::default(),
    };
    assert!(check_dimensions(&floats, 3).is_ok());
    assert!(check_dimensions(&floats, 4).is_err());
    for n in 1..8 {
        let (body, _) = merge(
            vec![EmbeddingAnswer {
                vectors: vec![Value::from(vec![0.5f32; n])],
                model: None,
                usage: Usage::default(),
            }],
            Encoding::Base64,
            "m",
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        let encoded = EmbeddingAnswer {
            vectors: vec![v["data"][0]["embedding"].clone()],
            model: None,
            usage: Usage::default(),
        };
        assert!(check_dimensions(&encoded, n).is_ok(), "{n}");
        assert!(check_dimensions(&encoded, n + 1).is_err(), "{n}");
    }
}

fn bedrock() -> crate::bedrock::BedrockAdapter {
    crate::bedrock::BedrockAdapter {
        region: "us-east-1".into(),
        endpoint: None,
        credentials: crate::bedrock::AwsCredentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: crate::Secret::new("secret"),
            session_token: None,
        },
    }
}

#[test]
fn bedrock_titan_takes_one_signed_text_per_call_and_cohere_a_batch() {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let one = parse(json!({"model": "e", "input": "hello", "dimensions": 256})).unwrap();
    let titan = crate::RouteSettings::new("amazon.titan-embed-text-v2:0");
    let req = bedrock()
        .render_embeddings(
            &EmbeddingsBody {
                body: &one,
                batch: None,
            },
            &titan,
            at,
        )
        .unwrap();
    assert_eq!(
        req.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    assert!(req.headers.contains_key("authorization"), "signed");
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent, json!({"inputText": "hello", "dimensions": 256}));
    let two =
        parse(json!({"model": "e", "input": ["a", "b"], "input_type": "search_query"})).unwrap();
    let body = EmbeddingsBody {
        body: &two,
        batch: None,
    };
    assert!(
        bedrock().render_embeddings(&body, &titan, at).is_err(),
        "Titan: one text per call"
    );
    let cohere = crate::RouteSettings::new("cohere.embed-english-v3");
    let req = bedrock().render_embeddings(&body, &cohere, at).unwrap();
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({"texts": ["a", "b"], "input_type": "search_query"})
    );
    let other = crate::RouteSettings::new("anthropic.claude-v2");
    assert!(bedrock().render_embeddings(&body, &other, at).is_err());
}

#[test]
fn bedrock_answers_read_back_with_titan_usage() {
    let titan = json!({"embedding": [0.1, 0.2], "inputTextTokenCount": 3});
    let read = bedrock::read_answer(titan.to_string().as_bytes(), 1).unwrap();
    assert_eq!((read.vectors.len(), read.usage.prompt_tokens), (1, 3));
    let cohere = json!({"id": "x", "embeddings": [[0.1], [0.2]], "texts": ["a", "b"]});
    let read = bedrock::read_answer(cohere.to_string().as_bytes(), 2).unwrap();
    assert_eq!(read.vectors, vec![json!([0.1]), json!([0.2])]);
    assert!(bedrock::read_answer(cohere.to_string().as_bytes(), 3).is_err());
    assert!(bedrock::read_answer(b"{}", 1).is_err());
}

#[test]
fn cohere_v2_embed_gets_texts_and_its_float_answer_reads_back() {
    let adapter = crate::cohere::CohereAdapter {
        base_url: "https://api.cohere.example".into(),
        api_key: Some(crate::Secret::new("k")),
    };
    let body = parse(json!({"model": "e", "input": ["a", "b"], "dimensions": 256})).unwrap();
    let route = crate::RouteSettings::new("embed-v4.0");
    let req = adapter
        .render_embeddings(
            &EmbeddingsBody {
                body: &body,
                batch: None,
            },
            &route,
        )
        .unwrap();
    assert_eq!(req.url, "https://api.cohere.example/v2/embed");
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document",
               "embedding_types": ["float"], "output_dimension": 256})
    );
    let answer = json!({"id": "x", "embeddings": {"float": [[0.1], [0.2]]},
                        "meta": {"billed_units": {"input_tokens": 2}}});
    let read = cohere::read_answer(answer.to_string().as_bytes(), 2).unwrap();
    assert_eq!(read.vectors, vec![json!([0.1]), json!([0.2])]);
    assert_eq!(read.usage.prompt_tokens, 2);
    assert!(cohere::read_answer(answer.to_string().as_bytes(), 1).is_err());
}
