//! `Request`: the one normalized HTTP request every event source is mapped into.
//!
//! Source modules (`event/`) only move fields; every rule that is the same for all sources
//! (base64 bodies, re-encoding decoded query parameters, recognising the execute-api host) is
//! written once here, and the environ rules (path decoding, SCRIPT_NAME, header joining) once in
//! `environ.rs`. No Python, no process environment, no `serde_json::Value`.

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The request path in the form the event carries it. The two forms must never be confused:
/// decoding an already-decoded path turns a literal `%41` into `A` (every Python peer does this
/// on HTTP API, PEERS.md 2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPath {
    /// Percent-encoded as the client sent it (REST `path`, ALB `path`, Function URL `rawPath`).
    Encoded(String),
    /// Already percent-decoded by AWS (HTTP API `rawPath`).
    Decoded(String),
}

/// Where the API Gateway stage sits relative to the event's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// No stage in the client's URL: custom domains, `$default`, Function URLs, ALB, Lattice.
    Absent,
    /// The client's URL had `/{stage}` but the event's path lacks it (REST on the execute-api host).
    BeforePath(String),
    /// The event's path starts with `/{stage}` (HTTP API named stage on the execute-api host).
    InPath(String),
}

/// A request, independent of the event source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method, as sent (uppercase in practice).
    pub method: String,
    /// The path and whether AWS already decoded it.
    pub path: EventPath,
    /// The stage prefix, if the URL has one.
    pub stage: Stage,
    /// The query string, percent-encoded, without `?`.
    pub query_string: String,
    /// Every header line in event order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// HTTP API 2.0 `cookies`: when present it replaces any Cookie header (Function URL events
    /// carry both, so taking both would duplicate every cookie).
    pub cookies: Option<Vec<String>>,
    /// The decoded body, shared with the environ rather than copied.
    pub body: bytes::Bytes,
    /// The client address AWS vouches for; `None` where the source has none.
    pub source_ip: Option<String>,
    /// `HTTP/1.1` and friends, where the event says.
    pub protocol: Option<String>,
    /// `requestContext.domainName`, the fallback for SERVER_NAME.
    pub domain_name: Option<String>,
    /// wsgi.url_scheme when no X-Forwarded-Proto says otherwise.
    pub default_scheme: &'static str,
    /// The caller's identity as the front door authenticated it (REMOTE_USER); never taken from
    /// a header. See `event/identity.rs` for which field each authorizer type gives.
    pub remote_user: Option<String>,
}

impl Request {
    /// The last value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path as the event carried it, for log lines.
    pub fn path_for_logs(&self) -> &str {
        match &self.path {
            EventPath::Encoded(path) | EventPath::Decoded(path) => path,
        }
    }

    /// The Host header's host part, or `requestContext.domainName`.
    pub fn host(&self) -> Option<&str> {
        self.header("host").or(self.domain_name.as_deref())
    }
}

/// `*.execute-api.{region}.amazonaws.com` (and `.com.cn`): the only host where the stage is part
/// of the URL. Custom domains map a base path to a stage and hide it.
pub fn is_execute_api_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    host.contains(".execute-api.") && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

/// Where a stage sits in the client's URL: only a named stage on the execute-api host is part
/// of it (`$default` never is; custom domains map a base path instead, see WSGI_BASE_PATH).
/// `in_path` says whether the event's path already carries it (HTTP API) or not (REST).
pub fn url_stage(stage: Option<String>, host: Option<&str>, in_path: bool) -> Stage {
    match stage {
        Some(stage) if !stage.is_empty() && stage != "$default" && is_execute_api_host(host) => {
            if in_path {
                Stage::InPath(stage)
            } else {
                Stage::BeforePath(stage)
            }
        }
        _ => Stage::Absent,
    }
}

