//! Owns moving a request head's header values and target out of hyper's
//! read buffer, into one allocation of their own.
//!
//! Why: hyper hands the head over as slices of the connection's 8 KiB read
//! buffer, and the handler keeps the head until it answers, so the buffer
//! is shared while hyper reads on to notice a client that hangs up. A
//! shared buffer cannot be reused in place, so hyper took a new 8 KiB one
//! for every request, and a connection waiting on its upstream or
//! streaming an answer held both (docs/benchmarks.md, memory per slow
//! stream). Copying the few hundred bytes of the head once costs less than
//! that allocation; the body is the handler's and is dropped once parsed.

use bytes::BytesMut;
use http::request::Parts;
use http::{HeaderValue, Uri};

/// Replaces `parts`' header values (and an origin-form target) with copies
/// that share one new buffer; a value that cannot be rebuilt is kept as it
/// is (none can: each was valid when hyper parsed it).
pub(crate) fn own(parts: &mut Parts) {
    let path = origin_form(&parts.uri);
    let size =
        parts.headers.values().map(HeaderValue::len).sum::<usize>() + path.map_or(0, str::len);
    let mut buf = BytesMut::with_capacity(size);
    for value in parts.headers.values() {
        buf.extend_from_slice(value.as_bytes());
    }
    if let Some(path) = path {
        buf.extend_from_slice(path.as_bytes());
    }
    let buf = buf.freeze();
    let mut at = 0;
    for value in parts.headers.values_mut() {
        let end = at + value.len();
        if let Ok(mut copy) = HeaderValue::from_maybe_shared(buf.slice(at..end)) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
        at = end;
    }
    if path.is_some()
        && let Ok(uri) = Uri::from_maybe_shared(buf.slice(at..))
    {
        parts.uri = uri;
    }
}

/// The target of an origin-form request (`/path?query`), the usual form;
/// `None` for any other (kept as it is).
fn origin_form(uri: &Uri) -> Option<&str> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return None;
    }
    uri.path_and_query().map(|p| p.as_str())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// A value that is a view of `buf`, as hyper makes them.
    fn shared(buf: &Bytes, range: std::ops::Range<usize>) -> HeaderValue {
        HeaderValue::from_maybe_shared(buf.slice(range)).unwrap()
    }

    /// A head parsed as hyper does: values and target slices of one
    /// buffer, which is reusable in place once no slice of it is left.
    fn parsed(read: &mut BytesMut) -> Parts {
        read.extend_from_slice(b"/v1/chat/completions?x=1application/jsonBearer sk-1");
        let head = read.split().freeze();
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.uri = Uri::from_maybe_shared(head.slice(0..24)).unwrap();
        parts.headers.insert("content-type", shared(&head, 24..40));
        let mut key = shared(&head, 40..51);
        key.set_sensitive(true);
        parts.headers.insert("authorization", key);
        parts
    }

    #[test]
    fn the_head_no_longer_holds_the_read_buffer() {
        let mut read = BytesMut::with_capacity(4096);
        let mut parts = parsed(&mut read);
        assert!(!read.try_reclaim(4096), "the parsed head shares the buffer");
        own(&mut parts);
        assert!(
            read.try_reclaim(4096),
            "the head still holds the read buffer"
        );
    }

    #[test]
    fn values_target_and_sensitivity_are_kept() {
        let mut read = BytesMut::with_capacity(4096);
        let mut parts = parsed(&mut read);
        own(&mut parts);
        assert_eq!(parts.uri, "/v1/chat/completions?x=1");
        assert_eq!(parts.uri.query(), Some("x=1"));
        assert_eq!(parts.headers["content-type"], "application/json");
        assert_eq!(parts.headers["authorization"], "Bearer sk-1");
        assert!(parts.headers["authorization"].is_sensitive());
        assert!(!parts.headers["content-type"].is_sensitive());
    }

    #[test]
    fn repeated_headers_keep_their_order_and_an_absolute_target_is_kept() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.uri = "http://example.com/v1/models".parse().unwrap();
        parts.headers.append("x-a", HeaderValue::from_static("1"));
        parts.headers.append("x-a", HeaderValue::from_static("2"));
        parts.headers.append("x-b", HeaderValue::from_static(""));
        own(&mut parts);
        let a: Vec<_> = parts.headers.get_all("x-a").iter().collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(parts.headers["x-b"], "");
        assert_eq!(parts.uri, "http://example.com/v1/models");
    }
}
