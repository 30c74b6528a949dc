//! Owns the test harness: N mock providers and a gateway, all in-process on
//! 127.0.0.1 with port 0, plus helpers to call them. Test-only: nothing in
//! the shipped binary depends on it.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: failing loudly is the point"
)]

use std::net::SocketAddr;
use std::time::Duration;

use signalbox_config::{Config, OverlayVars, load_str};
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions};
use signalbox_mock::{MockFormat, MockHandle, MockOptions, MockProvider};

/// Every test request is bounded by this.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A running gateway with its mock providers.
pub struct Harness {
    /// The gateway.
    pub gateway: GatewayHandle,
    /// The mocks, in the order they were named.
    pub mocks: Vec<(String, MockHandle)>,
    /// A client with a bounded timeout.
    pub client: reqwest::Client,
    /// The decision log and any directory the test handed over
    /// ([`Harness::keeping`]); last, so they go after the gateway.
    dirs: Vec<TempDir>,
}

/// Installs the TLS provider reqwest needs (idempotent).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A loopback address with a free port.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// An address nothing listens on, so connecting is refused at once.
///
/// A released ephemeral port could be handed to a concurrently starting
/// test's server, so this picks a low, privileged port outside the
/// ephemeral range that nothing on a test machine listens on, checking first.
pub async fn closed_port_url() -> String {
    for port in [1u16, 9, 47, 97, 199] {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return format!("http://{addr}/v1");
        }
    }
    panic!("no closed low port found on 127.0.0.1");
}

impl Harness {
    /// The decision record of the request sent with `x-request-id: id`
    /// (the newest, if several were), once the log has written it.
    pub async fn record(&self, id: &str) -> signalbox_core::DecisionRecord {
        let log = self
            .gateway
            .gateway()
            .decision_log()
            .expect("the harness keeps a decision log")
            .clone();
        log.flush().await;
        let mut found = log
            .reader()
            .expect("the decision log opens")
            .find(id, None)
            .expect("the decision log answers");
        assert!(!found.is_empty(), "no decision record for {id}");
        found.remove(0)
    }

    /// Starts one mock per name and a gateway with `yaml`, where
    /// `${<NAME>_URL}` (name upper-cased, `-` → `_`) is each mock's base URL.
    /// `extra_vars` adds more variables.
    pub async fn start(yaml: &str, mock_names: &[&str], extra_vars: &[(&str, String)]) -> Self {
        Self::start_with(yaml, mock_names, extra_vars, MockOptions::default()).await
    }

    /// As [`Harness::start`], with mock options (names are overridden).
    pub async fn start_with(
        yaml: &str,
        mock_names: &[&str],
        extra_vars: &[(&str, String)],
        opts: MockOptions,
    ) -> Self {
        let mocks: Vec<(&str, MockFormat)> = mock_names
            .iter()
            .map(|n| (*n, MockFormat::OpenAi))
            .collect();
        Self::start_formats(yaml, &mocks, extra_vars, opts).await
    }

    /// As [`Harness::start_with`], each mock speaking its own wire format;
    /// `${<NAME>_URL}` is the base URL as that provider's SDK takes it (the
    /// host root for Anthropic and Gemini, `…/v1` for OpenAI).
    pub async fn start_formats(
        yaml: &str,
        mocks: &[(&str, MockFormat)],
        extra_vars: &[(&str, String)],
        opts: MockOptions,
    ) -> Self {
        init_tls();
        let mut handles = Vec::new();
        let mut vars = Vec::new();
        for (name, format) in mocks {
            let options = MockOptions {
                name: (*name).to_string(),
                ..opts.clone()
            };
            let m = MockProvider::start_as(any_port(), options, *format)
                .await
                .expect("mock starts");
            vars.push((format!("{}_URL", var_name(name)), m.base_url()));
            handles.push(((*name).to_string(), m));
        }
        vars.extend(
            extra_vars
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone())),
        );
        let config = config(yaml, vars);
        let log = temp_dir("harness");
        let options = GatewayOptions {
            decision_log_path: Some(log.path().join("decisions.db")),
            ..GatewayOptions::default()
        };
        let gateway = Gateway::with_options(config, options)
            .expect("gateway builds")
            .spawn(any_port())
            .await
            .expect("gateway binds");
        let client = reqwest::Client::builder()
            .timeout(TEST_TIMEOUT)
            .build()
            .unwrap();
        Self {
            gateway,
            mocks: handles,
            client,
            dirs: vec![log],
        }
    }

    /// Keeps `dir` (files the configuration reads, say) until the harness
    /// is dropped or stopped, then removes it.
    pub fn keeping(mut self, dir: TempDir) -> Self {
        self.dirs.push(dir);
        self
    }

    /// The mock with this name.
    pub fn mock(&self, name: &str) -> &MockHandle {
        &self
            .mocks
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no mock {name}"))
            .1
    }

    /// A gateway URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base_url())
    }

    /// POSTs a JSON body to `/v1/chat/completions`.
    pub async fn chat(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .json(body)
            .send()
            .await
            .expect("gateway answers")
    }

    /// POSTs an Anthropic Messages body to `/v1/messages`.
    pub async fn messages(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/messages"))
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("gateway answers")
    }

    /// POSTs a Responses API body to `/v1/responses`.
    pub async fn responses(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/responses"))
            .json(body)
            .send()
            .await
            .expect("gateway answers")
    }

    /// POSTs an embeddings body to `/v1/embeddings`, with extra headers.
    pub async fn embeddings(
        &self,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url("/v1/embeddings")).json(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("gateway answers")
    }

    /// POSTs a JSON body to `/v1/chat/completions` with extra headers.
    pub async fn chat_with(
        &self,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/v1/chat/completions"))
            .json(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("gateway answers")
    }

    /// GETs a gateway path and returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("gateway answers");
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// GETs an admin path with the bearer `token`; its JSON answer.
    pub async fn admin_json(&self, path: &str, token: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("gateway answers")
            .json()
            .await
            .expect("admin answers JSON")
    }

    /// Stops everything.
    pub async fn stop(self) {
        self.gateway.shutdown().await;
        for (_, m) in self.mocks {
            m.shutdown();
        }
    }
}

/// Loads a config from text with the given variables (panics on errors,
/// printing them).
pub fn config(yaml: &str, vars: Vec<(String, String)>) -> Config {
    let vars = OverlayVars::new(vars);
    match load_str(yaml, "<test>", &vars) {
        Ok(c) => c,
        Err(e) => panic!("test config invalid:\n{e}"),
    }
}

fn var_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// A simple chat body.
pub fn chat_body(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The same, streamed.
pub fn stream_body(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// Polls `f` every 20 ms until it returns true, at most `limit`.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub mod echo;
pub mod peers;
pub mod redis;
pub mod slow_client;
mod temp;

pub use slow_client::{SlowClient, Tricklers, chat_head};
pub use temp::{TempDb, TempDir, temp_db, temp_dir, temp_file};
