//! Hot reload under load: a valid file swaps the policy atomically, a broken
//! one is rejected and the old policy keeps serving; no request fails either way.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayOptions, ReloadSource};
use signalbox_mock::{MockOptions, MockProvider};
use signalbox_testkit::{TempDb, TempDir, any_port, chat_body, init_tls, temp_db, temp_dir};

const ADMIN: &str = "reload-admin";

fn policy(order: &str) -> String {
    document("", "m", &format!("  - {{ name: chat, routes: [{order}] }}"))
}

/// Mocks `a` and `b` behind routes of the same ids: route `a` with the
/// extra keys `a_extra`, route `b` sending model `b_model`.
fn document(a_extra: &str, b_model: &str, aliases: &str) -> String {
    format!(
        r#"
providers:
  - {{ name: a, kind: openai-compatible, base-url: "${{A_URL}}" }}
  - {{ name: b, kind: openai-compatible, base-url: "${{B_URL}}" }}
routes:
  - {{ id: a, provider: a, model: m, region: us{a_extra} }}
  - {{ id: b, provider: b, model: {b_model}, region: us }}
admin:
  token: {{ env: ADMIN_TOKEN }}
aliases:
{aliases}
"#
    )
}

struct Setup {
    path: PathBuf,
    gateway: signalbox_gateway::GatewayHandle,
    client: reqwest::Client,
    /// The watched directory, and the decision log kept out of it (its
    /// writes would be events there); last, so the gateway stops first.
    _dir: TempDir,
    _log: TempDb,
}

async fn setup(watch: bool) -> Setup {
    start(watch, |dir| {
        let path = dir.join("signalbox.yaml");
        std::fs::write(&path, policy("a, b")).unwrap();
        path
    })
    .await
}

/// Starts mocks `a` and `b` and a gateway reloading from the main file that
/// `write` creates in a fresh directory (and returns).
async fn start(watch: bool, write: impl FnOnce(&std::path::Path) -> PathBuf) -> Setup {
    init_tls();
    let mock = |name: &str| MockOptions {
        name: name.into(),
        ..MockOptions::default()
    };
    let a = MockProvider::start(any_port(), mock("a")).await.unwrap();
    let b = MockProvider::start(any_port(), mock("b")).await.unwrap();
    let vars = || {
        OverlayVars::new([
            ("A_URL", a.base_url()),
            ("B_URL", b.base_url()),
            ("ADMIN_TOKEN", ADMIN.to_string()),
        ])
    };
    let dir = temp_dir("reload");
    let log = temp_db();
    let path = write(dir.path());
    let config = load_file(&path, &vars()).unwrap();
    let options = GatewayOptions {
        reload: Some(ReloadSource {
            path: path.clone(),
            vars: Arc::new(vars()),
            watch,
        }),
        decision_log_path: Some(log.to_path_buf()),
        breaker_store: None,
        action_store: None,
        quality_state: None,
    };
    let gateway = Gateway::with_options(config, options)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Setup {
        path,
        gateway,
        client,
        _dir: dir,
        _log: log,
    }
}

impl Setup {
    async fn route(&self) -> (u16, String, String) {
        let resp = self
            .client
            .post(format!("{}/v1/chat/completions", self.gateway.base_url()))
            .json(&chat_body("chat", "hi"))
            .send()
            .await
            .unwrap();
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        (
            resp.status().as_u16(),
            h("x-signalbox-route"),
            h("x-signalbox-policy-version"),
        )
    }

