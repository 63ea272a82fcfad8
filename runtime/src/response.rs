//! `(Source, &AppResponse, is_head)` -> the response JSON the event's front door expects.
//!
//! Each front door is strict about keys: REST fails on `statusDescription` or `cookies`
//! ("Malformed Lambda proxy response"), ALB needs `statusDescription` and, in multi-value mode,
//! every header in `multiValueHeaders` (PEERS.md 2.8). So each source gets exactly its keys.

use base64::Engine as _;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::source::Source;

/// What the application answered, validated by `wsgi.rs`: the status is a number with a reason,
/// header names are tokens and values hold no CR/LF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppResponse {
    /// Status code, 100..=999.
    pub status: u16,
    /// Reason phrase from the status line (`OK`).
    pub reason: String,
    /// Header lines in the order the app gave them; values are bytes-as-unicode.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl AppResponse {
    /// A short plain-text response the runtime answers on the app's behalf (400, 500, ...).
    pub fn plain(status: u16, reason: &str, message: &str) -> Self {
        AppResponse {
            status,
            reason: reason.to_owned(),
            headers: vec![("Content-Type".to_owned(), "text/plain; charset=utf-8".to_owned())],
            body: message.as_bytes().to_vec(),
        }
    }
}

/// The last value of `name` among `headers`.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The JSON object handed back to Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventResponse {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Entries<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<Entries<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<String>>,
    body: String,
    is_base64_encoded: bool,
}

/// An object whose keys keep the order they were added in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entries<T>(Vec<(String, T)>);

impl<T: Serialize> Serialize for Entries<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// ALB's cap on the response JSON it accepts from Lambda: 1 MB.
pub const ALB_RESPONSE_LIMIT: usize = 1_048_576;

/// The payload limit of `source`, given the configured Lambda-wide one.
pub fn response_limit(source: Source, configured: usize) -> usize {
    match source {
        Source::Alb { .. } => configured.min(ALB_RESPONSE_LIMIT),
        _ => configured,
    }
}

/// How much of a buffered response body is worth collecting: past [`BodyCap::raw_limit`] raw
/// bytes, the rendered JSON is certainly over `json_limit`, so the runtime stops reading the
/// app's iterable there instead of holding the whole body first. The exact check on the
/// rendered JSON ([`EventResponse::size_if_over`]) still runs on whatever fits.
#[derive(Debug, Clone, Copy)]
pub struct BodyCap<'a> {
    /// The response JSON limit ([`response_limit`]).
    pub json_limit: usize,
    /// WSGI_TEXT_MIME_TYPES.
    pub extra_text_types: &'a [String],
}

impl BodyCap<'_> {
    /// The largest raw body whose rendering can still fit, given the response headers. A text
    /// body renders to at least its own length (JSON escaping only adds); a body that is
    /// certainly sent as base64 renders to 4 bytes per 3.
    pub fn raw_limit(&self, headers: &[(String, String)]) -> usize {
        if may_be_text(headers, self.extra_text_types) {
            self.json_limit
        } else {
            self.json_limit / 4 * 3
        }
    }
}

impl EventResponse {
    /// The HTTP status.
    pub fn status_code(&self) -> u16 {
        self.status_code
    }

    /// The size of this response as JSON, or `None` when it is certainly below `limit`: the
    /// exact size costs a serialization, so it is only computed for responses near the limit.
    pub fn size_if_over(&self, limit: usize) -> Option<usize> {
        let headers: usize = self
            .headers
            .iter()
            .flat_map(|h| &h.0)
            .map(|(n, v)| n.len() + v.len() + 8)
            .sum::<usize>()
            + self
                .multi_value_headers
                .iter()
                .flat_map(|h| &h.0)
                .flat_map(|(n, vs)| vs.iter().map(move |v| n.len() + v.len() + 8))
                .sum::<usize>()
            + self.cookies.iter().flatten().map(|c| c.len() + 4).sum::<usize>();
        // JSON escaping at most doubles text (\u00XX is six bytes for one, but rare); the
        // estimate only decides whether the exact size is worth computing.
        if (self.body.len() + headers) * 2 + 256 < limit {
            return None;
        }
        let mut counter = Counter(0);
        let exact = serde_json::to_writer(&mut counter, self).map_or(usize::MAX, |()| counter.0);
        (exact > limit).then_some(exact)
    }
}

