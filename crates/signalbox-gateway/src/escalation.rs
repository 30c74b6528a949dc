//! Owns human escalation, the last degradation step: the caller gets a
//! structured 503 naming the request id and reason, and the configured
//! webhook gets a JSON POST with the same facts (never prompt content).

use signalbox_config::DegradeStep;

use crate::AppState;
use crate::respond::Webhook;
use crate::runtime::Runtime;

/// Announces an escalation; returns what happened to the webhook.
pub fn escalate(
    state: &AppState,
    runtime: &Runtime,
    request_id: &str,
    tenant: &str,
    reason: &str,
    steps: &[DegradeStep],
) -> Webhook {
    tracing::warn!(%request_id, %tenant, %reason, "Request escalated to a human.");
    let Some(url) = runtime.config.resilience.escalation.webhook.clone() else {
        return Webhook::NotConfigured;
    };
    let steps: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    let body = serde_json::json!({
        "event": "signalbox.escalation",
        "request_id": request_id,
        "tenant": tenant,
        "reason": reason,
        "degraded": steps,
        "policy_version": runtime.config.version,
    });
    let client = state.webhook_client.clone();
    let request_id = request_id.to_owned();
    // Delivery never delays the caller's answer.
    tokio::spawn(async move {
        match client.post(&url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(%request_id, status = r.status().as_u16(), "Escalation webhook refused.")
            }
            Err(e) => tracing::warn!(%request_id, error = %e, "Escalation webhook failed."),
        }
    });
    Webhook::Sent
}
