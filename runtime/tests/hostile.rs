//! Hostile and malformed events, in plain Rust: every one has a defined outcome (an error with a
//! stable errorType naming the field, a 400, or a well-formed environ), and property tests with a
//! fixed seed, of two kinds:
//!
//! - shape-valid events, one generator per source (REST, HTTP API 1.0 and 2.0, Function URL, ALB
//!   single- and multi-value, VPC Lattice v1 and v2): every field where AWS puts it, with random
//!   values (any Unicode, percent escapes valid or not, repeated keys, empty and null maps,
//!   base64 bodies). Each must parse as its own source and give a PEP 3333 environ; a minimum
//!   share must parse, so the generators cannot drift into testing nothing;
//! - fully hostile events: each source's fields set to random strings, nulls, wrong types or left
//!   out. Most are refused; nothing may panic, and what parses must still be PEP 3333-shaped.
//!
//! Each property prints how many generated events parsed, per source (`make fuzz` shows it).

use lambda_wsgi::config::Config;
use lambda_wsgi::environ::{self, Environ};
use lambda_wsgi::error::EventError;
use lambda_wsgi::event;
use lambda_wsgi::response::{self, AppResponse};
use lambda_wsgi::source::Source;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestRunner};
use serde_json::{Map, Value, json};
use std::cell::Cell;

fn config() -> Config {
    Config::from_lookup(|name| (name == "WSGI_APP").then(|| "app:app".to_owned())).expect("BUG: valid config")
}

fn v2(overrides: Value) -> String {
    let mut event = json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {"host": "h.example"},
        "requestContext": {"http": {"method": "GET", "sourceIp": "1.2.3.4"}, "stage": "$default"},
        "isBase64Encoded": false,
    });
    merge(&mut event, overrides);
    event.to_string()
}

fn rest(overrides: Value) -> String {
    let mut event = json!({
        "httpMethod": "GET", "path": "/", "headers": {"Host": "h.example"}, "multiValueHeaders": null,
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "requestContext": {"stage": "prod", "identity": {"sourceIp": "1.2.3.4"}}, "body": null, "isBase64Encoded": false,
    });
    merge(&mut event, overrides);
    event.to_string()
}

fn merge(target: &mut Value, overrides: Value) {
    if let (Value::Object(target), Value::Object(overrides)) = (target, overrides) {
        for (key, value) in overrides {
            target.insert(key, value);
        }
    }
}

enum Expect {
    /// An invocation error with this errorType whose message contains the text.
    Error(&'static str, &'static str),
    /// A 400 response.
    BadRequest,
    /// An environ; the closure checks what matters for the case.
    Environ(fn(&Environ)),
}

fn check(name: &str, event: &str, expect: Expect) {
    let outcome = event::parse(event);
    match (expect, outcome) {
        (Expect::Error(error_type, text), Err(err)) => {
            assert_eq!(err.error_type(), error_type, "{name}: {err}");
            assert!(
                err.to_string().contains(text),
                "{name}: {err:?} does not mention {text:?}"
            );
        }
        (Expect::BadRequest, Err(EventError::BadBody { .. })) => {}
        (Expect::Environ(check), Ok((_, request))) => {
            let environ = environ::build(&request, &config()).expect("mounted");
            assert_pep3333(&environ);
            check(&environ);
        }
        (_, outcome) => panic!("{name}: unexpected outcome {:?}", outcome.map(|(source, _)| source)),
    }
}

