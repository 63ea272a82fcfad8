//! The function's response JSON -> a real HTTP response, as strict as the front door the emulator
//! plays: anything it would reject ("Malformed Lambda proxy response", ALB's 502) becomes a 502
//! with the reason logged.
//!
//! Each front door has its own keys (PEERS.md 2.8, and the AWS pages on each response format):
//!
//! - REST API and HTTP API payload 1.0: `statusCode`, `headers`, `multiValueHeaders`, `body`,
//!   `isBase64Encoded`. REST answers 502 "Malformed Lambda proxy response" to any other key
//!   (`cookies`, `statusDescription`).
//! - HTTP API payload 2.0 and Function URLs: `statusCode`, `headers`, `cookies`, `body`,
//!   `isBase64Encoded`. A response that is valid JSON but not an object with `statusCode` is
//!   not an error there: AWS takes it as the body of a 200 `application/json` answer (the string
//!   itself for a JSON string, the JSON text otherwise).
//! - ALB: `statusCode`, `statusDescription`, `body`, `isBase64Encoded`, and `headers` in
//!   single-value mode or `multiValueHeaders` in multi-value mode, never the other.
//!
//! A key the real front door would ignore (a 2.0 `multiValueHeaders`, an ALB map of the wrong
//! mode) is rejected too: the client would lose what it carries, so for a test it is as wrong
//! as a key the front door refuses.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::events::EventFormat;

/// A response ready to send: status, header lines, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Header lines; a name may repeat (every Set-Cookie is its own line).
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Vec<u8>,
}

/// Why a function response could not be turned into HTTP.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MalformedResponse {
    /// Not JSON at all.
    #[error("the function response is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object where the front door needs one.
    #[error("the function response is not a JSON object")]
    NotAnObject,
    /// A key this front door does not take.
    #[error("{front_door} does not accept the key {key:?} in a response")]
    UnexpectedKey {
        /// The key.
        key: String,
        /// The front door, as named on the command line (`rest`, `alb`, ...).
        front_door: &'static str,
    },
    /// Missing or non-integer statusCode.
    #[error("statusCode is missing or not an integer between 100 and 599")]
    BadStatus,
    /// A known key whose value has the wrong type.
    #[error("{key} is not {expected}")]
    BadField {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A header value that is not a string.
    #[error("header {0} has a value that is not a string")]
    BadHeader(String),
    /// isBase64Encoded with a body that is not base64.
    #[error("isBase64Encoded is true but the body is not base64: {0}")]
    BadBase64(String),
}

impl HttpResponse {
    /// The answer API Gateway gives when the function failed.
    pub fn gateway_error(status: u16, message: &str) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: serde_json::json!({ "message": message }).to_string().into_bytes(),
        }
    }
}

const STATUS_CODE: &str = "statusCode";
const STATUS_DESCRIPTION: &str = "statusDescription";
const HEADERS: &str = "headers";
const MULTI_VALUE_HEADERS: &str = "multiValueHeaders";
const COOKIES: &str = "cookies";
const BODY: &str = "body";
const IS_BASE64_ENCODED: &str = "isBase64Encoded";

/// The keys each front door takes in a buffered response.
fn allowed_keys(format: EventFormat) -> &'static [&'static str] {
    match format {
        EventFormat::Rest | EventFormat::HttpV1 => {
            &[STATUS_CODE, HEADERS, MULTI_VALUE_HEADERS, BODY, IS_BASE64_ENCODED]
        }
        EventFormat::HttpV2 | EventFormat::FunctionUrl => &[STATUS_CODE, HEADERS, COOKIES, BODY, IS_BASE64_ENCODED],
        EventFormat::Alb => &[STATUS_CODE, STATUS_DESCRIPTION, HEADERS, BODY, IS_BASE64_ENCODED],
        EventFormat::AlbMultiValue => &[
            STATUS_CODE,
            STATUS_DESCRIPTION,
            MULTI_VALUE_HEADERS,
            BODY,
            IS_BASE64_ENCODED,
        ],
    }
}

/// The keys of a streamed response's prelude (Lambda's HTTP integration stream, which Function
/// URLs and REST API streaming read): the head only; the body follows as raw bytes.
const PRELUDE_KEYS: &[&str] = &[STATUS_CODE, HEADERS, MULTI_VALUE_HEADERS, COOKIES];