/// Decodes `body` as the event says. `isBase64Encoded` absent or `false` means the body is text,
/// taken as it is (no copy).
pub fn decode_body(body: Option<String>, is_base64: bool) -> Result<Vec<u8>, String> {
    let body = body.unwrap_or_default();
    if !is_base64 {
        return Ok(body.into_bytes());
    }
    // AWS sends padded standard base64; tolerate missing padding and line breaks from hand-made
    // events (the copy without whitespace is made only for those).
    if !body.bytes().any(|b| b.is_ascii_whitespace()) {
        return BASE64.decode(body.as_bytes()).map_err(|e| e.to_string());
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact.as_bytes()).map_err(|e| e.to_string())
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// RFC 3986 unreserved characters stay; everything else is percent-encoded, so a decoded `+`
/// becomes `%2B` and can never be read back as a space (apig-wsgi #101, #186).
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Rebuilds a query string from parameters that AWS delivered decoded (REST, HTTP API 1.0),
/// in the event's order. A bare key (`?flag`) arrives as `flag: ""` and comes back as `flag=`.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    join_query(pairs.iter().map(|(k, v)| {
        (
            utf8_percent_encode(k, QUERY_COMPONENT).to_string(),
            utf8_percent_encode(v, QUERY_COMPONENT).to_string(),
        )
    }))
}

/// Joins parameters that are still encoded as the client sent them (ALB), untouched.
pub fn join_raw_query(pairs: &[(String, String)]) -> String {
    join_query(pairs.iter().map(|(k, v)| (k, v)))
}

fn join_query<K: AsRef<str>, V: AsRef<str>>(pairs: impl Iterator<Item = (K, V)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key.as_ref());
        out.push('=');
        out.push_str(value.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn execute_api_host_is_recognised_with_or_without_port() {
        assert!(is_execute_api_host(Some("abc123.execute-api.us-east-1.amazonaws.com")));
        assert!(is_execute_api_host(Some(
            "ABC.EXECUTE-API.cn-north-1.amazonaws.com.cn:443"
        )));
        assert!(!is_execute_api_host(Some("api.example.com")));
        assert!(!is_execute_api_host(Some("abc.lambda-url.us-east-1.on.aws")));
        assert!(!is_execute_api_host(None));
    }

    #[test]
    fn only_a_named_stage_on_the_execute_api_host_is_in_the_url() {
        let api = Some("abc.execute-api.us-east-1.amazonaws.com");
        assert_eq!(url_stage(Some("dev".into()), api, true), Stage::InPath("dev".into()));
        assert_eq!(
            url_stage(Some("prod".into()), api, false),
            Stage::BeforePath("prod".into())
        );
        assert_eq!(url_stage(Some("$default".into()), api, true), Stage::Absent);
        assert_eq!(
            url_stage(Some("dev".into()), Some("api.example.com"), true),
            Stage::Absent
        );
        assert_eq!(url_stage(None, api, false), Stage::Absent);
    }

    #[test]
    fn body_decoding() {
        assert_eq!(decode_body(None, false), Ok(Vec::new()));
        assert_eq!(
            decode_body(Some("héllo".to_owned()), false),
            Ok("héllo".as_bytes().to_vec())
        );
        assert_eq!(decode_body(Some("AP8=".to_owned()), true), Ok(vec![0, 255]));
        assert_eq!(decode_body(Some("AP8".to_owned()), true), Ok(vec![0, 255]));
        assert_eq!(decode_body(Some("AP\n8=".to_owned()), true), Ok(vec![0, 255]));
        assert!(decode_body(Some("not base64!".to_owned()), true).is_err());
    }

    #[test]
    fn decoded_query_parameters_are_reencoded_in_order() {
        let pairs = [
            ("a", "1"),
            ("a", "2"),
            ("plus", "a+b"),
            ("sp ace", "x y"),
            ("flag", ""),
            ("é", "&="),
        ];
        let q = encode_query(&owned(&pairs));
        assert_eq!(q, "a=1&a=2&plus=a%2Bb&sp%20ace=x%20y&flag=&%C3%A9=%26%3D");
    }

    #[test]
    fn raw_query_parameters_are_joined_untouched() {
        assert_eq!(
            join_raw_query(&owned(&[("q", "a%2Bb"), ("u", "https%3A%2F%2Fx")])),
            "q=a%2Bb&u=https%3A%2F%2Fx"
        );
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_takes_the_last_value() {
        let request = Request {
            method: "GET".into(),
            path: EventPath::Encoded("/".into()),
            stage: Stage::Absent,
            query_string: String::new(),
            headers: vec![("Host".into(), "a.example".into()), ("host".into(), "b.example".into())],
            cookies: None,
            body: bytes::Bytes::new(),
            source_ip: None,
            protocol: None,
            domain_name: Some("d.example".into()),
            default_scheme: "https",
            remote_user: None,
        };
        assert_eq!(request.header("HOST"), Some("b.example"));
        assert_eq!(request.host(), Some("b.example"));
    }
}