#[test]
fn hostile_events_have_defined_outcomes() {
    let many_headers: Map<String, Value> = (0..10_000).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let many_query: String = (0..5_000).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
    let many_cookies: Vec<String> = (0..5_000).map(|i| format!("c{i}=v")).collect();
    let long_path = format!("/{}", "a".repeat(64 * 1024));
    let huge_value = "v".repeat(1024 * 1024);
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "not JSON",
            "GET / HTTP/1.1".into(),
            Expect::Error("UnsupportedEvent", "not valid JSON"),
        ),
        (
            "truncated JSON",
            "{\"version\":".into(),
            Expect::Error("UnsupportedEvent", "not valid JSON"),
        ),
        (
            "a number",
            "42".into(),
            Expect::Error("UnsupportedEvent", "not a JSON object"),
        ),
        (
            "a string",
            "\"hello\"".into(),
            Expect::Error("UnsupportedEvent", "not a JSON object"),
        ),
        (
            "null",
            "null".into(),
            Expect::Error("UnsupportedEvent", "not a JSON object"),
        ),
        (
            "no known source",
            r#"{"foo": 1}"#.into(),
            Expect::Error("UnsupportedEvent", "top-level keys: [foo]"),
        ),
        (
            "v2 without requestContext",
            json!({"version": "2.0", "rawPath": "/"}).to_string(),
            Expect::Error("UnsupportedEvent", "requestContext.http"),
        ),
        (
            "v2 without method",
            v2(json!({"requestContext": {"http": {}}})),
            Expect::Error("InvalidEvent", "[requestContext.http]"),
        ),
        (
            "v2 headers is a string",
            v2(json!({"headers": "host: x"})),
            Expect::Error("InvalidEvent", "[headers]"),
        ),
        (
            "v2 header value is null",
            v2(json!({"headers": {"x-a": null}})),
            Expect::Error("InvalidEvent", "[headers.x-a]"),
        ),
        (
            "v2 body is a number",
            v2(json!({"body": 42})),
            Expect::Error("InvalidEvent", "[body]"),
        ),
        (
            "v2 cookies is an object",
            v2(json!({"cookies": {"a": "1"}})),
            Expect::Error("InvalidEvent", "[cookies]"),
        ),
        (
            "rest method is a list",
            rest(json!({"httpMethod": ["GET"]})),
            Expect::Error("InvalidEvent", "[httpMethod]"),
        ),
        (
            "rest requestContext is a string",
            rest(json!({"requestContext": "x"})),
            Expect::Error("InvalidEvent", "[requestContext]"),
        ),
        (
            "rest every map null",
            rest(json!({"headers": null, "requestContext": null})),
            Expect::Environ(|e| {
                assert_eq!(e.get("SERVER_NAME"), Some("localhost"));
            }),
        ),
        (
            "invalid base64",
            v2(json!({"body": "!!!", "isBase64Encoded": true})),
            Expect::BadRequest,
        ),
        (
            "invalid percent escapes",
            rest(json!({"path": "/a%zz/%4/%"})),
            Expect::Environ(|e| {
                assert_eq!(e.get("PATH_INFO"), Some("/a%zz/%4/%"));
            }),
        ),
        (
            "NUL in the path",
            rest(json!({"path": "/a%00b"})),
            Expect::Environ(|e| {
                assert_eq!(e.get("PATH_INFO"), Some("/a\0b"));
            }),
        ),
        (
            "64 KB path",
            rest(json!({"path": long_path})),
            Expect::Environ(|e| {
                assert_eq!(e.get("PATH_INFO").map(str::len), Some(64 * 1024 + 1));
            }),
        ),
        (
            "10,000 headers",
            v2(json!({"headers": many_headers})),
            Expect::Environ(|e| {
                assert_eq!(e.vars.iter().filter(|(k, _)| k.starts_with("HTTP_X_H")).count(), 10_000);
            }),
        ),
        (
            "1 MB header value",
            v2(json!({"headers": {"x-big": huge_value}})),
            Expect::Environ(|e| {
                assert_eq!(e.get("HTTP_X_BIG").map(str::len), Some(1024 * 1024));
            }),
        ),
        (
            "header names with spaces, non-ASCII, underscores",
            v2(json!({"headers": {"bad name": "1", "naïve": "2", "x_forwarded_for": "6.6.6.6", "ok": "3"}})),
            Expect::Environ(|e| {
                let http: Vec<&str> = e
                    .vars
                    .iter()
                    .map(|(k, _)| k.as_ref())
                    .filter(|k| k.starts_with("HTTP_"))
                    .collect();
                assert_eq!(http, ["HTTP_OK"]);
            }),
        ),
        (
            "thousands of query keys",
            v2(json!({"rawQueryString": many_query})),
            Expect::Environ(|e| {
                assert_eq!(e.get("QUERY_STRING").map(|q| q.matches('&').count()), Some(4_999));
            }),
        ),
        (
            "thousands of cookies",
            v2(json!({"cookies": many_cookies})),
            Expect::Environ(|e| {
                assert_eq!(e.get("HTTP_COOKIE").map(|c| c.matches("; ").count()), Some(4_999));
            }),
        ),
        (
            "unknown method",
            v2(json!({"requestContext": {"http": {"method": "BREW"}}})),
            Expect::Environ(|e| {
                assert_eq!(e.get("REQUEST_METHOD"), Some("BREW"));
            }),
        ),
        (
            "client-chosen X-Forwarded-For on REST",
            rest(json!({"headers": {"X-Forwarded-For": "6.6.6.6"}})),
            Expect::Environ(|e| {
                assert_eq!(e.get("REMOTE_ADDR"), Some("1.2.3.4"));
            }),
        ),
    ];
    for (name, event, expect) in cases {
        check(name, &event, expect);
    }
}

