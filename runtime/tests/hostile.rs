//! Hostile and malformed events, in plain Rust: every one has a defined outcome (an error with a
//! stable errorType naming the field, a 400, or a well-formed environ), and property tests with a
//! fixed seed generate events from each source's schema with random strings, nulls, wrong types
//! and missing fields, asserting that nothing panics and every environ stays PEP 3333-shaped.

use lambda_wsgi::config::Config;
use lambda_wsgi::environ::{self, Environ};
use lambda_wsgi::error::EventError;
use lambda_wsgi::event;
use lambda_wsgi::response::{self, AppResponse};
use lambda_wsgi::source::Source;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use serde_json::{Map, Value, json};

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
            let environ = environ::build(&request, &config());
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
    fn parsing_never_panics_and_environs_stay_pep3333(event in events()) {
        let text = event.to_string();
        if let Ok((_, request)) = event::parse(&text) {
            assert_pep3333(&environ::build(&request, &config()));
        }
    }

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
        let environ = environ::build(&request, &config());
        assert_eq!(environ.get("REMOTE_ADDR"), Some("1.2.3.4"), "{name}");
    }
}