/// Parses the function's buffered response as the front door `format` would.
pub fn from_function(payload: &[u8], format: EventFormat) -> Result<HttpResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| MalformedResponse::NotJson(e.to_string()))?;
    let payload_v2 = matches!(format, EventFormat::HttpV2 | EventFormat::FunctionUrl);
    if payload_v2 && !value.as_object().is_some_and(|object| object.contains_key(STATUS_CODE)) {
        return Ok(inferred(value));
    }
    let Value::Object(object) = value else {
        return Err(MalformedResponse::NotAnObject);
    };
    only_keys(&object, allowed_keys(format), format.name())?;
    if matches!(format, EventFormat::Alb | EventFormat::AlbMultiValue) {
        // A null statusDescription is a 502 on ALB (aws/aws-lambda-dotnet#507).
        if object.get(STATUS_DESCRIPTION).is_some_and(|d| !d.is_string()) {
            return Err(MalformedResponse::BadField {
                key: STATUS_DESCRIPTION,
                expected: "a string",
            });
        }
    }
    let mut response = head(&object)?;
    response.body = body(&object)?;
    Ok(response)
}

/// Parses a streamed response's prelude (the JSON before the eight NUL bytes): its head.
pub fn from_prelude(prelude: &[u8]) -> Result<HttpResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(prelude).map_err(|e| MalformedResponse::NotJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(MalformedResponse::NotAnObject);
    };
    only_keys(&object, PRELUDE_KEYS, "a response stream's prelude")?;
    head(&object)
}

/// Payload 2.0's inference (HTTP API and Function URL docs): valid JSON without a statusCode is
/// the body of a 200 `application/json` answer.
fn inferred(value: Value) -> HttpResponse {
    let body = match value {
        Value::String(text) => text,
        other => other.to_string(),
    };
    HttpResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.into_bytes(),
    }
}

fn only_keys(object: &Map<String, Value>, allowed: &[&str], front_door: &'static str) -> Result<(), MalformedResponse> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(MalformedResponse::UnexpectedKey {
            key: key.clone(),
            front_door,
        }),
        None => Ok(()),
    }
}

/// The status and header lines, from whichever of `headers`, `multiValueHeaders` and `cookies`
/// the object has (the caller has checked which ones it may have). A missing or null map is empty.
fn head(object: &Map<String, Value>) -> Result<HttpResponse, MalformedResponse> {
    let status = object
        .get(STATUS_CODE)
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or(MalformedResponse::BadStatus)?;
    let mut headers = Vec::new();
    if let Some(map) = optional(object, HEADERS, Value::as_object, "an object of strings")? {
        for (name, value) in map {
            headers.push((name.clone(), header_value(name, value)?));
        }
    }
    if let Some(map) = optional(
        object,
        MULTI_VALUE_HEADERS,
        Value::as_object,
        "an object of string lists",
    )? {
        for (name, values) in map {
            let values = values.as_array().ok_or(MalformedResponse::BadField {
                key: MULTI_VALUE_HEADERS,
                expected: "an object of string lists",
            })?;
            // A name in both maps: the multi-value list wins, as in API Gateway.
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            for value in values {
                headers.push((name.clone(), header_value(name, value)?));
            }
        }
    }
    if let Some(cookies) = optional(object, COOKIES, Value::as_array, "a list of strings")? {
        for cookie in cookies {
            headers.push(("set-cookie".to_owned(), header_value("set-cookie", cookie)?));
        }
    }
    // The proxy frames the body itself.
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding"));
    Ok(HttpResponse {
        status,
        headers,
        body: Vec::new(),
    })
}

/// The decoded body: `body` (a string, or absent/null for none), base64 when `isBase64Encoded`.
fn body(object: &Map<String, Value>) -> Result<Vec<u8>, MalformedResponse> {
    let text = optional(object, BODY, Value::as_str, "a string")?.unwrap_or_default();
    let base64 = optional(object, IS_BASE64_ENCODED, Value::as_bool, "a boolean")?.unwrap_or(false);
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| MalformedResponse::BadBase64(e.to_string()))
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

/// `object[key]` read with `read`: `None` when absent or null, an error when of another type.
fn optional<'a, T>(
    object: &'a Map<String, Value>,
    key: &'static str,
    read: impl Fn(&'a Value) -> Option<T>,
    expected: &'static str,
) -> Result<Option<T>, MalformedResponse> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value)
            .map(Some)
            .ok_or(MalformedResponse::BadField { key, expected }),
    }
}

