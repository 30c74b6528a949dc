//! Who may do what: roles, scopes, tenant keys, and 4xx errors that name
//! the field.

use serde_json::{Value, json};

use super::{ACME_KEY, Ops, drain};

#[tokio::test]
async fn roles_and_tenant_keys_are_refused_what_they_may_not_do() {
    let ops = Ops::start().await;
    let post = |token: &'static str, body: Value| {
        let ops = &ops;
        async move {
            ops.admin(reqwest::Method::POST, "/admin/actions", token, Some(body))
                .await
        }
    };
    let good = json!({"action": drain("primary-route"), "reason": "incident"});
    let (status, e) = post("viewer", good.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{e}"
    );
    let (status, _) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(status, 200, "read-only may look");
    let pin = json!({"action": {"kind": "pin", "alias": "chat", "route": "secondary-route"}, "reason": "x"});
    let (status, e) = post("drainer", pin).await;
    assert_eq!(status, 403);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not pin"),
        "{e}"
    );
    let (status, e) = post(ACME_KEY, good.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("invalid_admin_token"))
    );
    let (status, _) = ops
        .admin(reqwest::Method::GET, "/admin/routes", ACME_KEY, None)
        .await;
    assert_eq!(status, 401, "a tenant key is not an admin token");
    let (status, e) = ops
        .admin(reqwest::Method::POST, "/admin/reload", "oncall", None)
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    // Refused calls are audited too: who (or `-` without a valid token),
    // the method, path and status.
    let (_, audit) = ops
        .admin(reqwest::Method::GET, "/admin/audit?limit=50", "adm", None)
        .await;
    let entries = audit["audit"].as_array().unwrap();
    let has = |who: &str, method: &str, path: &str, status: u16| {
        entries.iter().any(|e| {
            e["who"] == who && e["method"] == method && e["path"] == path && e["status"] == status
        })
    };
    assert!(has("viewer", "POST", "/admin/actions", 403), "{audit}");
    assert!(has("drainer", "POST", "/admin/actions", 403), "{audit}");
    assert!(has("-", "POST", "/admin/actions", 401), "{audit}");
    assert!(has("-", "GET", "/admin/routes", 401), "{audit}");
    assert!(has("oncall", "POST", "/admin/reload", 403), "{audit}");
}

#[tokio::test]
async fn bad_actions_and_reverts_get_a_4xx_naming_the_field() {
    let ops = Ops::start().await;
    let post = |token: &'static str, body: Value| {
        let ops = &ops;
        async move {
            ops.admin(reqwest::Method::POST, "/admin/actions", token, Some(body))
                .await
        }
    };
    let good = json!({"action": drain("primary-route"), "reason": "incident"});
    // Clear 4xx naming the field.
    for (body, param, words) in [
        (
            json!({"action": drain("nope"), "reason": "x"}),
            "action.route",
            "unknown route \"nope\"",
        ),
        (
            json!({"action": drain("primary-route")}),
            "reason",
            "reason is required",
        ),
        (
            json!({"action": drain("primary-route"), "reason": "x", "ttl": "forever"}),
            "ttl",
            "not a duration",
        ),
        (
            json!({"action": {"kind": "throttle", "target": {"tenant": "globex"}, "requests-per-minute": 1}, "reason": "x"}),
            "action.target",
            "unknown tenant",
        ),
    ] {
        let (status, e) = post("oncall", body.clone()).await;
        assert_eq!(status, 400, "{body} → {e}");
        assert_eq!(e["error"]["param"], param, "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(words),
            "{e}"
        );
    }
    let (status, e) = post(
        "oncall",
        json!({"action": {"kind": "drain", "rout": "x"}, "reason": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("rout"),
        "{e}"
    );
    let (_, created) = post("oncall", good).await;
    let path = format!("/admin/actions/{}", created["id"].as_str().unwrap());
    let (status, e) = ops
        .admin(reqwest::Method::DELETE, &path, "oncall", None)
        .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (400, Some("reason"))
    );
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "viewer",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            "/admin/actions/act-none",
            "oncall",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}
