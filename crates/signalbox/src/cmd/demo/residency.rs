//! The tour's residency step: the tenant `eu-bank` may only be served in
//! the EU. With both EU providers failing and us-large healthy, its
//! request is refused, naming the region constraint, and openai-us never
//! sees it; the same request without a key (tenant `default`) is served.

use serde_json::Value;
use signalbox_mock::Faults;

use super::{Demo, expect, header, show_headers};

/// 4. A residency-bound tenant refused rather than served out of region.
pub(super) async fn tour_residency(
    demo: &Demo,
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<()> {
    println!(
        "\n4. Residency: tenant eu-bank (its own API key) may only be served in the EU. Both EU providers now answer 503."
    );
    demo.fail_eu();
    let us_before = demo.us.stats().requests;
    let resp = client
        .post(url)
        .bearer_auth(&demo.eu_bank_key)
        .json(body)
        .send()
        .await?;
    show_headers(&resp);
    let status = resp.status();
    let json: Value = resp.json().await?;
    let message = json["error"]["message"].as_str().unwrap_or("-").to_owned();
    println!("   status {status}; error: {message}");
    println!(
        "   excluded by policy: {}",
        json["signalbox"]["excluded_by_policy"]
    );
    let us_calls = demo.us.stats().requests - us_before;
    println!(
        "   openai-us received {us_calls} of eu-bank's requests: refused, never served out of region."
    );
    let anonymous = client.post(url).json(body).send().await?;
    println!(
        "   The same request without a key (tenant default, any region): status {}, served by {}.",
        anonymous.status(),
        header(&anonymous, "x-signalbox-route")
    );
    for m in [&demo.azure, &demo.vllm] {
        m.set_faults(Faults::default());
    }
    expect(
        status.is_server_error() && message.contains("region us ∉ [eu]") && us_calls == 0,
        "eu-bank should be refused, naming its region constraint, and never reach openai-us",
    )
}