/// What PEP 3333 and wsgiref.validate require of the string part of an environ.
fn assert_pep3333(environ: &Environ) {
    for key in [
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "wsgi.url_scheme",
    ] {
        assert!(environ.get(key).is_some(), "{key} missing");
    }
    for (key, value) in &environ.vars {
        assert!(
            value.chars().all(|c| u32::from(c) <= 0xFF),
            "{key} is not bytes-as-unicode: {value:?}"
        );
        if let Some(name) = key.strip_prefix("HTTP_") {
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_!#$%&'*+.^`|~".contains(&b)),
                "{key}"
            );
        }
    }
    let value = |key: &str| environ.get(key).unwrap_or_default();
    assert!(value("PATH_INFO").is_empty() || value("PATH_INFO").starts_with('/'));
    let script_name = value("SCRIPT_NAME");
    assert!(
        script_name.is_empty() || (script_name.starts_with('/') && !script_name.ends_with('/')),
        "SCRIPT_NAME {script_name:?}"
    );
    assert!(!value("SERVER_NAME").is_empty() && !value("SERVER_PORT").is_empty());
    assert_eq!(value("CONTENT_LENGTH"), environ.body.len().to_string());
    assert!(matches!(value("wsgi.url_scheme"), "http" | "https"));
    assert!(environ.get("HTTP_CONTENT_TYPE").is_none() && environ.get("HTTP_CONTENT_LENGTH").is_none());
}

// ----- property tests ---------------------------------------------------------------------

/// Strings that stress decoding: anything at all, or URL-ish text with escapes (valid or not).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[/%a-zA-Z0-9 +?#&=;,._~-]{0,24}",
        "(%[0-9A-Fa-fzZ]{0,2}){0,6}"
    ]
}

/// A JSON value of any shape a field might wrongly hold, or nothing.
fn fuzzy() -> impl Strategy<Value = Option<Value>> {
    let string_map = prop::collection::vec((text(), text()), 0..4)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    let list_map = prop::collection::vec((text(), prop::collection::vec(text(), 0..3)), 0..4)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k, json!(v))).collect()));
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        text().prop_map(|s| Some(Value::String(s))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        any::<bool>().prop_map(|b| Some(json!(b))),
        string_map.prop_map(Some),
        list_map.prop_map(Some),
        prop::collection::vec(text(), 0..3).prop_map(|v| Some(json!(v))),
    ]
}

/// An object with `fixed` entries and each of `fields` set to a fuzzy value (or left out).
fn object(fixed: Value, fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec(fuzzy(), fields.len()).prop_map(move |values| {
        let mut object = fixed.clone();
        for (field, value) in fields.iter().zip(values) {
            if let (Value::Object(map), Some(value)) = (&mut object, value) {
                map.insert((*field).to_owned(), value);
            }
        }
        object
    })
}

