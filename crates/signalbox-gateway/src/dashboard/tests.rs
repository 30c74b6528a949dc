use axum::body::Body;
use axum::http::Request;
use tower_service::Service as _;

use super::*;

async fn get(path: &str) -> Response {
    let mut app = router::<()>();
    let req = Request::get(path).body(Body::empty()).unwrap();
    app.call(req).await.unwrap()
}

#[tokio::test]
async fn every_asset_is_served_with_a_strict_policy() {
    for (path, kind) in [
        ("/admin/dashboard", "text/html"),
        ("/admin/dashboard/app.js", "text/javascript"),
        ("/admin/dashboard/app.css", "text/css"),
        ("/admin/dashboard/icon.svg", "image/svg+xml"),
    ] {
        let resp = get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        let content_type = h[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}

#[test]
fn the_page_has_no_inline_script_or_style() {
    let html = INDEX_HTML.to_ascii_lowercase();
    // Every <script> loads the one same-origin file.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"<script src="/admin/dashboard/app.js" defer></script>"#));
    assert!(!html.contains("<style"));
    assert!(!html.contains(" style="));
    let handler = regex::Regex::new(r"\son[a-z]+\s*=").unwrap();
    assert!(!handler.is_match(&html), "an inline event handler");
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn the_script_renders_data_as_text_and_keeps_the_token_out_of_urls() {
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage",
    ] {
        assert!(!APP_JS.contains(sink), "app.js uses {sink}");
    }
    assert!(APP_JS.contains("sessionStorage"));
    // The token is sent as a header only.
    assert!(APP_JS.contains("Authorization: 'Bearer ' + t"));
}