/// Counts the bytes written to it: the size of a serialization without holding it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `response` in `source`'s shape. `extra_text_types` come from WSGI_TEXT_MIME_TYPES.
/// The response is consumed: its header strings and a text body move into the JSON value as
/// they are, without copies.
pub fn render(source: Source, response: AppResponse, is_head: bool, extra_text_types: &[String]) -> EventResponse {
    let AppResponse {
        status,
        reason,
        headers,
        body,
    } = response;
    let (body, is_base64_encoded) = encode_body(&headers, body, is_head, extra_text_types);
    let mut out = EventResponse {
        status_code: status,
        status_description: None,
        headers: None,
        multi_value_headers: None,
        cookies: None,
        body,
        is_base64_encoded,
    };
    match source {
        // Only multiValueHeaders: a name in both maps loses its `headers` value anyway, and
        // repeated headers and every Set-Cookie survive this way.
        Source::RestV1 | Source::HttpV1 => out.multi_value_headers = Some(group(headers)),
        Source::Alb { multi_value: true } => {
            out.status_description = Some(status_description(status, &reason));
            out.multi_value_headers = Some(group(headers));
        }
        Source::HttpV2 | Source::FunctionUrl => {
            // `cookies` always, empty or not, as lambda_http sends it: cargo-lambda reads the
            // answer into aws_lambda_events' ApiGatewayV2httpResponse, where it is required.
            let (headers, cookies) = headers_and_cookies(headers);
            out.headers = Some(headers);
            out.cookies = Some(cookies);
        }
        Source::Alb { multi_value: false } | Source::LatticeV1 | Source::LatticeV2 => {
            out.status_description = Some(status_description(status, &reason));
            out.headers = Some(join_keeping_last_cookie(headers, source));
        }
    }
    out
}

/// Payload 2.0's split: each `cookies` entry becomes its own Set-Cookie line; 2.0 header maps
/// are case-insensitive, so other names are lowercased and repeats comma-joined.
fn headers_and_cookies(headers: Vec<(String, String)>) -> (Entries<String>, Vec<String>) {
    let mut joined = Entries(Vec::with_capacity(headers.len()));
    let mut cookies = Vec::new();
    for (mut name, value) in headers {
        if name.eq_ignore_ascii_case("set-cookie") {
            cookies.push(value);
        } else {
            name.make_ascii_lowercase();
            joined.join_in(name, value);
        }
    }
    (joined, cookies)
}

/// Separates a streamed response's prelude from its body.
pub const STREAM_SEPARATOR: [u8; 8] = [0; 8];

/// The start of a streamed response (Lambda's HTTP integration stream, for Function URLs with
/// RESPONSE_STREAM and REST API streaming): the JSON prelude with the status, the headers and
/// the cookies, then the separator. The body follows as raw bytes: no base64 in this format.
pub fn stream_prelude(status: u16, headers: Vec<(String, String)>) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Prelude {
        status_code: u16,
        headers: Entries<String>,
        cookies: Vec<String>,
    }
    let (mut headers, cookies) = headers_and_cookies(headers);
    // Without one, the Function URL sends application/json; lambda_runtime does the same.
    if !headers.0.iter().any(|(name, _)| name == "content-type") {
        headers
            .0
            .push(("content-type".to_owned(), "application/octet-stream".to_owned()));
    }
    let prelude = Prelude {
        status_code: status,
        headers,
        cookies,
    };
    let mut bytes =
        serde_json::to_vec(&prelude).unwrap_or_else(|_| format!("{{\"statusCode\":{status}}}").into_bytes());
    bytes.extend_from_slice(&STREAM_SEPARATOR);
    bytes
}

fn status_description(status: u16, reason: &str) -> String {
    format!("{status} {reason}").trim_end().to_owned()
}

/// Groups repeated names (case-insensitively, first spelling kept) into lists.
fn group(headers: Vec<(String, String)>) -> Entries<Vec<String>> {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        match grouped.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    Entries(grouped)
}

impl Entries<String> {
    /// Adds a header line, joining a repeated name (case-insensitively, first spelling kept)
    /// with ", " (RFC 9110 5.3).
    fn join_in(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            None => self.0.push((name, value)),
        }
    }
}

/// Joins repeated names with ", " (RFC 9110 5.3).
fn join(headers: impl IntoIterator<Item = (String, String)>) -> Entries<String> {
    let mut joined = Entries(Vec::new());
    for (name, value) in headers {
        joined.join_in(name, value);
    }
    joined
}

/// Single-value front doors cannot carry two Set-Cookie lines and cookies cannot be
/// comma-joined, so the last one is kept (as Powertools does) and the loss is logged.
fn join_keeping_last_cookie(headers: Vec<(String, String)>, source: Source) -> Entries<String> {
    let cookie_count = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .count();
    if cookie_count <= 1 {
        return join(headers);
    }
    tracing::warn!(
        "{} responses carry one Set-Cookie header; kept the last of {cookie_count}. \
         Enable multi-value headers on the ALB target group to send them all.",
        source.name()
    );
    let mut seen = 0;
    join(headers.into_iter().filter(|(n, _)| {
        if !n.eq_ignore_ascii_case("set-cookie") {
            return true;
        }
        seen += 1;
        seen == cookie_count
    }))
}