fn events() -> impl Strategy<Value = Value> {
    let v2 = (
        object(
            json!({"version": "2.0", "rawPath": "/"}),
            &[
                "rawPath",
                "rawQueryString",
                "cookies",
                "headers",
                "body",
                "isBase64Encoded",
            ],
        ),
        object(json!({}), &["method", "sourceIp", "protocol"]),
        object(json!({}), &["stage", "domainName"]),
    )
        .prop_map(|(mut event, http, mut context)| {
            context["http"] = http;
            event["requestContext"] = context;
            event
        });
    let rest = (
        object(
            json!({"httpMethod": "GET"}),
            &[
                "httpMethod",
                "path",
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "body",
                "isBase64Encoded",
                "version",
            ],
        ),
        object(json!({}), &["stage", "domainName", "protocol", "identity"]),
    )
        .prop_map(|(mut event, context)| {
            event["requestContext"] = context;
            event
        });
    let alb = object(
        json!({"requestContext": {"elb": {"targetGroupArn": "arn"}}, "httpMethod": "GET"}),
        &[
            "httpMethod",
            "path",
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "body",
            "isBase64Encoded",
        ],
    );
    let lattice_v1 = object(
        json!({"raw_path": "/", "method": "GET"}),
        &[
            "raw_path",
            "method",
            "headers",
            "query_string_parameters",
            "body",
            "is_base64_encoded",
        ],
    );
    let lattice_v2 = object(
        json!({"version": "2.0", "path": "/", "method": "GET", "requestContext": {"serviceNetworkArn": "arn"}}),
        &[
            "path",
            "method",
            "headers",
            "queryStringParameters",
            "body",
            "isBase64Encoded",
        ],
    );
    prop_oneof![v2, rest, alb, lattice_v1, lattice_v2]
}

