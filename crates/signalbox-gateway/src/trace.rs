//! Owns W3C trace context (`traceparent`, `tracestate`) at the gateway: a
//! caller's trace is continued, otherwise a new one starts; the gateway is
//! one hop in it, so every upstream attempt carries `traceparent` with the
//! caller's trace id and the gateway's own span id, and the decision record
//! keeps the trace id — the join key between the operators' tracing system,
//! provider logs and "why did this request go there?". What the spans say
//! (GenAI semantic conventions, attempt spans) is `genai.rs`.

pub(crate) mod genai;

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderValue};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Whether requests get a `tracing` span (for OpenTelemetry export). Off by
/// default, so a gateway without an exporter pays nothing for spans.
static REQUEST_SPANS: AtomicBool = AtomicBool::new(false);

/// Turns on one span per request (named `chat {alias}`), parented on the
/// caller's `traceparent`, with a child span per upstream attempt; the
/// binary calls this when an OTLP exporter is set up (the attempt spans use
/// the global tracer provider's tracer, so it must be installed first).
pub fn enable_request_spans() {
    REQUEST_SPANS.store(true, Ordering::Relaxed);
}

/// The request's span: `Span::none()` unless spans are enabled.
/// `request_id` is the echoed `x-request-id`; `gateway_id` the decision
/// record's key (`x-signalbox-request-id`).
pub(crate) fn request_span(
    headers: &HeaderMap,
    request_id: &str,
    gateway_id: &str,
) -> tracing::Span {
    if !REQUEST_SPANS.load(Ordering::Relaxed) {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "chat",
        otel.kind = "server",
        request_id,
        signalbox.request_id = gateway_id,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    if let Err(e) = span.set_parent(parent) {
        tracing::debug!(error = ?e, "Request span keeps no parent.");
    }
    span
}

/// Reads W3C headers for the propagator.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// The trace this request belongs to, and the gateway's span in it, kept as
/// the `traceparent` text sent upstream (`00-{trace}-{span}-{flags}`): built
/// once, on the stack, with no formatting machinery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: [u8; TRACEPARENT_LEN],
    /// The caller's `tracestate`, passed on unchanged when valid text.
    pub state: Option<HeaderValue>,
}

/// `00-` + 32 + `-` + 16 + `-` + 2.
const TRACEPARENT_LEN: usize = 55;
const TRACE_ID: std::ops::Range<usize> = 3..35;
const SPAN_ID: std::ops::Range<usize> = 36..52;
const FLAGS: std::ops::Range<usize> = 53..55;

impl TraceContext {
    /// The trace of `span` when it is exported (so that the ids sent
    /// upstream are the exported span's), else [`Self::from_headers`].
    pub fn for_span(span: &tracing::Span, headers: &HeaderMap) -> Self {
        if !span.is_none() {
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            if sc.is_valid() {
                return Self::new(
                    &hex_u128(u128::from_be_bytes(sc.trace_id().to_bytes())),
                    u64::from_be_bytes(sc.span_id().to_bytes()),
                    sc.trace_flags().to_u8(),
                    tracestate(headers),
                );
            }
        }
        Self::from_headers(headers)
    }

    /// Continues the caller's `traceparent` when it is valid (version 00
    /// format; unknown versions are read as 00, per the spec), else starts a
    /// new trace.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let parent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse);
        let (trace_id, flags) = match parent {
            Some((trace, flags)) => (trace, flags),
            None => (hex_u128(nonzero_u128()), 0x01),
        };
        Self::new(&trace_id, nonzero_u64(), flags, tracestate(headers))
    }

    fn new(trace_id: &[u8; 32], span_id: u64, flags: u8, state: Option<HeaderValue>) -> Self {
        let mut traceparent = *b"00-00000000000000000000000000000000-0000000000000000-00";
        traceparent[TRACE_ID].copy_from_slice(trace_id);
        write_hex(&mut traceparent[SPAN_ID], u128::from(span_id));
        write_hex(&mut traceparent[FLAGS], u128::from(flags));
        Self { traceparent, state }
    }

    /// 32 lowercase hex digits, never all zero.
    pub fn trace_id(&self) -> &str {
        self.part(TRACE_ID)
    }

    /// The gateway's span id: 16 lowercase hex digits.
    #[cfg(test)]
    fn span_id(&self) -> &str {
        self.part(SPAN_ID)
    }

    /// Trace flags (bit 0: sampled), as received or `01` for a new trace.
    #[cfg(test)]
    fn flags(&self) -> u8 {
        u8::from_str_radix(self.part(FLAGS), 16).unwrap_or(0)
    }

    /// `traceparent` for an upstream call made by the gateway's span.
    pub fn traceparent(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.traceparent).unwrap_or_default()
    }

    /// [`Self::traceparent`] as a header value (hex digits and dashes, so
    /// always `Some`).
    pub fn header(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(self.traceparent()).ok()
    }

    fn part(&self, range: std::ops::Range<usize>) -> &str {
        self.traceparent
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// Writes the low `out.len()` hex digits of `value`, lowercase, zero-padded.
fn write_hex(out: &mut [u8], mut value: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

fn hex_u128(value: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    write_hex(&mut out, value);
    out
}

/// The caller's `tracestate`, passed on when it is text of sane length.
fn tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .get("tracestate")
        .filter(|v| v.len() <= 512 && v.to_str().is_ok())
        .cloned()
}

/// Parses `version-traceid-parentid-flags`; returns the trace id and flags.
fn parse(text: &str) -> Option<([u8; 32], u8)> {
    let mut parts = text.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    // Version ff is invalid; version 00 has exactly four fields.
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace.as_bytes().try_into().ok()?, flags))
}

fn nonzero_u128() -> u128 {
    uuid::Uuid::new_v4().as_u128().max(1)
}

fn nonzero_u64() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_callers_trace_is_continued_with_a_new_span() {
        let t = TraceContext::from_headers(&headers(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]));
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(t.span_id(), "00f067aa0ba902b7");
        assert_eq!(t.flags(), 1);
        assert_eq!(t.state.as_ref().unwrap(), "congo=t61rcWkgMzE");
        let tp = t.traceparent();
        assert!(
            tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{tp}"
        );
        assert!(tp.ends_with("-01"), "{tp}");
        assert_eq!(tp.len(), 55);
    }

    #[test]
    fn invalid_parents_start_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            let t = TraceContext::from_headers(&headers(&[("traceparent", bad)]));
            assert_ne!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(t.trace_id().len(), 32, "{bad}");
            assert_eq!(t.flags(), 1);
        }
        // A future version with extra fields is read as 00.
        let t = TraceContext::from_headers(&headers(&[(
            "traceparent",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more",
        )]));
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.flags(), 0);
    }
}
