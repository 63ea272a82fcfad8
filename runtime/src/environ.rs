//! `&Request` -> `Environ`: the PEP 3333 environ as a plain Rust value.
//!
//! This is the only place environ keys are named. Keeping the environ a Rust value until
//! `wsgi.rs` turns it into a dict lets the golden tests check it with no interpreter.
//!
//! Every value is a "bytes-as-unicode" string (PEP 3333): the bytes the client sent, each as the
//! Latin-1 character of the same number. That is what a WSGI server reading a socket produces,
//! and what Werkzeug and Django expect to re-encode.

use std::borrow::Cow;
use std::collections::HashMap;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::config::Config;
use crate::mounts::Mounts;
use crate::request::{EventPath, Request, Stage};

/// The CGI and WSGI string variables, in a stable order, plus the request body. Values that
/// the request holds already (method, query string, most header values) are borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environ<'r> {
    /// `(key, value)`, every value a bytes-as-unicode string.
    pub vars: Vec<(Cow<'static, str>, Cow<'r, str>)>,
    /// What `wsgi.input` reads: the request's body, shared (not copied).
    pub body: bytes::Bytes,
    /// Which application serves it: its place in the mount table (`Config::apps`).
    pub mount: usize,
}

/// No mount's prefix matches the path: the request is answered 404 without calling Python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmounted {
    /// PATH_INFO as it was before any mount could take a prefix (bytes-as-unicode).
    pub path: String,
}

impl Environ<'_> {
    /// The value of a key, for tests and logs.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// The golden-file form: every string variable plus `wsgi.input` as bytes-as-unicode,
    /// sorted by key. The end-to-end echo app dumps the live environ in the same form.
    pub fn to_golden(&self) -> std::collections::BTreeMap<String, String> {
        let mut map: std::collections::BTreeMap<String, String> =
            self.vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.insert("wsgi.input".to_owned(), latin1(&self.body).into_owned());
        map
    }
}

/// Every key [`build`] names itself (headers aside), so that the Python side can make each key
/// object once (`wsgi/`'s table of interned keys) instead of once per request.
pub const KEYS: &[&str] = &[
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "RAW_URI",
    "REQUEST_URI",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_USER",
    "HTTPS",
    "wsgi.url_scheme",
    "HTTP_COOKIE",
];

/// Builds the environ for `request`, for the app whose mount takes its path; `Err` when none does.
pub fn build<'r>(request: &'r Request, config: &Config) -> Result<Environ<'r>, Unmounted> {
    let mut vars: Vec<(Cow<'static, str>, Cow<'r, str>)> = Vec::with_capacity(16 + request.headers.len());
    let (script_name, path_info, mount) = split_script_name(request, &config.base_path, &config.apps)?;
    let scheme = url_scheme(request);
    let (server_name, server_port) = server_name_and_port(request, scheme);

    vars.push(("REQUEST_METHOD".into(), latin1(request.method.as_bytes())));
    vars.push(("SCRIPT_NAME".into(), latin1_owned(script_name).into()));
    vars.push(("PATH_INFO".into(), latin1_owned(path_info).into()));
    vars.push(("QUERY_STRING".into(), latin1(request.query_string.as_bytes())));
    let uri = raw_uri(request);
    vars.push(("RAW_URI".into(), uri.clone().into()));
    vars.push(("REQUEST_URI".into(), uri.into()));
    vars.push((
        "CONTENT_TYPE".into(),
        request
            .header("content-type")
            .map(|v| latin1(v.as_bytes()))
            .unwrap_or_default(),
    ));
    // The decoded length, whatever the client's Content-Length said about the encoded body.
    let content_length = match request.body.len() {
        0 => Cow::Borrowed("0"),
        length => Cow::Owned(length.to_string()),
    };
    vars.push(("CONTENT_LENGTH".into(), content_length));
    vars.push(("SERVER_NAME".into(), latin1(server_name.as_bytes())));
    vars.push(("SERVER_PORT".into(), server_port.into()));
    vars.push((
        "SERVER_PROTOCOL".into(),
        server_protocol(request.protocol.as_deref()).into(),
    ));
    if let Some(ip) = request.source_ip.as_deref().filter(|ip| !ip.is_empty()) {
        vars.push(("REMOTE_ADDR".into(), latin1(ip.as_bytes())));
    }
    // From the authorizer or the IAM caller only (event/identity.rs); a `Remote-User` header
    // becomes HTTP_REMOTE_USER below, never this.
    if let Some(user) = request.remote_user.as_deref() {
        vars.push(("REMOTE_USER".into(), latin1(user.as_bytes())));
    }
    if scheme == "https" {
        vars.push(("HTTPS".into(), "on".into()));
    }
    vars.push(("wsgi.url_scheme".into(), scheme.into()));
    push_headers(&mut vars, request);

    Ok(Environ {
        vars,
        body: request.body.clone(),
        mount,
    })
}