/// A fixed seed and 2,000 cases in `make test`; `make fuzz` sets LAMBDA_WSGI_FUZZ_CASES and
/// LAMBDA_WSGI_FUZZ_SEED for a longer run from a fresh seed.
fn fixed_seed() -> ProptestConfig {
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        cases: from_env("LAMBDA_WSGI_FUZZ_CASES")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(2_000),
        rng_seed: RngSeed::Fixed(from_env("LAMBDA_WSGI_FUZZ_SEED").unwrap_or(0x1a3b_da75)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn header_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn latin1_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR, LF or NUL", |b| !matches!(b, b'\r' | b'\n' | 0)),
        0..24,
    )
    .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

proptest! {
    #![proptest_config(fixed_seed())]

    #[test]
    fn rendering_never_panics_and_is_well_formed(
        status in 100u16..=599,
        headers in prop::collection::vec((header_name(), latin1_value()), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
        content_type in prop_oneof![Just(None), Just(Some("text/plain".to_owned())), Just(Some("application/json".to_owned())), Just(Some("image/png".to_owned()))],
        is_head in any::<bool>(),
    ) {
        let mut headers = headers;
        if let Some(content_type) = content_type {
            headers.push(("Content-Type".to_owned(), content_type));
        }
        let answer = AppResponse { status, reason: "Reason".to_owned(), headers, body: body.clone() };
        for source in [Source::RestV1, Source::HttpV1, Source::HttpV2, Source::FunctionUrl, Source::Alb { multi_value: true }, Source::Alb { multi_value: false }, Source::LatticeV1, Source::LatticeV2] {
            let rendered = serde_json::to_value(response::render(source, answer.clone(), is_head, &[])).expect("serializes");
            prop_assert_eq!(rendered["statusCode"].as_u64(), Some(u64::from(status)));
            let sent = rendered["body"].as_str().expect("body is a string");
            if is_head {
                prop_assert_eq!(sent, "");
            } else if rendered["isBase64Encoded"] == json!(true) {
                use base64::Engine as _;
                prop_assert_eq!(base64::engine::general_purpose::STANDARD.decode(sent).expect("valid base64"), body.clone());
            } else {
                prop_assert_eq!(sent.as_bytes(), body.as_slice());
            }
        }
    }
}

#[test]
fn remote_addr_cannot_be_chosen_by_the_client_on_any_source() {
    let spoof = "6.6.6.6";
    let events = [
        ("REST", rest(json!({"headers": {"X-Forwarded-For": spoof}}))),
        ("HTTP API 1.0", rest(json!({"version": "1.0", "headers": {"X-Forwarded-For": spoof}}))),
        ("HTTP API 2.0", v2(json!({"headers": {"x-forwarded-for": spoof}}))),
        ("Function URL", v2(json!({"headers": {"x-forwarded-for": spoof}, "requestContext": {"http": {"method": "GET", "sourceIp": "1.2.3.4"}, "domainName": "x.lambda-url.us-east-1.on.aws"}}))),
        // ALB and Lattice append the address they saw: the client's own entries are to its left.
        ("ALB", json!({"requestContext": {"elb": {}}, "httpMethod": "GET", "path": "/", "headers": {"x-forwarded-for": format!("{spoof}, 1.2.3.4")}}).to_string()),
        ("ALB multi-value", json!({"requestContext": {"elb": {}}, "httpMethod": "GET", "path": "/", "multiValueHeaders": {"x-forwarded-for": [format!("{spoof}, 1.2.3.4")]}}).to_string()),
        ("Lattice v1", json!({"raw_path": "/", "method": "GET", "headers": {"x-forwarded-for": format!("{spoof}, 1.2.3.4")}}).to_string()),
        ("Lattice v2", json!({"version": "2.0", "path": "/", "method": "GET", "requestContext": {"serviceNetworkArn": "arn"}, "headers": {"x-forwarded-for": [format!("{spoof}, 1.2.3.4")]}}).to_string()),
    ];
    for (name, event) in events {
        let (_, request) = event::parse(&event).unwrap_or_else(|err| panic!("{name}: {err}"));
        let environ = environ::build(&request, &config()).expect("mounted");
        assert_eq!(environ.get("REMOTE_ADDR"), Some("1.2.3.4"), "{name}");
    }
}

// ----- shape-valid events, per source -----------------------------------------------------

/// The least share of shape-valid events that must parse. Every generated event is one AWS
/// could send, so all of them should; the margin only allows a later generator to add shapes
/// that are refused on purpose.
const MIN_PARSED_SHARE: f64 = 0.95;

/// Runs `strategy` under the fixed seed; each event that parses must come out as `expected` and
/// give a PEP 3333 environ. Returns (parsed, generated) and prints them.
fn run_counted(name: &str, strategy: impl Strategy<Value = Value>, expected: Option<Source>) -> (usize, usize) {
    let parsed = Cell::new(0_usize);
    let generated = Cell::new(0_usize);
    let mut runner = TestRunner::new(fixed_seed());
    let outcome = runner.run(&strategy, |event| {
        generated.set(generated.get() + 1);
        let text = event.to_string();
        if let Ok((source, request)) = event::parse(&text) {
            parsed.set(parsed.get() + 1);
            if let Some(expected) = expected {
                prop_assert_eq!(source, expected, "parsed as another source: {}", text);
            }
            let environ = environ::build(&request, &config()).expect("mounted");
            assert_pep3333(&environ);
            // The method as bytes-as-unicode (UTF-8 bytes as Latin-1 characters), as every value.
            let method: String = request.method.bytes().map(char::from).collect();
            prop_assert_eq!(environ.get("REQUEST_METHOD"), Some(method.as_str()));
        }
        Ok(())
    });
    println!(
        "{name}: {} of {} generated events parsed",
        parsed.get(),
        generated.get()
    );
    if let Err(failure) = outcome {
        panic!("{name}: {failure}");
    }
    (parsed.get(), generated.get())
}

fn assert_share(name: &str, (parsed, generated): (usize, usize)) {
    // Precision is not a concern at these counts.
    #[allow(clippy::cast_precision_loss)]
    let share = parsed as f64 / generated.max(1) as f64;
    assert!(
        share >= MIN_PARSED_SHARE,
        "{name}: only {parsed} of {generated} shape-valid events parsed ({:.1}%, minimum {:.0}%)",
        share * 100.0,
        MIN_PARSED_SHARE * 100.0
    );
}

/// A field AWS may leave out or send as null (console tests do both): present most of the time.
fn nullable(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => value.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
    ]
}

/// Inserts `value` under `key` unless it was left out.
fn put(object: &mut Value, key: &str, value: Option<Value>) {
    if let (Value::Object(map), Some(value)) = (object, value) {
        map.insert(key.to_owned(), value);
    }
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]).prop_map(str::to_owned),
        1 => "[A-Z]{1,10}",
    ]
}

