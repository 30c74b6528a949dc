//! The tour's privacy round trip: a message carrying an e-mail address and a
//! card number crosses into the `external` zone as tokens (what openai-us
//! received, from the mock's last request) and comes back restored (what
//! the caller read); the decision record keeps counts, never values.

use serde_json::{Value, json};

use super::{Demo, expect, header};

/// What the caller writes: one e-mail address and one (test) card number.
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";

/// 3. A privacy round trip through us-large (zone `external`).
pub(super) async fn tour_privacy(
    demo: &Demo,
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<()> {
    println!(
        "\n3. A privacy round trip: personal data crosses into the provider's zone as tokens and comes back restored."
    );
    let text = format!("Send the receipt for card {CARD} to {EMAIL}, please.");
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": text}]});
    let resp = client.post(url).json(&body).send().await?;
    let route = header(&resp, "x-signalbox-route");
    let id = header(&resp, "x-signalbox-request-id");
    let json: Value = resp.json().await?;
    let seen = last_user_message(demo.us.stats().last_request.as_ref());
    let answer = json["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("   the caller sent:      {text}");
    println!("   openai-us received:   {seen}");
    println!("   the caller got back:  {answer}");
    println!(
        "   Served by {route}: the values never reached openai-us, and the gateway restored its tokens (⟦KIND_N⟧) in the answer."
    );
    expect(
        route == "us-large"
            && seen.contains("⟦EMAIL_1⟧")
            && seen.contains("⟦CARD_1⟧")
            && !seen.contains(EMAIL)
            && !seen.contains(CARD),
        "openai-us should receive tokens, not the e-mail address and card number",
    )?;
    expect(
        answer.contains(EMAIL) && answer.contains(CARD) && !answer.contains('⟦'),
        "the caller should get the e-mail address and card number back",
    )?;
    show_record_privacy(demo, &id).await
}

/// The decision record's `privacy` field: per zone, classes and counts.
async fn show_record_privacy(demo: &Demo, id: &str) -> anyhow::Result<()> {
    let reader = signalbox_decision_log::LogReader::open(&demo.db)?;
    // The writer commits within a few tens of milliseconds.
    for _ in 0..50 {
        if let Some(record) = reader.get(id)? {
            let privacy = record.privacy.unwrap_or(Value::Null);
            println!(
                "   Its decision record keeps counts, never values: {}",
                summary(&privacy)
            );
            return expect(
                !privacy.to_string().contains(EMAIL),
                "the decision record must not keep the e-mail address",
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    expect(false, "the privacy request's decision should be in the log")
}

/// `zone external: card tokenised 1, email tokenised 1` from the record's
/// `privacy` field (zone → classes → counts per action).
fn summary(privacy: &Value) -> String {
    let Some(zones) = privacy.as_object() else {
        return "none".to_owned();
    };
    let mut parts = Vec::new();
    for (zone, report) in zones {
        let mut counts = Vec::new();
        for (class, actions) in report["classes"].as_object().into_iter().flatten() {
            for (action, n) in actions.as_object().into_iter().flatten() {
                if n.as_u64().is_some_and(|n| n > 0) {
                    counts.push(format!("{class} {action} {n}"));
                }
            }
        }
        parts.push(format!("zone {zone}: {}", counts.join(", ")));
    }
    parts.join("; ")
}

/// The text of the last user message of a chat request body.
fn last_user_message(request: Option<&Value>) -> String {
    request
        .and_then(|r| r["messages"].as_array())
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("-")
        .to_owned()
}