/// `(SCRIPT_NAME, PATH_INFO, mount)` as raw bytes: the path decoded exactly once, then the
/// stage, the configured base path and the mount's prefix moved to SCRIPT_NAME, on segment
/// boundaries only.
fn split_script_name(
    request: &Request,
    base_path: &str,
    apps: &Mounts,
) -> Result<(Vec<u8>, Vec<u8>, usize), Unmounted> {
    let (mut path, mut encoded_slashes) = match &request.path {
        EventPath::Encoded(raw) => decode_path(raw),
        // AWS already decoded it: decoding again would turn a literal `%41` into `A`. Which
        // slashes were `%2F` is lost with it.
        EventPath::Decoded(text) => (text.as_bytes().to_vec(), Vec::new()),
    };
    // PATH_INFO is empty or starts with '/' (wsgiref.validate asserts it); events from hand-made
    // tests and some emulators omit the slash.
    if !path.starts_with(b"/") {
        path.insert(0, b'/');
        encoded_slashes.iter_mut().for_each(|at| *at += 1);
    }
    let mut script_name = Vec::new();
    let mut take = |path: &mut Vec<u8>, script_name: &mut Vec<u8>, prefix: &[u8]| {
        // As for a mount (mounts.rs): a `%2F` inside the prefix or right after it is no separator.
        if strip_segment_prefix(path, prefix).is_none() || encoded_slashes.iter().any(|&at| at <= prefix.len()) {
            return;
        }
        script_name.extend_from_slice(prefix);
        path.drain(..prefix.len());
        encoded_slashes.retain_mut(|at| {
            let kept = *at >= prefix.len();
            *at = at.saturating_sub(prefix.len());
            kept
        });
    };
    match &request.stage {
        Stage::Absent => {}
        Stage::BeforePath(stage) => {
            script_name.push(b'/');
            script_name.extend_from_slice(stage.as_bytes());
        }
        Stage::InPath(stage) => take(&mut path, &mut script_name, format!("/{stage}").as_bytes()),
    }
    if !base_path.is_empty() {
        take(&mut path, &mut script_name, base_path.as_bytes());
    }
    let Some(route) = apps.route(&path, &encoded_slashes) else {
        return Err(Unmounted {
            path: latin1_owned(path),
        });
    };
    if route.prefix_len > 0 {
        script_name.extend_from_slice(&path[..route.prefix_len]);
        path.drain(..route.prefix_len);
    }
    Ok((script_name, path, route.index))
}

/// The path percent-decoded once, and where in it the slashes are that arrived as `%2F`: a
/// mount's prefix never spans one (mounts.rs). Invalid escapes stay as they are, as
/// `percent_decode_str` leaves them.
fn decode_path(raw: &str) -> (Vec<u8>, Vec<usize>) {
    let bytes = raw.as_bytes();
    if !bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f'))
    {
        return (percent_decode_str(raw).collect(), Vec::new());
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let (mut path, mut encoded_slashes) = (Vec::with_capacity(bytes.len()), Vec::new());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped.and_then(|value| u8::try_from(value).ok()) {
            Some(byte) => {
                if byte == b'/' {
                    encoded_slashes.push(path.len());
                }
                path.push(byte);
                i += 3;
            }
            None => {
                path.push(bytes[i]);
                i += 1;
            }
        }
    }
    (path, encoded_slashes)
}