/// A path as REST, ALB, Function URLs and Lattice send it: percent-encoded by the client, with
/// escapes that may be invalid or decode to bytes that are not UTF-8.
fn encoded_path() -> impl Strategy<Value = String> {
    "/([a-zA-Z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2}|%[g-zG-Z]?){0,20}"
}

/// A path as HTTP API sends it: already decoded, so any text at all.
fn decoded_path() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>().prop_map(|s| format!("/{s}")), "/[a-z0-9/ ?#%+]{0,20}",]
}

/// Query text still encoded as the client sent it (2.0 `rawQueryString`, ALB parameters).
fn encoded_query_part() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9._~+*-]|%[0-9A-Fa-f]{2}){0,10}"
}

/// Any header name a client can send, mostly tokens, some with `_` or odd characters.
fn any_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}",
        1 => any::<String>(),
    ]
}

/// Header lines: random names and values plus, usually, the headers AWS adds.
fn header_lines() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    let random = prop::collection::vec((any_header_name(), prop::collection::vec(any::<String>(), 1..3)), 0..6);
    let host = prop_oneof![
        "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){0,3}(:[0-9]{1,5})?",
        any::<String>()
    ];
    let forwarded = (
        prop_oneof![Just("https".to_owned()), Just("http".to_owned()), any::<String>()],
        prop_oneof!["[0-9]{1,5}", any::<String>()],
        "([0-9]{1,3}\\.){3}[0-9]{1,3}(, ([0-9]{1,3}\\.){3}[0-9]{1,3}){0,2}",
    );
    (random, prop::option::of(host), prop::option::of(forwarded)).prop_map(|(mut lines, host, forwarded)| {
        if let Some(host) = host {
            lines.push(("Host".to_owned(), vec![host]));
        }
        if let Some((proto, port, for_)) = forwarded {
            lines.push(("X-Forwarded-Proto".to_owned(), vec![proto]));
            lines.push(("X-Forwarded-Port".to_owned(), vec![port]));
            lines.push(("X-Forwarded-For".to_owned(), vec![for_]));
        }
        lines
    })
}

/// Repeated keys, as query parameters arrive: (name, values).
fn parameters(part: BoxedStrategy<String>) -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    prop::collection::vec((part.clone(), prop::collection::vec(part, 1..3)), 0..5)
}

/// `{name: [values]}`.
fn multi_map(lines: &[(String, Vec<String>)]) -> Value {
    let mut map = Map::new();
    for (name, values) in lines {
        let entry = map.entry(name.clone()).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            list.extend(values.iter().cloned().map(Value::String));
        }
    }
    Value::Object(map)
}

/// `{name: last value}`: what REST's and ALB's single-value maps keep.
fn single_map(lines: &[(String, Vec<String>)]) -> Value {
    let mut map = Map::new();
    for (name, values) in lines {
        if let Some(last) = values.last() {
            map.insert(name.clone(), Value::String(last.clone()));
        }
    }
    Value::Object(map)
}

/// `{name: "v1,v2"}`: payload 2.0 and Lattice v1 join repeats with commas.
fn comma_map(lines: &[(String, Vec<String>)]) -> Value {
    let mut map = Map::new();
    for (name, values) in lines {
        map.insert(name.clone(), Value::String(values.join(",")));
    }
    Value::Object(map)
}

/// `body` and `isBase64Encoded`: none, text, or base64 of any bytes.
fn body() -> impl Strategy<Value = (Option<Value>, Option<Value>)> {
    use base64::Engine as _;
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), Some(json!(false)))),
        any::<String>().prop_map(|text| (Some(Value::String(text)), Some(json!(false)))),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| (
            Some(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
            Some(json!(true))
        )),
    ]
}

fn source_ip() -> impl Strategy<Value = String> {
    prop_oneof![
        "([0-9]{1,3}\\.){3}[0-9]{1,3}",
        "[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}",
        Just("test-invoke-source-ip".to_owned()),
    ]
}

fn stage() -> impl Strategy<Value = String> {
    prop_oneof![Just("$default".to_owned()), "[a-zA-Z0-9_-]{1,10}"]
}

/// API Gateway's domain: the execute-api host (where a stage is in the URL) or a custom domain.
fn api_domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{10}\\.execute-api\\.us-east-1\\.amazonaws\\.com",
        "[a-z]{1,10}\\.example\\.com",
    ]
}