    /// `GET /admin/reload`: the last attempt.
    async fn admin_status(&self) -> serde_json::Value {
        self.client
            .get(format!("{}/admin/reload", self.gateway.base_url()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn admin_reload(&self) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}/admin/reload", self.gateway.base_url()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

#[tokio::test]
async fn reload_under_load_with_a_valid_and_a_broken_file() {
    let s = Arc::new(setup(false).await);
    let (_, route, v1) = s.route().await;
    assert_eq!(route, "a");

    // Background load for the whole test: every request must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (s, stop, failures, served) =
            (s.clone(), stop.clone(), failures.clone(), served.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _, _) = s.route().await;
                if status == 200 {
                    served.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    std::fs::write(&s.path, policy("b, a")).unwrap();
    let (status, body) = s.admin_reload().await;
    assert_eq!(status, 200, "{body}");
    let v2 = body["policy_version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    let (_, route, version) = s.route().await;
    assert_eq!((route.as_str(), version.as_str()), ("b", v2.as_str()));

    std::fs::write(&s.path, "providers: [ this is not valid").unwrap();
    let (status, body) = s.admin_reload().await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "reload_rejected");
    assert_eq!(body["policy_version"], v2.as_str());
    std::fs::write(&s.path, policy("a, nope")).unwrap();
    let (status, body) = s.admin_reload().await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("aliases[0].routes[1]"),
        "{body}"
    );
    let (_, route, version) = s.route().await;
    assert_eq!(
        (route.as_str(), version.as_str()),
        ("b", v2.as_str()),
        "the old policy keeps serving"
    );

    let status = s.admin_status().await;
    assert_eq!(status["ok"], false);

    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request may fail during reloads"
    );
}

#[tokio::test]
async fn file_changes_are_picked_up() {
    let s = setup(true).await;
    let (_, route, _) = s.route().await;
    assert_eq!(route, "a");
    std::fs::write(&s.path, policy("b, a")).unwrap();
    let mut switched = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if s.route().await.1 == "b" {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(switched, "the watcher did not reload the changed file");
}

#[tokio::test]
async fn reload_needs_the_admin_token() {
    let s = setup(false).await;
    let resp = s
        .client
        .post(format!("{}/admin/reload", s.gateway.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn changes_to_included_files_are_picked_up() {
    let rule = |prefer: &str| {
        format!("policy:\n  rules:\n    - {{ name: pick, objectives: {{ prefer: [{prefer}] }} }}\n")
    };
    let mut rules = PathBuf::new();
    let s = start(true, |dir| {
        std::fs::create_dir_all(dir.join("policy")).unwrap();
        rules = dir.join("policy").join("rules.yaml");
        std::fs::write(&rules, rule("a")).unwrap();
        let main = dir.join("signalbox.yaml");
        std::fs::write(
            &main,
            format!("include: [policy/rules.yaml]\n{}", policy("a, b")),
        )
        .unwrap();
        main
    })
    .await;
    assert_eq!(s.route().await.1, "a");
    std::fs::write(&rules, rule("b")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut switched = false;
    while tokio::time::Instant::now() < deadline {
        if s.route().await.1 == "b" {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        switched,
        "editing the included rules file did not reload the policy"
    );
}

impl Setup {
    /// `signalbox_config_reloads_total` by result: (ok, unchanged, error).
    async fn reloads(&self) -> (u64, u64, u64) {
        let text = self
            .client
            .get(format!("{}/metrics", self.gateway.base_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let count = |result: &str| {
            let prefix = format!(r#"signalbox_config_reloads_total{{result="{result}"}} "#);
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map_or(0, |v| v.trim().parse().unwrap())
        };
        (count("ok"), count("unchanged"), count("error"))
    }

    /// Waits (at most 10 s) until `done` holds for the reload counts.
    async fn wait_for_reloads(&self, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let counts = self.reloads().await;
            if done(counts) || tokio::time::Instant::now() >= deadline {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replaces the main file in one step (write a sibling, rename it over),
    /// so the watcher sees a single change.
    fn replace(&self, text: &str) {
        let tmp = self.path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
    }
}

#[tokio::test]
async fn reading_the_watched_file_starts_no_reload() {
    let s = setup(true).await;
    // Serving means the watcher has been set up.
    assert_eq!(s.route().await.1, "a");
    // A real change first: proves the watcher is running.
    s.replace(&policy("b, a"));
    let before = s.wait_for_reloads(|(ok, _, _)| ok >= 1).await;
    assert_eq!(before, (1, 0, 0), "one change, one reload");
    assert_eq!(s.route().await.1, "b");

    // Read the file as `cat` or a backup agent does.
    for _ in 0..100 {
        let text = std::fs::read_to_string(&s.path).unwrap();
        assert!(!text.is_empty());
    }
    // Nothing must happen; five debounce periods are ample to see a
    // reload start (the old watcher reloaded in a loop from here on).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < deadline {
        assert_eq!(
            s.reloads().await,
            before,
            "reading the file started a reload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The watcher still reacts to a real change, exactly once.
    s.replace(&policy("a, b"));
    let after = s.wait_for_reloads(|(ok, _, _)| ok >= 2).await;
    assert_eq!(after, (2, 0, 0));
    assert_eq!(s.route().await.1, "a");
}

#[tokio::test]
async fn identical_content_is_skipped_and_counted() {
    let s = setup(false).await;
    let (_, _, v1) = s.route().await;
    let (status, body) = s.admin_reload().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "unchanged", "{body}");
    assert_eq!(body["policy_version"], v1.as_str());

    // Comments and formatting change no value: still unchanged.
    std::fs::write(
        &s.path,
        format!("# reviewed by ops\n{}\n\n", policy("a,   b")),
    )
    .unwrap();
    let (_, body) = s.admin_reload().await;
    assert_eq!(body["status"], "unchanged", "{body}");
    let last = s.admin_status().await;
    assert_eq!(
        (&last["ok"], &last["unchanged"]),
        (&true.into(), &true.into())
    );

    std::fs::write(&s.path, policy("b, a")).unwrap();
    let (_, body) = s.admin_reload().await;
    assert_eq!(body["status"], "reloaded", "{body}");
    assert_ne!(body["policy_version"], v1.as_str());
    assert_eq!(s.reloads().await, (1, 2, 0));
}

/// Route `a` limited to 5 requests per second behind alias `chat`; alias
/// `other` on route `b`, whose model changes with `b_model`.
fn limited_policy(b_model: &str) -> String {
    document(
        ", max-requests-per-second: 5",
        b_model,
        "  - { name: chat, routes: [a] }\n  - { name: other, routes: [b] }",
    )
}

#[tokio::test]
async fn a_rate_limited_route_stays_limited_across_reloads() {
    let s = start(false, |dir| {
        let path = dir.join("signalbox.yaml");
        std::fs::write(&path, limited_policy("m")).unwrap();
        path
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut served = 0u64;
    let mut refused = 0u64;
    for i in 0..10 {
        std::fs::write(&s.path, limited_policy(&format!("m{i}"))).unwrap();
        let (status, body) = s.admin_reload().await;
        assert_eq!(
            (status, &body["status"]),
            (200, &"reloaded".into()),
            "{body}"
        );
        for _ in 0..6 {
            match s.route().await.0 {
                200 => served += 1,
                429 => refused += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    // A token bucket of 5/s with one second of burst admits at most
    // 5 + 5 × elapsed; the old reload refilled it each time (~50 served).
    let elapsed = started.elapsed().as_secs_f64();
    let bound = 5.0 + 5.0 * elapsed + 1.0;
    assert!(
        (served as f64) <= bound,
        "{served} served in {elapsed:.2}s (at most {bound:.0} allowed), {refused} refused"
    );
    assert!(refused > 0);
}

/// A Kubernetes ConfigMap volume: `signalbox.yaml -> ..data/signalbox.yaml`,
/// `..data -> ..<timestamp>`; an update writes a new timestamped directory
/// and renames a fresh `..data` link over the old one, so no event names
/// `signalbox.yaml` itself.
#[cfg(unix)]
#[tokio::test]
async fn a_configmap_style_symlink_swap_is_picked_up() {
    use std::os::unix::fs::symlink;
    let s = start(true, |dir| {
        let v1 = dir.join("..v1");
        std::fs::create_dir(&v1).unwrap();
        std::fs::write(v1.join("signalbox.yaml"), policy("a, b")).unwrap();
        symlink("..v1", dir.join("..data")).unwrap();
        let path = dir.join("signalbox.yaml");
        symlink("..data/signalbox.yaml", &path).unwrap();
        path
    })
    .await;
    assert_eq!(s.route().await.1, "a");
    let dir = s.path.parent().unwrap().to_path_buf();
    // What kubelet's atomic writer does.
    let v2 = dir.join("..v2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v2.join("signalbox.yaml"), policy("b, a")).unwrap();
    symlink("..v2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..v1")).unwrap();

    let counts = s.wait_for_reloads(|(ok, _, _)| ok >= 1).await;
    assert_eq!(counts.0, 1, "the swap did not reload: {counts:?}");
    assert_eq!(s.route().await.1, "b");
}