/// Text types go as UTF-8 strings; everything else, any Content-Encoding, and "text" that is not
/// valid UTF-8 go as base64 (apig-wsgi, serverless-wsgi and Zappa crash on the last case).
fn encode_body(
    headers: &[(String, String)],
    body: Vec<u8>,
    is_head: bool,
    extra_text_types: &[String],
) -> (String, bool) {
    if is_head || body.is_empty() {
        return (String::new(), false);
    }
    let body = if may_be_text(headers, extra_text_types) {
        match String::from_utf8(body) {
            Ok(text) => return (text, false),
            Err(not_utf8) => not_utf8.into_bytes(),
        }
    } else {
        body
    };
    (base64::engine::general_purpose::STANDARD.encode(&body), true)
}

/// Whether a body with these headers goes as text when it is valid UTF-8 (otherwise: base64).
fn may_be_text(headers: &[(String, String)], extra_text_types: &[String]) -> bool {
    let compressed = header(headers, "content-encoding").is_some_and(|v| !v.trim().is_empty());
    !compressed && is_text_type(header(headers, "content-type"), extra_text_types)
}

/// Media types sent as text by default, beyond `text/*` and the `+json`/`+xml`/`+yaml` suffixes.
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/javascript",
    "application/ecmascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/x-yaml",
    "application/graphql",
    "image/svg+xml",
];