/// REST (`version: None`) and HTTP API payload 1.0 (`version: Some("1.0")`).
fn payload_v1(version: Option<&'static str>) -> impl Strategy<Value = Value> {
    let head = (
        method(),
        encoded_path(),
        decoded_path(),
        stage(),
        api_domain(),
        source_ip(),
    );
    let maps = (
        header_lines(),
        parameters(any::<String>().boxed()),
        any::<(bool, bool, bool, bool)>(),
        body(),
    );
    (head, maps).prop_map(
        move |((method, encoded, decoded, stage, domain, ip), (headers, query, nulls, (body, base64)))| {
            // HTTP API decodes the path (payload 1.0 as 2.0, see the README); REST does not.
            let path = if version.is_some() { decoded } else { encoded };
            let mut event = json!({
                "resource": "/{proxy+}",
                "path": path,
                "httpMethod": method,
                "pathParameters": null,
                "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "abc", "domainName": domain, "httpMethod": method,
                    "identity": {"sourceIp": ip}, "path": format!("/{stage}{path}"), "protocol": "HTTP/1.1",
                    "requestId": "id", "resourcePath": "/{proxy+}", "stage": stage,
                },
            });
            if let Some(version) = version {
                event["version"] = json!(version);
            }
            // Both maps as AWS sends them, each sometimes null (console tests; hand-made events).
            let (single_headers, multi_headers, single_query, multi_query) = nulls;
            let pick = |keep: bool, value: Value| if keep { value } else { Value::Null };
            event["headers"] = pick(!single_headers, single_map(&headers));
            event["multiValueHeaders"] = pick(!multi_headers, multi_map(&headers));
            event["queryStringParameters"] = pick(!single_query, single_map(&query));
            event["multiValueQueryStringParameters"] = pick(!multi_query, multi_map(&query));
            put(&mut event, "body", body);
            put(&mut event, "isBase64Encoded", base64);
            event
        },
    )
}

/// HTTP API payload 2.0, or a Function URL (its domain and an encoded rawPath).
fn payload_v2(function_url: bool) -> impl Strategy<Value = Value> {
    let path = if function_url {
        encoded_path().boxed()
    } else {
        decoded_path().boxed()
    };
    let domain = if function_url {
        "[a-z0-9]{32}\\.lambda-url\\.us-east-1\\.on\\.aws".boxed()
    } else {
        api_domain().boxed()
    };
    let head = (method(), path, stage(), domain, source_ip());
    let rest = (
        nullable(prop::collection::vec(encoded_query_part(), 0..4).prop_map(|parts| json!(parts.join("&")))),
        nullable(prop::collection::vec("[a-zA-Z0-9_]{1,6}=[^;,]{0,8}", 0..4).prop_map(|c| json!(c))),
        header_lines(),
        body(),
    );
    (head, rest).prop_map(
        move |((method, path, stage, domain, ip), (raw_query, cookies, headers, (body, base64)))| {
            let stage = if function_url { "$default".to_owned() } else { stage };
            let mut event = json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "headers": comma_map(&headers),
                "requestContext": {
                    "accountId": "123456789012", "apiId": "abc", "domainName": domain, "domainPrefix": "abc",
                    "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": ip, "userAgent": "agent"},
                    "requestId": "id", "routeKey": "$default", "stage": stage, "time": "04/Dec/2026:00:00:00 +0000",
                    "timeEpoch": 0,
                },
            });
            put(&mut event, "rawQueryString", raw_query);
            put(&mut event, "cookies", cookies);
            put(&mut event, "body", body);
            put(&mut event, "isBase64Encoded", base64);
            event
        },
    )
}

/// ALB in either mode; parameters arrive still encoded.
fn alb(multi_value: bool) -> impl Strategy<Value = Value> {
    (method(), encoded_path(), header_lines(), parameters(encoded_query_part().boxed()), body()).prop_map(
        move |(method, path, headers, query, (body, base64))| {
            let mut event = json!({
                "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
                "httpMethod": method,
                "path": path,
            });
            if multi_value {
                // The live multi-value capture carries `null` single-value maps beside them.
                event["multiValueHeaders"] = multi_map(&headers);
                event["multiValueQueryStringParameters"] = multi_map(&query);
                event["headers"] = Value::Null;
                event["queryStringParameters"] = Value::Null;
            } else {
                event["headers"] = single_map(&headers);
                event["queryStringParameters"] = single_map(&query);
            }
            put(&mut event, "body", body);
            put(&mut event, "isBase64Encoded", base64);
            event
        },
    )
}

