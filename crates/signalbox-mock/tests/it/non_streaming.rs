use super::*;

#[tokio::test]
async fn echoes_the_last_user_message_with_usage() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("alpha").await;
        let client = client();
        let response = client
            .post(format!("{}/chat/completions", mock.base_url()))
            .header("authorization", "Bearer sk-test")
            .header("x-extra", "yes")
            .json(&chat("hello big world", false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-mock-name"], "alpha");
        let body = json_of(response).await;
        assert_eq!(body["id"], "chatcmpl-mock-1");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["created"], 1_700_000_000);
        assert_eq!(body["model"], "gpt-test");
        let choice = &body["choices"][0];
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(
            choice["message"]["content"],
            "[alpha] echo: hello big world"
        );
        assert_eq!(choice["finish_reason"], "stop");
        // 3 + 3 words, plus 4 per message; the answer has 5 words.
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 14, "completion_tokens": 5, "total_tokens": 19})
        );

        let stats = mock.stats();
        assert_eq!(
            (stats.name.as_str(), stats.requests, stats.responses_ok),
            ("alpha", 1, 1)
        );
        assert_eq!(stats.in_flight, 0);
        assert_eq!(stats.last_request.unwrap()["model"], "gpt-test");
        assert_eq!(stats.last_headers["authorization"], "Bearer sk-test");
        assert_eq!(stats.last_headers["x-extra"], "yes");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn counts_text_parts_of_array_content() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let body = json!({
            "model": "x",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "one two"},
                {"type": "image_url", "image_url": {"url": "http://a b c"}},
                {"type": "text", "text": "three"}
            ]}]
        });
        let body = json_of(post_chat(&client(), &mock, &body).await).await;
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "[m] echo: one two three"
        );
        assert_eq!(body["usage"]["prompt_tokens"], 3 + 4);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn calls_the_first_tool_when_asked_about_the_weather() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let mut body = chat("What is the weather in Paris?", false);
        body["tools"] = json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "other"}}
        ]);
        let answer = json_of(post_chat(&client(), &mock, &body).await).await;
        let choice = &answer["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{
                "id": "call_mock_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}
            }])
        );

        // Without tools the same question is echoed.
        let plain = json_of(post_chat(&client(), &mock, &chat("weather?", false)).await).await;
        assert_eq!(plain["choices"][0]["message"]["content"], "[m] echo: weather?");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rejects_invalid_bodies_with_openai_errors() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let client = client();
        let url = format!("{}/chat/completions", mock.base_url());
        for body in [
            "not json",
            r#"{"model":"m"}"#,
            r#"{"model":"m","messages":"hi"}"#,
        ] {
            let response = client.post(&url).body(body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(response.headers()["x-mock-name"], "m");
            let error = json_of(response).await["error"].clone();
            assert_eq!(error["type"], "invalid_request_error");
            assert!(error["message"].as_str().unwrap().contains("invalid"));
            assert_eq!(
                (error["code"].clone(), error["param"].clone()),
                (Value::Null, Value::Null)
            );
        }
        let stats = mock.stats();
        assert_eq!((stats.requests, stats.responses_ok), (3, 0));
        assert_eq!(
            stats.last_request,
            Some(json!({"model": "m", "messages": "hi"}))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn lists_models_on_both_paths() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("beta").await;
        let client = client();
        for url in [
            format!("{}/models", mock.base_url()),
            format!("http://{}/models", mock.addr()),
        ] {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.headers()["x-mock-name"], "beta");
            assert_eq!(
                json_of(response).await,
                json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "owned_by": "beta"}]})
            );
        }
        // The unversioned chat path works too; model listing is not a chat request.
        let response = client
            .post(format!("http://{}/chat/completions", mock.addr()))
            .json(&chat("hi", false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(mock.stats().requests, 1);
    })
    .await
    .unwrap();
}
