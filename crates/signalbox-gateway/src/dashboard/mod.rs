//! Owns the operators' web dashboard (`GET /admin/dashboard`): one page,
//! its script, style sheet and icon, compiled into the binary
//! (`include_str!`: no build step, no CDN, works offline). The page holds
//! no data: it asks for an admin token, keeps it in `sessionStorage` and
//! sends it as the `Authorization` header of its `fetch` calls to the admin
//! API (`/admin/routes`, `/admin/actions`, `/admin/decisions`; drain, force
//! and revert with a confirmed reason), which authorizes and audits each
//! call as usual — the token never goes into a URL. A strict Content-Security-Policy allows only these same-origin
//! assets: no inline script or style, no other origin, no form submission,
//! no framing; the script renders data as text only (never as HTML).
//! See docs/admin.md (Dashboard).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const ICON_SVG: &str = include_str!("assets/icon.svg");

/// Same-origin assets and API calls only; nothing inline.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The dashboard's routes (outside the admin API's audit layer: the
/// assets are public and hold no data; the data calls are audited).
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/dashboard", get(index))
        .route("/admin/dashboard/", get(index))
        .route("/admin/dashboard/app.js", get(script))
        .route("/admin/dashboard/app.css", get(style))
        .route("/admin/dashboard/icon.svg", get(icon))
}

async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

async fn icon() -> Response {
    asset(ICON_SVG, "image/svg+xml")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page is small and changes with the binary: always revalidate.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests;
