use super::*;

#[tokio::test]
async fn faults_stats_and_reset_over_http() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("ctl").await;
        let client = client();
        let root = format!("http://{}", mock.addr());

        let response = client
            .post(format!("{root}/_mock/faults"))
            .json(&json!({"error_rate": 1.0, "error_status": 502}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let returned: Faults = serde_json::from_value(json_of(response).await).unwrap();
        let expected = Faults {
            error_rate: 1.0,
            error_status: 502,
            ..Faults::default()
        };
        assert_eq!(returned, expected);
        assert_eq!(mock.faults(), expected);
        let listed = client
            .get(format!("{root}/_mock/faults"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_value::<Faults>(json_of(listed).await).unwrap(),
            expected
        );

        let rejected = client
            .post(format!("{root}/_mock/faults"))
            .json(&json!({"error_rat": 1.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
        assert_eq!(mock.faults(), expected);

        let response = post_chat(&client, &mock, &chat("hi", false)).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);

        let stats = client
            .get(format!("{root}/_mock/stats"))
            .send()
            .await
            .unwrap();
        let stats: Stats = serde_json::from_value(json_of(stats).await).unwrap();
        assert_eq!(
            (stats.name.as_str(), stats.requests, stats.errors_injected),
            ("ctl", 1, 1)
        );
        assert_eq!(stats.last_request.unwrap()["messages"][1]["content"], "hi");

        let reset = client
            .post(format!("{root}/_mock/reset"))
            .send()
            .await
            .unwrap();
        assert_eq!(reset.status(), StatusCode::OK);
        assert_eq!(mock.faults(), Faults::default());
        let stats = mock.stats();
        assert_eq!((stats.requests, stats.errors_injected), (0, 0));
        assert_eq!(stats.last_request, None);

        let response = post_chat(&client, &mock, &chat("hi", false)).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Numbering restarts after a reset.
        assert_eq!(json_of(response).await["id"], "chatcmpl-mock-1");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn in_process_reset_clears_faults_and_stats() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            latency_ms: 1,
            ..Faults::default()
        });
        post_chat(&client(), &mock, &chat("hi", false)).await;
        assert_eq!(mock.stats().requests, 1);
        mock.reset();
        assert_eq!(mock.faults(), Faults::default());
        assert_eq!(mock.stats().requests, 0);
        assert!(mock.stats().last_headers.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_resolves() {
    timeout(TEST_TIMEOUT, async {
        let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = MockOptions {
            name: "cli".to_owned(),
            ..MockOptions::default()
        };
        let server = tokio::spawn(signalbox_mock::serve(listener, options, async {
            let _ = stopped.await;
        }));
        let response = client()
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&chat("hi", false))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(response).await["choices"][0]["message"]["content"],
            "[cli] echo: hi"
        );
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn unknown_routes_get_openai_404s() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let response = client()
            .get(format!("{}/nope", mock.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-mock-name"], "m");
        assert_eq!(
            json_of(response).await["error"]["type"],
            "invalid_request_error"
        );
    })
    .await
    .unwrap();
}
