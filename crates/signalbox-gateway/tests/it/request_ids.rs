//! Request ids and decision records: every record is keyed by an id the
//! gateway generates, so a caller's `x-request-id` (anyone's to choose)
//! can name records but never overwrite or erase another tenant's.

use crate::header;
use crate::residency::{ADMIN, admin_get, call, residency};

#[tokio::test]
async fn a_tenant_sending_anothers_request_id_cannot_overwrite_its_record() {
    let h = residency().await;
    let acme = call(&h, Some("acme-key"), &[("x-request-id", "shared-1")]).await;
    assert_eq!(acme.status(), 200);
    // Another tenant sends the same id, twice (with `INSERT OR REPLACE`
    // keyed by it, each replaced acme's record).
    let globex = call(&h, Some("globex-key"), &[("x-request-id", "shared-1")]).await;
    let _ = call(&h, Some("globex-key"), &[("x-request-id", "shared-1")]).await;

    let (status, rec) = admin_get(&h, "/admin/decisions/shared-1?tenant=acme", Some(ADMIN)).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["tenant"], "acme");
    assert_eq!(rec["outcome"], "served");
    assert_eq!(rec["caller_request_id"], "shared-1");

    // The caller's id is echoed; the gateway's own id is the record's key.
    assert_eq!(header(&acme, "x-request-id"), "shared-1");
    let acme_id = header(&acme, "x-signalbox-request-id").to_string();
    let globex_id = header(&globex, "x-signalbox-request-id").to_string();
    assert_eq!(acme_id.len(), 32);
    assert_ne!(acme_id, globex_id);
    assert_eq!(rec["request_id"], acme_id.as_str());

    let (status, rec) = admin_get(&h, &format!("/admin/decisions/{acme_id}"), Some(ADMIN)).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["tenant"], "acme");
    let (_, rec) = admin_get(&h, &format!("/admin/decisions/{globex_id}"), Some(ADMIN)).await;
    assert_eq!(rec["tenant"], "globex");

    // Three requests sent `shared-1`: the single lookup refuses to guess.
    let (status, body) = admin_get(&h, "/admin/decisions/shared-1", Some(ADMIN)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "ambiguous_request_id");
    let tenants: Vec<&str> = body["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, ["globex", "globex", "acme"]);
    assert_eq!(body["matches"][2]["request_id"], acme_id.as_str());

    let (status, list) = admin_get(&h, "/admin/decisions?request_id=shared-1", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(list["decisions"].as_array().unwrap().len(), 3);
    let (_, list) = admin_get(
        &h,
        &format!("/admin/decisions?request_id={acme_id}"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(list["decisions"][0]["tenant"], "acme");
    assert_eq!(
        admin_get(&h, "/admin/decisions/shared-1?bogus=1", Some(ADMIN))
            .await
            .0,
        400
    );
    h.stop().await;
}

#[tokio::test]
async fn without_a_callers_id_both_headers_carry_the_gateways() {
    let h = residency().await;
    let resp = call(&h, Some("acme-key"), &[]).await;
    let id = header(&resp, "x-signalbox-request-id").to_string();
    assert_eq!(header(&resp, "x-request-id"), id);
    let (status, rec) = admin_get(&h, &format!("/admin/decisions/{id}"), Some(ADMIN)).await;
    assert_eq!(status, 200, "{rec}");
    assert!(rec.get("caller_request_id").is_none(), "{rec}");
    h.stop().await;
}

#[tokio::test]
async fn one_decision_is_explained_as_text_on_request() {
    let h = residency().await;
    let resp = call(&h, Some("acme-key"), &[("x-request-id", "explain-1")]).await;
    let id = header(&resp, "x-signalbox-request-id").to_string();
    let (_, flushed) = admin_get(&h, &format!("/admin/decisions/{id}"), Some(ADMIN)).await;
    assert_eq!(flushed["request_id"], id.as_str());
    let text = reqwest::Client::new()
        .get(h.url(&format!("/admin/decisions/{id}?format=text")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 200);
    assert_eq!(text.headers()["content-type"], "text/plain; charset=utf-8");
    let text = text.text().await.unwrap();
    // What `signalbox explain` prints: the why line first, then sections.
    assert!(text.starts_with("Why: tenant acme"), "{text}");
    assert!(text.contains("served"), "{text}");
    assert_eq!(
        admin_get(
            &h,
            &format!("/admin/decisions/{id}?format=xml"),
            Some(ADMIN)
        )
        .await
        .0,
        400
    );
    h.stop().await;
}