fn is_text_type(content_type: Option<&str>, extra_text_types: &[String]) -> bool {
    let Some(content_type) = content_type else { return false };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || TEXT_TYPES.contains(&mime.as_str())
        || [("+json"), ("+xml"), ("+yaml")]
            .iter()
            .any(|suffix| mime.ends_with(suffix))
        || extra_text_types.iter().any(|t| match t.strip_suffix("/*") {
            Some(kind) => mime.split_once('/').is_some_and(|(k, _)| k == kind),
            None => *t == mime,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(headers: &[(&str, &str)], body: &[u8]) -> AppResponse {
        AppResponse {
            status: 201,
            reason: "Created".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_stream_prelude_carries_status_headers_and_cookies_then_eight_nuls() {
        let headers = [
            ("Content-Type", "text/event-stream"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Tag", "one"),
            ("x-tag", "two"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
        let bytes = stream_prelude(200, headers.to_vec());
        let (json, separator) = bytes.split_at(bytes.len() - 8);
        assert_eq!(separator, STREAM_SEPARATOR);
        let prelude: serde_json::Value = serde_json::from_slice(json).expect("JSON");
        assert_eq!(
            prelude,
            json!({"statusCode": 200, "headers": {"content-type": "text/event-stream", "x-tag": "one, two"},
                   "cookies": ["a=1", "b=2"]})
        );
        let bare = stream_prelude(204, Vec::new());
        let prelude: serde_json::Value = serde_json::from_slice(&bare[..bare.len() - 8]).expect("JSON");
        assert_eq!(prelude["headers"]["content-type"], "application/octet-stream");
    }

    fn rendered(source: Source, response: &AppResponse, is_head: bool) -> serde_json::Value {
        serde_json::to_value(render(source, response.clone(), is_head, &[])).expect("serializes")
    }

    const HEADERS: &[(&str, &str)] = &[
        ("Content-Type", "text/html"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-Dup", "1"),
        ("x-dup", "2"),
    ];

    #[test]
    fn rest_uses_only_multi_value_headers() {
        let v = rendered(Source::RestV1, &app(HEADERS, b"<p>"), false);
        assert_eq!(
            v,
            json!({"statusCode": 201, "multiValueHeaders": {"Content-Type": ["text/html"], "Set-Cookie": ["a=1", "b=2"], "X-Dup": ["1", "2"]}, "body": "<p>", "isBase64Encoded": false})
        );
    }

    #[test]
    fn http_v2_moves_set_cookie_to_cookies_and_joins_the_rest() {
        let v = rendered(Source::HttpV2, &app(HEADERS, b"<p>"), false);
        assert_eq!(
            v,
            json!({"statusCode": 201, "headers": {"content-type": "text/html", "x-dup": "1, 2"}, "cookies": ["a=1", "b=2"], "body": "<p>", "isBase64Encoded": false})
        );
        let v = rendered(
            Source::FunctionUrl,
            &app(&[("Content-Type", "text/plain")], b"x"),
            false,
        );
        assert_eq!(v["cookies"], json!([]), "{v}");
    }

    #[test]
    fn alb_answers_in_the_request_mode_with_a_status_description() {
        let v = rendered(Source::Alb { multi_value: true }, &app(HEADERS, b""), false);
        assert_eq!(v["statusDescription"], "201 Created");
        assert_eq!(v["multiValueHeaders"]["Set-Cookie"], json!(["a=1", "b=2"]));
        assert!(v.get("headers").is_none());
        let v = rendered(Source::Alb { multi_value: false }, &app(HEADERS, b""), false);
        assert_eq!(
            v["headers"],
            json!({"Content-Type": "text/html", "Set-Cookie": "b=2", "X-Dup": "1, 2"})
        );
        assert!(v.get("multiValueHeaders").is_none());
    }

    #[test]
    fn lattice_is_alb_shaped() {
        let v = rendered(
            Source::LatticeV2,
            &app(&[("Content-Type", "application/json")], b"{}"),
            false,
        );
        assert_eq!(
            v,
            json!({"statusCode": 201, "statusDescription": "201 Created", "headers": {"Content-Type": "application/json"}, "body": "{}", "isBase64Encoded": false})
        );
    }

    #[test]
    fn body_encoding_rules() {
        let b64 = |ct: &[(&str, &str)], body: &[u8]| {
            rendered(Source::HttpV2, &app(ct, body), false)["isBase64Encoded"].clone()
        };
        assert_eq!(
            b64(&[("Content-Type", "application/json; charset=utf-8")], b"{}"),
            false
        );
        assert_eq!(b64(&[("Content-Type", "application/problem+json")], b"{}"), false);
        assert_eq!(b64(&[("Content-Type", "image/svg+xml")], b"<svg/>"), false);
        assert_eq!(b64(&[("Content-Type", "image/png")], b"\x89PNG"), true);
        assert_eq!(b64(&[], b"no type"), true);
        assert_eq!(
            b64(&[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")], b"x"),
            true
        );
        assert_eq!(
            b64(&[("Content-Type", "text/plain; charset=latin-1")], b"caf\xe9"),
            true
        );
        let v = rendered(Source::HttpV2, &app(&[("Content-Type", "image/png")], &[0, 255]), false);
        assert_eq!(v["body"], "AP8=");
    }

    #[test]
    fn extra_text_types_are_honoured() {
        let extra = vec!["application/x-ndjson".to_owned(), "font/*".to_owned()];
        let r = render(
            Source::HttpV2,
            app(&[("Content-Type", "font/woff2")], b"abc"),
            false,
            &extra,
        );
        assert!(!r.is_base64_encoded);
        let r = render(
            Source::HttpV2,
            app(&[("Content-Type", "application/x-ndjson")], b"{}"),
            false,
            &extra,
        );
        assert!(!r.is_base64_encoded);
    }

    #[test]
    fn oversized_responses_are_detected_per_source() {
        let big = app(&[("Content-Type", "text/plain")], &vec![b'x'; 2_000_000]);
        let rendered = render(Source::HttpV2, big, false, &[]);
        assert_eq!(rendered.size_if_over(response_limit(Source::HttpV2, 6_291_556)), None);
        let over = rendered.size_if_over(response_limit(Source::Alb { multi_value: false }, 6_291_556));
        assert!(over.is_some_and(|size| size > 2_000_000), "{over:?}");
        let small = render(Source::HttpV2, app(&[], b"ok"), false, &[]);
        assert_eq!(
            small.size_if_over(10),
            Some(serde_json::to_vec(&small).expect("json").len())
        );
    }

    #[test]
    fn the_raw_body_cap_is_the_limit_for_text_and_three_quarters_of_it_for_base64() {
        let cap = BodyCap {
            json_limit: 1000,
            extra_text_types: &[],
        };
        let headers = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(cap.raw_limit(&headers(&[("Content-Type", "text/html")])), 1000);
        assert_eq!(cap.raw_limit(&headers(&[("Content-Type", "image/png")])), 750);
        assert_eq!(cap.raw_limit(&headers(&[])), 750);
        assert_eq!(
            cap.raw_limit(&headers(&[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])),
            750
        );
        // The cap is conservative: a body one byte past it renders over the limit, whatever
        // its bytes are.
        for (content_type, body) in [("text/plain", vec![b'x'; 1001]), ("image/png", vec![0; 751])] {
            let response = app(&[("Content-Type", content_type)], &body);
            let rendered = render(Source::HttpV2, response.clone(), false, &[]);
            assert!(rendered.size_if_over(1000).is_some(), "{content_type}");
        }
    }

    #[test]
    fn head_gets_no_body() {
        let v = rendered(Source::RestV1, &app(&[("Content-Type", "text/plain")], b"hello"), true);
        assert_eq!(
            (v["body"].clone(), v["isBase64Encoded"].clone()),
            (json!(""), json!(false))
        );
    }
}
