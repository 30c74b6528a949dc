//! `x-signalbox-pin-route` (what `signalbox eval run --route` sends): the
//! one route that may serve a request, only ever narrowing the policy's
//! decision. Against `examples/residency.yaml`: Globex may be pinned to
//! either region's route (the other is never tried, even when the pinned
//! one fails); Acme, held to the EU, may not be pinned to the US route;
//! an unknown route is a bad header.

use serde_json::Value;
use signalbox_mock::Faults;

use crate::header;
use crate::residency::{call, residency};

const PIN: &str = "x-signalbox-pin-route";

#[tokio::test]
async fn a_pin_narrows_the_candidates_to_one_route() {
    let h = residency().await;
    let resp = call(&h, Some("globex-key"), &[(PIN, "eu")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "eu");
    assert_eq!(h.mock("us").stats().requests, 0, "globex prefers the us");
    // The pinned route's failure is its own: no fallback hides it.
    h.mock("eu").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    let resp = call(&h, Some("globex-key"), &[(PIN, "eu")]).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    assert_eq!(h.mock("us").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_pin_never_widens_what_the_policy_allows() {
    let h = residency().await;
    let resp = call(&h, Some("acme-key"), &[(PIN, "us")]).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("route us may not serve this request"), "{msg}");
    assert!(msg.contains("region us ∉ [eu]"), "{msg}");
    assert_eq!(
        h.mock("us").stats().requests + h.mock("eu").stats().requests,
        0
    );
    let resp = call(&h, Some("globex-key"), &[(PIN, "nowhere")]).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("unknown route `nowhere`"), "{msg}");
    h.stop().await;
}
