//! The demo tour's operator step: with us-large's circuit open (step 4),
//! requests go to eu-large; an operator drains eu-large with a reason and a
//! TTL through the admin API, the next request moves to eu-small and names
//! the action, and a revert (with its reason) brings eu-large back.

use serde_json::{Value, json};

use super::demo::{expect, show_headers};

/// 8. An operator drains a route, then reverts the drain.
pub(super) async fn tour_drain(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<()> {
    println!("\n8. An operator drains eu-large for 30 minutes, with a reason:");
    println!("   signalbox admin drain eu-large --for 30m --reason \"provider incident\"");
    let action = json!({
        "action": {"kind": "drain", "route": "eu-large"},
        "reason": "provider incident",
        "ttl": "30m",
    });
    let created: Value = client
        .post(format!("{base}/admin/actions"))
        .bearer_auth(token)
        .json(&action)
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().unwrap_or("-").to_owned();
    let until = created["expires_ms"]
        .as_u64()
        .map_or_else(|| "-".to_owned(), super::admin::rfc3339);
    println!(
        "   action {id} by {}, until {until}: {}",
        created["who"]["name"].as_str().unwrap_or("-"),
        created["reason"].as_str().unwrap_or("-")
    );
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(body)
        .send()
        .await?;
    let route = show_headers(&resp);
    println!("   New requests skip eu-large (in-flight ones finish); the skip names the action.");
    expect(
        route == "eu-small",
        "with eu-large drained the request should go to eu-small",
    )?;
    println!("   signalbox admin revert {id} --reason \"provider recovered\"");
    let reverted = client
        .delete(format!("{base}/admin/actions/{id}"))
        .bearer_auth(token)
        .json(&json!({"reason": "provider recovered"}))
        .send()
        .await?;
    expect(reverted.status().is_success(), "the drain should revert")?;
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(body)
        .send()
        .await?;
    let route = super::demo::header(&resp, "x-signalbox-route");
    println!(
        "   Reverted: served by {route} again. Every admin call is in the audit trail (GET /admin/audit)."
    );
    expect(
        route == "eu-large",
        "after the revert eu-large should serve again",
    )
}