fn header_value(name: &str, value: &Value) -> Result<String, MalformedResponse> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| MalformedResponse::BadHeader(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [EventFormat; 6] = [
        EventFormat::Rest,
        EventFormat::HttpV1,
        EventFormat::HttpV2,
        EventFormat::FunctionUrl,
        EventFormat::Alb,
        EventFormat::AlbMultiValue,
    ];

    fn lines(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    fn unexpected(key: &str, format: EventFormat) -> Result<HttpResponse, MalformedResponse> {
        Err(MalformedResponse::UnexpectedKey {
            key: key.to_owned(),
            front_door: format.name(),
        })
    }

    #[test]
    fn payload_1_0_expands_multi_value_headers_and_decodes_base64() {
        let payload =
            br#"{"statusCode":201,"headers":{"x-a":"1","X-Dup":"lost"},"multiValueHeaders":{"x-dup":["1","2"],
            "Set-Cookie":["a=1","b=2"]},"body":"AP8=","isBase64Encoded":true}"#;
        for format in [EventFormat::Rest, EventFormat::HttpV1] {
            let response = from_function(payload, format).expect("valid");
            assert_eq!(response.status, 201);
            assert_eq!(
                response.headers,
                lines(&[
                    ("x-a", "1"),
                    ("x-dup", "1"),
                    ("x-dup", "2"),
                    ("Set-Cookie", "a=1"),
                    ("Set-Cookie", "b=2")
                ])
            );
            assert_eq!(response.body, [0, 255]);
        }
    }

    #[test]
    fn payload_1_0_refuses_the_keys_of_other_front_doors() {
        // REST answers "Malformed Lambda proxy response" to these (PEERS.md 2.8).
        for format in [EventFormat::Rest, EventFormat::HttpV1] {
            assert_eq!(
                from_function(br#"{"statusCode":200,"cookies":["a=1"],"body":""}"#, format),
                unexpected("cookies", format)
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"statusDescription":"200 OK","body":""}"#, format),
                unexpected("statusDescription", format)
            );
            assert_eq!(
                from_function(br#"{"body":"x"}"#, format),
                Err(MalformedResponse::BadStatus)
            );
            assert_eq!(
                from_function(br#""just a string""#, format),
                Err(MalformedResponse::NotAnObject)
            );
        }
    }

    #[test]
    fn payload_2_0_takes_cookies_and_refuses_multi_value_headers() {
        for format in [EventFormat::HttpV2, EventFormat::FunctionUrl] {
            let payload =
                br#"{"statusCode":200,"headers":{"x-dup":"1, 2"},"cookies":["a=1","b=2"],"body":"hi","isBase64Encoded":false}"#;
            let response = from_function(payload, format).expect("valid");
            assert_eq!(
                response.headers,
                lines(&[("x-dup", "1, 2"), ("set-cookie", "a=1"), ("set-cookie", "b=2")])
            );
            assert_eq!(response.body, b"hi");
            // An empty cookies list is a valid answer with no Set-Cookie.
            let response =
                from_function(br#"{"statusCode":204,"headers":{},"cookies":[],"body":""}"#, format).expect("valid");
            assert_eq!((response.status, response.headers.len()), (204, 0));
            assert_eq!(
                from_function(
                    br#"{"statusCode":200,"multiValueHeaders":{"x":["1"]},"body":""}"#,
                    format
                ),
                unexpected("multiValueHeaders", format)
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"statusDescription":"200 OK","body":""}"#, format),
                unexpected("statusDescription", format)
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"cookies":"a=1"}"#, format),
                Err(MalformedResponse::BadField {
                    key: "cookies",
                    expected: "a list of strings"
                })
            );
        }
    }

    #[test]
    fn payload_2_0_without_status_code_is_the_body_of_a_200() {
        // "If your Lambda function returns valid JSON and doesn't return a statusCode, API
        // Gateway assumes ... statusCode 200, content-type application/json, body = the response"
        // (HTTP API payload 2.0 and Function URL docs).
        let json = lines(&[("content-type", "application/json")]);
        for format in [EventFormat::HttpV2, EventFormat::FunctionUrl] {
            let string = from_function(br#""Hello from Lambda!""#, format).expect("inferred");
            assert_eq!((string.status, &string.headers), (200, &json));
            assert_eq!(string.body, b"Hello from Lambda!");
            let object = from_function(br#"{"message":"hi","headers":{"x":"1"}}"#, format).expect("inferred");
            assert_eq!((object.status, &object.headers), (200, &json));
            assert_eq!(object.body, br#"{"message":"hi","headers":{"x":"1"}}"#);
            let number = from_function(b"42", format).expect("inferred");
            assert_eq!(number.body, b"42");
            // A statusCode that is there but wrong is not inferred away.
            assert_eq!(
                from_function(br#"{"statusCode":"200"}"#, format),
                Err(MalformedResponse::BadStatus)
            );
            assert!(matches!(
                from_function(b"not json", format),
                Err(MalformedResponse::NotJson(_))
            ));
        }
    }

    #[test]
    fn alb_takes_the_header_map_of_its_mode_only() {
        let single =
            br#"{"statusCode":200,"statusDescription":"200 OK","headers":{"a":"1"},"body":"","isBase64Encoded":false}"#;
        let multi = br#"{"statusCode":200,"statusDescription":"200 OK","multiValueHeaders":{"a":["1","2"]},"body":"","isBase64Encoded":false}"#;
        let response = from_function(single, EventFormat::Alb).expect("valid");
        assert_eq!(response.headers, lines(&[("a", "1")]));
        let response = from_function(multi, EventFormat::AlbMultiValue).expect("valid");
        assert_eq!(response.headers, lines(&[("a", "1"), ("a", "2")]));
        assert_eq!(
            from_function(multi, EventFormat::Alb),
            unexpected("multiValueHeaders", EventFormat::Alb)
        );
        assert_eq!(
            from_function(single, EventFormat::AlbMultiValue),
            unexpected("headers", EventFormat::AlbMultiValue)
        );
        for format in [EventFormat::Alb, EventFormat::AlbMultiValue] {
            assert_eq!(
                from_function(br#"{"statusCode":200,"cookies":["a=1"]}"#, format),
                unexpected("cookies", format)
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"statusDescription":null}"#, format),
                Err(MalformedResponse::BadField {
                    key: "statusDescription",
                    expected: "a string"
                })
            );
            assert_eq!(
                from_function(br#"{"statusDescription":"200 OK"}"#, format),
                Err(MalformedResponse::BadStatus)
            );
        }
    }

    #[test]
    fn every_front_door_checks_the_types_of_its_fields() {
        for format in ALL {
            assert!(matches!(
                from_function(b"not json", format),
                Err(MalformedResponse::NotJson(_))
            ));
            assert_eq!(
                from_function(br#"{"statusCode":600}"#, format),
                Err(MalformedResponse::BadStatus)
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"body":{"a":1}}"#, format),
                Err(MalformedResponse::BadField {
                    key: "body",
                    expected: "a string"
                })
            );
            assert_eq!(
                from_function(br#"{"statusCode":200,"body":"","isBase64Encoded":"true"}"#, format),
                Err(MalformedResponse::BadField {
                    key: "isBase64Encoded",
                    expected: "a boolean"
                })
            );
            assert!(matches!(
                from_function(br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#, format),
                Err(MalformedResponse::BadBase64(_))
            ));
            // Null optional fields are absent ones.
            let response =
                from_function(br#"{"statusCode":204,"body":null,"isBase64Encoded":null}"#, format).expect("valid");
            assert_eq!((response.status, response.body.len()), (204, 0));
            assert_eq!(
                from_function(br#"{"statusCode":200,"somethingElse":1}"#, format),
                unexpected("somethingElse", format)
            );
        }
        for format in [EventFormat::Rest, EventFormat::HttpV2, EventFormat::Alb] {
            assert_eq!(
                from_function(br#"{"statusCode":200,"headers":{"x":true}}"#, format),
                Err(MalformedResponse::BadHeader("x".into()))
            );
        }
    }

    #[test]
    fn a_stream_prelude_is_a_head_without_a_body() {
        let head = from_prelude(br#"{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}"#)
            .expect("valid");
        assert_eq!(head.status, 201);
        assert_eq!(
            head.headers,
            lines(&[("content-type", "text/plain"), ("set-cookie", "a=1")])
        );
        assert_eq!(
            from_prelude(br#"{"statusCode":200,"body":"x"}"#),
            Err(MalformedResponse::UnexpectedKey {
                key: "body".into(),
                front_door: "a response stream's prelude"
            })
        );
        assert_eq!(from_prelude(br#"{"headers":{}}"#), Err(MalformedResponse::BadStatus));
    }
}
