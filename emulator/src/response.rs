//! The function's response JSON -> a real HTTP response, as strict as API Gateway: anything it
//! would reject ("Malformed Lambda proxy response") becomes a 502 with the reason logged.

use base64::Engine as _;
use serde_json::Value;

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
    /// Not JSON, or not an object.
    #[error("the function response is not a JSON object: {0}")]
    NotAnObject(String),
    /// Missing or non-integer statusCode.
    #[error("statusCode is missing or not an integer between 100 and 599")]
    BadStatus,
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

/// Parses the function's response.
pub fn from_function(payload: &[u8]) -> Result<HttpResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| MalformedResponse::NotAnObject(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(MalformedResponse::NotAnObject(
            "a JSON value that is not an object".to_owned(),
        ));
    };
    let status = object
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or(MalformedResponse::BadStatus)?;
    let mut headers = Vec::new();
    if let Some(Value::Object(map)) = object.get("headers") {
        for (name, value) in map {
            headers.push((name.clone(), header_value(name, value)?));
        }
    }
    if let Some(Value::Object(map)) = object.get("multiValueHeaders") {
        for (name, values) in map {
            // A name in both maps: the multi-value list wins, as in API Gateway.
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            for value in values.as_array().into_iter().flatten() {
                headers.push((name.clone(), header_value(name, value)?));
            }
        }
    }
    if let Some(Value::Array(cookies)) = object.get("cookies") {
        for cookie in cookies {
            headers.push(("set-cookie".to_owned(), header_value("set-cookie", cookie)?));
        }
    }
    // The proxy frames the body itself.
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding"));
    let body = object.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if object.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| MalformedResponse::BadBase64(e.to_string()))?
    } else {
        body.as_bytes().to_vec()
    };
    Ok(HttpResponse { status, headers, body })
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

    #[test]
    fn expands_multi_value_headers_and_cookies_and_decodes_base64() {
        let payload =
            br#"{"statusCode":201,"headers":{"x-a":"1","X-Dup":"lost"},"multiValueHeaders":{"x-dup":["1","2"]},
            "cookies":["a=1","b=2"],"body":"AP8=","isBase64Encoded":true}"#;
        let response = from_function(payload).expect("valid");
        assert_eq!(response.status, 201);
        assert_eq!(
            response.headers,
            [
                ("x-a", "1"),
                ("x-dup", "1"),
                ("x-dup", "2"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2")
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(response.body, [0, 255]);
    }

    #[test]
    fn rejects_what_api_gateway_rejects() {
        assert!(matches!(
            from_function(b"not json"),
            Err(MalformedResponse::NotAnObject(_))
        ));
        assert!(matches!(from_function(b"[1]"), Err(MalformedResponse::NotAnObject(_))));
        assert_eq!(from_function(br#"{"body":"x"}"#), Err(MalformedResponse::BadStatus));
        assert_eq!(
            from_function(br#"{"statusCode":"200"}"#),
            Err(MalformedResponse::BadStatus)
        );
        assert_eq!(
            from_function(br#"{"statusCode":200,"headers":{"x":true}}"#),
            Err(MalformedResponse::BadHeader("x".into()))
        );
        assert!(matches!(
            from_function(br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#),
            Err(MalformedResponse::BadBase64(_))
        ));
    }
}