fn lattice_v1() -> impl Strategy<Value = Value> {
    (
        method(),
        encoded_path(),
        header_lines(),
        parameters(any::<String>().boxed()),
        body(),
    )
        .prop_map(|(method, path, headers, query, (body, base64))| {
            let mut event = json!({
                "raw_path": path,
                "method": method,
                "headers": comma_map(&headers),
                "query_string_parameters": single_map(&query),
            });
            put(&mut event, "body", body);
            put(&mut event, "is_base64_encoded", base64);
            event
        })
}

fn lattice_v2() -> impl Strategy<Value = Value> {
    let lists = any::<bool>();
    (
        method(),
        encoded_path(),
        header_lines(),
        parameters(any::<String>().boxed()),
        lists,
        body(),
    )
        .prop_map(|(method, path, headers, query, lists, (body, base64))| {
            // AWS documents list values; Powertools' samples use strings: both shapes.
            let map = |lines: &[(String, Vec<String>)]| if lists { multi_map(lines) } else { single_map(lines) };
            let mut event = json!({
                "version": "2.0",
                "path": path,
                "method": method,
                "headers": map(&headers),
                "queryStringParameters": map(&query),
                "requestContext": {
                    "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn",
                    "serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc",
                    "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg",
                    "identity": {"sourceVpcArn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"},
                    "region": "us-east-1",
                    "timeEpoch": "0",
                },
            });
            put(&mut event, "body", body);
            put(&mut event, "isBase64Encoded", base64);
            event
        })
}

#[test]
fn shape_valid_rest_events_parse_into_pep3333_environs() {
    let counts = run_counted("REST", payload_v1(None), Some(Source::RestV1));
    assert_share("REST", counts);
}

#[test]
fn shape_valid_http_api_1_0_events_parse_into_pep3333_environs() {
    let counts = run_counted("HTTP API 1.0", payload_v1(Some("1.0")), Some(Source::HttpV1));
    assert_share("HTTP API 1.0", counts);
}

#[test]
fn shape_valid_http_api_2_0_events_parse_into_pep3333_environs() {
    let counts = run_counted("HTTP API 2.0", payload_v2(false), Some(Source::HttpV2));
    assert_share("HTTP API 2.0", counts);
}

#[test]
fn shape_valid_function_url_events_parse_into_pep3333_environs() {
    let counts = run_counted("Function URL", payload_v2(true), Some(Source::FunctionUrl));
    assert_share("Function URL", counts);
}

#[test]
fn shape_valid_alb_events_parse_into_pep3333_environs() {
    let counts = run_counted("ALB", alb(false), Some(Source::Alb { multi_value: false }));
    assert_share("ALB", counts);
}

#[test]
fn shape_valid_alb_multi_value_events_parse_into_pep3333_environs() {
    let counts = run_counted("ALB multi-value", alb(true), Some(Source::Alb { multi_value: true }));
    assert_share("ALB multi-value", counts);
}

#[test]
fn shape_valid_lattice_v1_events_parse_into_pep3333_environs() {
    let counts = run_counted("VPC Lattice v1", lattice_v1(), Some(Source::LatticeV1));
    assert_share("VPC Lattice v1", counts);
}

#[test]
fn shape_valid_lattice_v2_events_parse_into_pep3333_environs() {
    let counts = run_counted("VPC Lattice v2", lattice_v2(), Some(Source::LatticeV2));
    assert_share("VPC Lattice v2", counts);
}

/// Fully hostile events: no minimum share (most are refused), but nothing may panic and what
/// parses must be PEP 3333-shaped. The count is printed so a run shows how much got through.
#[test]
fn hostile_events_never_panic_and_what_parses_stays_pep3333() {
    run_counted("fully hostile (every source)", events(), None);
}