/// `path` without `prefix` when `prefix` ends at a segment boundary (`/api` strips `/api` and
/// `/api/x`, never `/apiv2`).
fn strip_segment_prefix<'p>(path: &'p [u8], prefix: &[u8]) -> Option<&'p [u8]> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// Characters that must be escaped to turn a decoded path back into a request target.
const PATH_TARGET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The request target as the client sent it (gunicorn and uWSGI's RAW_URI / REQUEST_URI),
/// so apps can tell `%2F` from `/`. For HTTP API, whose path AWS decoded, it is re-encoded.
fn raw_uri(request: &Request) -> String {
    let mut uri = String::new();
    if let Stage::BeforePath(stage) = &request.stage {
        uri.push('/');
        uri.push_str(stage);
    }
    match &request.path {
        EventPath::Encoded(raw) => uri.push_str(raw),
        EventPath::Decoded(text) => uri.extend(utf8_percent_encode(text, PATH_TARGET)),
    }
    if uri.is_empty() {
        uri.push('/');
    }
    if !request.query_string.is_empty() {
        uri.push('?');
        uri.push_str(&request.query_string);
    }
    latin1_owned(uri.into_bytes())
}

/// X-Forwarded-Proto when it says http or https; otherwise the source's default.
fn url_scheme(request: &Request) -> &'static str {
    match request.header("x-forwarded-proto").map(str::trim) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        Some(proto) if proto.eq_ignore_ascii_case("http") => "http",
        _ => request.default_scheme,
    }
}

/// Never empty (PEP 3333): Host, else the request context's domain, else `localhost`
/// (ALB health checks and console tests have neither). A Host without a name (empty, `:`,
/// `:8080`) counts as none. The port: X-Forwarded-Port, else the Host's port, else the scheme's.
fn server_name_and_port<'r>(request: &'r Request, scheme: &str) -> (&'r str, &'r str) {
    let (name, host_port) = named_host(request.header("host"))
        .or_else(|| named_host(request.domain_name.as_deref()))
        .unwrap_or(("localhost", None));
    let forwarded_port = request.header("x-forwarded-port").map(str::trim).filter(|p| is_port(p));
    let port = forwarded_port
        .or(host_port.filter(|p| is_port(p)))
        .unwrap_or(if scheme == "https" { "443" } else { "80" });
    (name, port)
}

/// `host:port` split, when there is a name before the port.
fn named_host(host: Option<&str>) -> Option<(&str, Option<&str>)> {
    host.map(|h| split_host_port(h.trim()))
        .filter(|(name, _)| !name.is_empty())
}

/// Splits `host:port`, minding bracketed IPv6 literals (`[::1]:8080`).
fn split_host_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.split_once("]:") {
            Some((name, port)) => (&host[..=name.len()], Some(port)),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The event's protocol when it is a plausible `HTTP/x[.y]`, else HTTP/1.1.
fn server_protocol(protocol: Option<&str>) -> &str {
    match protocol {
        Some(p)
            if p.starts_with("HTTP/") && p.len() <= 8 && p[5..].bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            p
        }
        _ => "HTTP/1.1",
    }
}

/// HTTP_* variables. Repeated headers are joined with ", " (RFC 9110 5.3), Cookie lines with
/// "; " (RFC 6265 5.4); v2's `cookies` array replaces any Cookie header.
fn push_headers<'r>(vars: &mut Vec<(Cow<'static, str>, Cow<'r, str>)>, request: &'r Request) {
    let first = vars.len();
    // A repeated name is found by a scan while there are few (the usual case: no hashing, no
    // copy of the key); past that, an index keeps events with thousands of headers linear.
    let mut index: Option<HashMap<String, usize>> = None;
    let skip_cookie_header = request.cookies.is_some();
    for (name, value) in &request.headers {
        let Some(key) = header_key(name) else { continue };
        // CGI carries these without the HTTP_ prefix; wsgiref.validate rejects HTTP_CONTENT_TYPE.
        if key == "HTTP_CONTENT_TYPE" || key == "HTTP_CONTENT_LENGTH" || (skip_cookie_header && key == "HTTP_COOKIE") {
            continue;
        }
        let separator = if key == "HTTP_COOKIE" { "; " } else { ", " };
        let value = latin1(value.as_bytes());
        let seen = match &index {
            Some(index) => index.get(key.as_ref()).copied(),
            None => vars[first..].iter().position(|(k, _)| *k == key).map(|at| first + at),
        };
        match seen {
            Some(at) => {
                let joined = vars[at].1.to_mut();
                joined.push_str(separator);
                joined.push_str(&value);
            }
            None => {
                if let Some(index) = &mut index {
                    index.insert(key.to_string(), vars.len());
                }
                vars.push((key, value));
                if index.is_none() && vars.len() - first > INDEX_HEADERS_PAST {
                    index = Some(
                        vars.iter()
                            .enumerate()
                            .skip(first)
                            .map(|(at, (k, _))| (k.to_string(), at))
                            .collect(),
                    );
                }
            }
        }
    }
    if let Some(cookies) = request.cookies.as_ref().filter(|c| !c.is_empty()) {
        vars.push((
            "HTTP_COOKIE".into(),
            latin1_owned(cookies.join("; ").into_bytes()).into(),
        ));
    }
}

/// How many distinct header names are scanned for repeats before they are indexed.
const INDEX_HEADERS_PAST: usize = 32;

/// `X-Forwarded-For` -> `HTTP_X_FORWARDED_FOR`. Names that are not HTTP tokens are dropped, and
/// so are names with `_`: `X_Forwarded_For` would land on the same key as `X-Forwarded-For` and
/// let a client overwrite what the proxy set (gunicorn and nginx drop them for this reason).
fn header_key(name: &str) -> Option<Cow<'static, str>> {
    if let Some((_, key)) = COMMON_HEADERS
        .iter()
        .find(|(common, _)| common.eq_ignore_ascii_case(name))
    {
        return Some(Cow::Borrowed(key));
    }
    let is_token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return None;
    }
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    key.extend(
        name.bytes()
            .map(|b| if b == b'-' { '_' } else { b.to_ascii_uppercase() as char }),
    );
    Some(Cow::Owned(key))
}

/// Headers most requests carry, with their environ keys: these keys are not built per request
/// (and `wsgi/` makes their Python strings once).
pub const COMMON_HEADERS: &[(&str, &str)] = &[
    ("host", "HTTP_HOST"),
    ("user-agent", "HTTP_USER_AGENT"),
    ("accept", "HTTP_ACCEPT"),
    ("accept-encoding", "HTTP_ACCEPT_ENCODING"),
    ("accept-language", "HTTP_ACCEPT_LANGUAGE"),
    ("x-forwarded-for", "HTTP_X_FORWARDED_FOR"),
    ("x-forwarded-port", "HTTP_X_FORWARDED_PORT"),
    ("x-forwarded-proto", "HTTP_X_FORWARDED_PROTO"),
    ("x-amzn-trace-id", "HTTP_X_AMZN_TRACE_ID"),
    ("content-type", "HTTP_CONTENT_TYPE"),
    ("content-length", "HTTP_CONTENT_LENGTH"),
    ("cookie", "HTTP_COOKIE"),
    ("authorization", "HTTP_AUTHORIZATION"),
    ("origin", "HTTP_ORIGIN"),
    ("referer", "HTTP_REFERER"),
    ("cache-control", "HTTP_CACHE_CONTROL"),
    ("connection", "HTTP_CONNECTION"),
];

/// [`latin1`] of bytes the caller owns: ASCII becomes the string without a copy.
fn latin1_owned(bytes: Vec<u8>) -> String {
    if bytes.is_ascii() {
        // ASCII is UTF-8: this never fails, and never copies.
        return String::from_utf8(bytes).unwrap_or_default();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Bytes -> bytes-as-unicode: each byte becomes the character with the same number. ASCII (the
/// usual case) is borrowed as it is.
pub fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::EventPath;

    #[test]
    fn every_key_build_names_is_in_keys() {
        let mut request = request(EventPath::Encoded("/a".into()), Stage::Absent);
        request.source_ip = Some("203.0.113.7".into());
        request.remote_user = Some("alice".into());
        request.cookies = Some(vec!["a=1".into()]);
        request.headers = vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Host".into(), "h".into()),
            ("X-Custom".into(), "c".into()),
        ];
        let env = build(&request, &config("")).expect("mounted");
        let named: Vec<&str> = env
            .vars
            .iter()
            .filter_map(|(key, _)| match key {
                Cow::Borrowed(key) => Some(*key),
                Cow::Owned(_) => None,
            })
            .collect();
        assert!(named.contains(&"REMOTE_ADDR") && named.contains(&"HTTPS") && named.contains(&"HTTP_COOKIE"));
        for key in named {
            assert!(
                KEYS.contains(&key) || COMMON_HEADERS.iter().any(|&(_, common)| common == key),
                "{key} is in neither environ::KEYS nor COMMON_HEADERS"
            );
        }
    }

    fn config(base_path: &str) -> Config {
        let base = base_path.to_owned();
        Config::from_lookup(move |k| match k {
            "WSGI_APP" => Some("a:b".to_owned()),
            "WSGI_BASE_PATH" => Some(base.clone()),
            _ => None,
        })
        .expect("config")
    }

    fn request(path: EventPath, stage: Stage) -> Request {
        Request {
            method: "GET".into(),
            path,
            stage,
            query_string: String::new(),
            headers: Vec::new(),
            cookies: None,
            body: bytes::Bytes::new(),
            source_ip: None,
            protocol: None,
            domain_name: None,
            default_scheme: "https",
            remote_user: None,
        }
    }

    fn path_of(path: EventPath, stage: Stage, base: &str) -> (String, String) {
        let request = request(path, stage);
        let env = build(&request, &config(base)).expect("mounted");
        (
            env.get("SCRIPT_NAME").expect("sn").to_owned(),
            env.get("PATH_INFO").expect("pi").to_owned(),
        )
    }

    /// `(SCRIPT_NAME, PATH_INFO, the mounted app)` under `table` (and a base path, a stage),
    /// or None for a 404.
    fn mounted(path: EventPath, stage: Stage, base: &str, table: &str) -> Option<(String, String, String)> {
        let base = base.to_owned();
        let table = table.to_owned();
        let config = Config::from_lookup(move |k| match k {
            "WSGI_MOUNTS" => Some(table.clone()),
            "WSGI_BASE_PATH" => Some(base.clone()),
            _ => None,
        })
        .expect("config");
        let request = request(path, stage);
        let env = build(&request, &config).ok()?;
        Some((
            env.get("SCRIPT_NAME").expect("sn").to_owned(),
            env.get("PATH_INFO").expect("pi").to_owned(),
            config.apps.mounts()[env.mount].app.clone(),
        ))
    }

    fn triple(script_name: &str, path_info: &str, app: &str) -> Option<(String, String, String)> {
        Some((script_name.into(), path_info.into(), app.into()))
    }

    #[test]
    fn a_mount_prefix_moves_to_script_name_after_the_stage_and_the_base_path() {
        let table = "/ = site:app; /api = api:app; /api/v2 = v2:app";
        let e = |p: &str| EventPath::Encoded(p.into());
        let cases = [
            // (path, stage, base path) -> (SCRIPT_NAME, PATH_INFO, app)
            (e("/api/users"), Stage::Absent, "", triple("/api", "/users", "api:app")),
            (e("/api"), Stage::Absent, "", triple("/api", "", "api:app")),
            (e("/api/"), Stage::Absent, "", triple("/api", "/", "api:app")),
            (e("/apis"), Stage::Absent, "", triple("", "/apis", "site:app")),
            (e("/"), Stage::Absent, "", triple("", "/", "site:app")),
            (e(""), Stage::Absent, "", triple("", "/", "site:app")),
            (e("/api/v2/x"), Stage::Absent, "", triple("/api/v2", "/x", "v2:app")),
            (e("/api/v20"), Stage::Absent, "", triple("/api", "/v20", "api:app")),
            (
                e("/x"),
                Stage::BeforePath("prod".into()),
                "",
                triple("/prod", "/x", "site:app"),
            ),
            (
                e("/api/x"),
                Stage::BeforePath("prod".into()),
                "",
                triple("/prod/api", "/x", "api:app"),
            ),
            (
                e("/dev/api/x"),
                Stage::InPath("dev".into()),
                "",
                triple("/dev/api", "/x", "api:app"),
            ),
            (
                e("/shop/api/x"),
                Stage::Absent,
                "/shop",
                triple("/shop/api", "/x", "api:app"),
            ),
            (
                e("/dev/shop/api/v2/x"),
                Stage::InPath("dev".into()),
                "/shop",
                triple("/dev/shop/api/v2", "/x", "v2:app"),
            ),
            // The base path is not there: the mount is matched on the path as it is.
            (e("/api/x"), Stage::Absent, "/shop", triple("/api", "/x", "api:app")),
            // Decoded before matching, as PATH_INFO is.
            (e("/%61pi/x"), Stage::Absent, "", triple("/api", "/x", "api:app")),
            (
                EventPath::Decoded("/api/caf\u{e9}".into()),
                Stage::Absent,
                "",
                triple("/api", "/caf\u{c3}\u{a9}", "api:app"),
            ),
            (e("/api/%FF"), Stage::Absent, "", triple("/api", "/\u{ff}", "api:app")),
            // An encoded slash is no separator: /api%2Fv2 is one segment, `api/v2`.
            (e("/api%2Fv2/x"), Stage::Absent, "", triple("", "/api/v2/x", "site:app")),
            (e("/api/v2%2fx"), Stage::Absent, "", triple("/api", "/v2/x", "api:app")),
            (
                e("/api/v2/a%2Fb"),
                Stage::Absent,
                "",
                triple("/api/v2", "/a/b", "v2:app"),
            ),
            // Nor is it one for the base path: `shop/api` is not the segment `shop`.
            (
                e("/shop%2Fapi/x"),
                Stage::Absent,
                "/shop",
                triple("", "/shop/api/x", "site:app"),
            ),
            // HTTP API decoded the path itself: which slash was %2F is unknowable.
            (
                EventPath::Decoded("/api/v2/x".into()),
                Stage::Absent,
                "",
                triple("/api/v2", "/x", "v2:app"),
            ),
        ];
        for (path, stage, base, expected) in cases {
            let label = format!("{path:?} {stage:?} {base:?}");
            assert_eq!(mounted(path, stage, base, table), expected, "{label}");
        }
    }

    #[test]
    fn a_non_ascii_prefix_matches_its_utf8_bytes_encoded_or_decoded() {
        let table = "/ = site:app; /café = cafe:app";
        let expected = triple("/caf\u{c3}\u{a9}", "/x", "cafe:app");
        let encoded = EventPath::Encoded("/caf%C3%A9/x".into());
        assert_eq!(mounted(encoded, Stage::Absent, "", table), expected);
        assert_eq!(
            mounted(EventPath::Decoded("/café/x".into()), Stage::Absent, "", table),
            expected
        );
    }

    #[test]
    fn without_a_root_mount_an_unmatched_path_is_unmounted() {
        let table = "/api = api:app; /shop = shop:app";
        let e = |p: &str| EventPath::Encoded(p.into());
        assert_eq!(mounted(e("/"), Stage::Absent, "", table), None);
        assert_eq!(mounted(e("/apis"), Stage::Absent, "", table), None);
        assert_eq!(mounted(e("/api%2Fx"), Stage::Absent, "", table), None);
        assert_eq!(
            mounted(e("/shop/cart"), Stage::Absent, "", table),
            triple("/shop", "/cart", "shop:app")
        );
        let request = request(e("/prod/nowhere"), Stage::InPath("prod".into()));
        let config = Config::from_lookup(|k| (k == "WSGI_MOUNTS").then(|| table.to_owned())).expect("config");
        let unmounted = build(&request, &config).expect_err("no mount");
        assert_eq!(unmounted.path, "/nowhere");
    }

    #[test]
    fn the_encoded_slash_positions_follow_the_decoded_bytes() {
        assert_eq!(decode_path("/a%2Fb%2f%41"), (b"/a/b/A".to_vec(), vec![2, 4]));
        assert_eq!(decode_path("/%E2%82%AC%2F"), ("/€/".as_bytes().to_vec(), vec![4]));
        assert_eq!(decode_path("/%2G%2F%"), (b"/%2G/%".to_vec(), vec![4]));
        // Without any %2F, the fast path decodes as the slow one would.
        for raw in ["/a%20b", "/100%25", "/bad%FF", "/%zz", "/%2541"] {
            let slow: Vec<u8> = percent_decode_str(raw).collect();
            assert_eq!(decode_path(raw), (slow, Vec::new()), "{raw}");
        }
    }

    #[test]
    fn encoded_paths_are_decoded_once_into_latin1() {
        let cases = [
            ("/a%20b", "/a b"),
            ("/a%2Fb", "/a/b"),
            ("/100%25", "/100%"),
            ("/caf%C3%A9", "/caf\u{c3}\u{a9}"),
            ("/bad%FF", "/bad\u{ff}"),
            ("/a+b", "/a+b"),
            ("/%2541", "/%41"),
        ];
        for (raw, decoded) in cases {
            assert_eq!(
                path_of(EventPath::Encoded(raw.into()), Stage::Absent, "").1,
                decoded,
                "{raw}"
            );
        }
    }

    #[test]
    fn decoded_paths_are_not_decoded_again() {
        assert_eq!(path_of(EventPath::Decoded("/%41".into()), Stage::Absent, "").1, "/%41");
        assert_eq!(
            path_of(EventPath::Decoded("/café".into()), Stage::Absent, "").1,
            "/caf\u{c3}\u{a9}"
        );
    }

    #[test]
    fn stage_and_base_path_move_to_script_name_on_segment_boundaries() {
        let e = |p: &str| EventPath::Encoded(p.into());
        assert_eq!(
            path_of(e("/x"), Stage::BeforePath("prod".into()), ""),
            ("/prod".into(), "/x".into())
        );
        assert_eq!(
            path_of(e("/dev/x"), Stage::InPath("dev".into()), ""),
            ("/dev".into(), "/x".into())
        );
        assert_eq!(
            path_of(e("/dev"), Stage::InPath("dev".into()), ""),
            ("/dev".into(), String::new())
        );
        assert_eq!(
            path_of(e("/devices"), Stage::InPath("dev".into()), ""),
            (String::new(), "/devices".into())
        );
        assert_eq!(
            path_of(e("/api/x"), Stage::Absent, "/api"),
            ("/api".into(), "/x".into())
        );
        assert_eq!(
            path_of(e("/apiv2/x"), Stage::Absent, "/api"),
            (String::new(), "/apiv2/x".into())
        );
        assert_eq!(
            path_of(e("/api/api/x"), Stage::Absent, "/api"),
            ("/api".into(), "/api/x".into())
        );
        assert_eq!(
            path_of(e("/x"), Stage::BeforePath("prod".into()), "/x"),
            ("/prod/x".into(), String::new())
        );
        assert_eq!(path_of(e(""), Stage::Absent, ""), (String::new(), "/".into()));
        assert_eq!(
            path_of(e("relative"), Stage::Absent, ""),
            (String::new(), "/relative".into())
        );
    }

    #[test]
    fn raw_uri_keeps_the_encoded_form() {
        let mut r = request(EventPath::Encoded("/a%2Fb".into()), Stage::BeforePath("prod".into()));
        r.query_string = "q=1".into();
        assert_eq!(raw_uri(&r), "/prod/a%2Fb?q=1");
        let r = request(EventPath::Decoded("/a b/café?#".into()), Stage::Absent);
        assert_eq!(raw_uri(&r), "/a%20b/caf%C3%A9%3F%23");
    }

    #[test]
    fn headers_join_and_drop_what_must_not_pass() {
        let mut r = request(EventPath::Encoded("/".into()), Stage::Absent);
        r.headers = vec![
            ("X-Multi".into(), "one".into()),
            ("x-multi".into(), "two".into()),
            ("Cookie".into(), "a=1".into()),
            ("cookie".into(), "b=2".into()),
            ("Content-Type".into(), "text/plain".into()),
            ("Content-Length".into(), "999".into()),
            ("X_Forwarded_For".into(), "6.6.6.6".into()),
            ("bad name".into(), "x".into()),
        ];
        r.body = bytes::Bytes::from_static(b"hi");
        let env = build(&r, &config("")).expect("mounted");
        assert_eq!(env.get("HTTP_X_MULTI"), Some("one, two"));
        assert_eq!(env.get("HTTP_COOKIE"), Some("a=1; b=2"));
        assert_eq!(env.get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(env.get("CONTENT_LENGTH"), Some("2"));
        assert_eq!(env.get("HTTP_CONTENT_TYPE"), None);
        assert_eq!(env.get("HTTP_CONTENT_LENGTH"), None);
        assert_eq!(env.get("HTTP_X_FORWARDED_FOR"), None);
        assert!(env.vars.iter().all(|(k, _)| !k.contains(' ')));
    }

    #[test]
    fn cookies_array_replaces_the_cookie_header() {
        let mut r = request(EventPath::Encoded("/".into()), Stage::Absent);
        r.headers = vec![("cookie".into(), "a=1; b=2".into())];
        r.cookies = Some(vec!["a=1".into(), "b=2".into()]);
        assert_eq!(
            build(&r, &config("")).expect("mounted").get("HTTP_COOKIE"),
            Some("a=1; b=2")
        );
    }

    #[test]
    fn server_name_and_port_are_never_empty() {
        let mut r = request(EventPath::Encoded("/".into()), Stage::Absent);
        let env = build(&r, &config("")).expect("mounted");
        assert_eq!(
            (env.get("SERVER_NAME"), env.get("SERVER_PORT")),
            (Some("localhost"), Some("443"))
        );
        r.default_scheme = "http";
        r.headers = vec![("Host".into(), "example.com:8080".into())];
        let env = build(&r, &config("")).expect("mounted");
        assert_eq!(
            (env.get("SERVER_NAME"), env.get("SERVER_PORT")),
            (Some("example.com"), Some("8080"))
        );
        assert_eq!(env.get("wsgi.url_scheme"), Some("http"));
        r.headers = vec![
            ("Host".into(), "[::1]:9000".into()),
            ("X-Forwarded-Proto".into(), "https".into()),
        ];
        let env = build(&r, &config("")).expect("mounted");
        assert_eq!(
            (env.get("SERVER_NAME"), env.get("SERVER_PORT")),
            (Some("[::1]"), Some("9000"))
        );
        assert_eq!(
            (env.get("wsgi.url_scheme"), env.get("HTTPS")),
            (Some("https"), Some("on"))
        );
        r.headers.push(("X-Forwarded-Port".into(), "443".into()));
        assert_eq!(build(&r, &config("")).expect("mounted").get("SERVER_PORT"), Some("443"));
    }

    #[test]
    fn a_host_without_a_name_falls_back_to_the_domain_then_localhost() {
        // Found by the shape-valid property tests: `Host: :` gave an empty SERVER_NAME.
        let mut r = request(EventPath::Encoded("/".into()), Stage::Absent);
        for host in ["", " ", ":", ":8080"] {
            r.headers = vec![("Host".into(), host.into())];
            r.domain_name = None;
            assert_eq!(
                build(&r, &config("")).expect("mounted").get("SERVER_NAME"),
                Some("localhost"),
                "{host:?}"
            );
            r.domain_name = Some("api.example.com".into());
            assert_eq!(
                build(&r, &config("")).expect("mounted").get("SERVER_NAME"),
                Some("api.example.com"),
                "{host:?}"
            );
        }
        r.headers = vec![("Host".into(), ":8080".into())];
        assert_eq!(build(&r, &config("")).expect("mounted").get("SERVER_PORT"), Some("443"));
    }

    #[test]
    fn non_ascii_header_values_become_bytes_as_unicode() {
        let mut r = request(EventPath::Encoded("/".into()), Stage::Absent);
        r.headers = vec![("X-Name".into(), "José".into())];
        assert_eq!(
            build(&r, &config("")).expect("mounted").get("HTTP_X_NAME"),
            Some("Jos\u{c3}\u{a9}")
        );
    }

    #[test]
    fn server_protocol_falls_back_to_http_1_1() {
        assert_eq!(server_protocol(Some("HTTP/2.0")), "HTTP/2.0");
        assert_eq!(server_protocol(Some("HTTP/1.1")), "HTTP/1.1");
        assert_eq!(server_protocol(Some("gopher")), "HTTP/1.1");
        assert_eq!(server_protocol(None), "HTTP/1.1");
    }
}
