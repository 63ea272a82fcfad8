//! A real HTTP request -> the event AWS would send for it, per front door.
//!
//! The rules that matter are the ones AWS's live captures show (see PEERS.md 2.2-2.5): HTTP API
//! decodes the path and moves cookies into `cookies`; REST and HTTP API 1.0 decode query
//! parameters; ALB leaves them encoded and appends the peer to X-Forwarded-For; Function URLs
//! send both the Cookie header and `cookies`.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

/// The front door the emulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventFormat {
    /// HTTP API, payload format 2.0.
    HttpV2,
    /// HTTP API, payload format 1.0.
    HttpV1,
    /// API Gateway REST API.
    Rest,
    /// Application Load Balancer, single-value headers.
    Alb,
    /// Application Load Balancer, multi-value headers.
    AlbMultiValue,
    /// Lambda Function URL.
    FunctionUrl,
}

impl EventFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::HttpV2 => "http-v2",
            Self::HttpV1 => "http-v1",
            Self::Rest => "rest",
            Self::Alb => "alb",
            Self::AlbMultiValue => "alb-multi-value",
            Self::FunctionUrl => "function-url",
        }
    }

    /// The stage written into API Gateway events when none is given.
    pub fn default_stage(self) -> &'static str {
        if self == Self::Rest { "local" } else { "$default" }
    }
}

/// What the front door received.
pub struct HttpRequest<'a> {
    /// Method as sent.
    pub method: &'a str,
    /// Path as sent (percent-encoded).
    pub path: &'a str,
    /// Query string as sent, without `?`.
    pub query: &'a str,
    /// Header lines in order; names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: IpAddr,
    /// The front door's port (ALB's X-Forwarded-Port).
    pub port: u16,
}

/// Settings that shape every event.
pub struct EventSettings<'a> {
    /// Which front door.
    pub format: EventFormat,
    /// API Gateway stage.
    pub stage: &'a str,
    /// A unique id for `requestContext.requestId`.
    pub request_id: &'a str,
}

const ACCOUNT_ID: &str = "123456789012";
const FUNCTION_URL_DOMAIN: &str = "localfunctionurl0123456789.lambda-url.us-east-1.on.aws";
const ALB_TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-wsgi/0123456789abcdef";

/// Builds the event JSON for `request`.
pub fn build(request: &HttpRequest<'_>, settings: &EventSettings<'_>) -> Value {
    // Every front door appends the peer to X-Forwarded-For and says how the client came in. Ours
    // is plain HTTP on a local port: saying so keeps absolute URLs the app builds (url_for with
    // _external, redirects) pointing back here instead of at https://127.0.0.1.
    let proxied = HttpRequest {
        headers: forwarded_headers(request),
        ..*request
    };
    match settings.format {
        EventFormat::HttpV2 | EventFormat::FunctionUrl => payload_v2(&proxied, settings),
        EventFormat::HttpV1 | EventFormat::Rest => payload_v1(&proxied, settings),
        EventFormat::Alb | EventFormat::AlbMultiValue => alb(&proxied, settings.format == EventFormat::AlbMultiValue),
    }
}

/// The request's headers with X-Forwarded-For/-Proto/-Port set as the proxy in front sets them.
fn forwarded_headers(request: &HttpRequest<'_>) -> Vec<(String, String)> {
    let mut headers = request.headers.clone();
    let forwarded_for = match header(&headers, "x-forwarded-for") {
        Some(previous) => format!("{previous}, {}", request.peer),
        None => request.peer.to_string(),
    };
    headers.retain(|(name, _)| {
        !matches!(
            name.as_str(),
            "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-port"
        )
    });
    headers.push(("x-forwarded-for".to_owned(), forwarded_for));
    headers.push(("x-forwarded-proto".to_owned(), "http".to_owned()));
    headers.push(("x-forwarded-port".to_owned(), request.port.to_string()));
    headers
}

fn payload_v2(request: &HttpRequest<'_>, settings: &EventSettings<'_>) -> Value {
    let is_function_url = settings.format == EventFormat::FunctionUrl;
    let stage = if is_function_url { "$default" } else { settings.stage };
    let raw_path = if is_function_url {
        request.path.to_owned()
    } else {
        http_api_path(request.path, stage)
    };
    let cookies: Vec<String> = request
        .headers
        .iter()
        .filter(|(name, _)| name == "cookie")
        .flat_map(|(_, value)| {
            value
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        // HTTP API moves Cookie into `cookies`; Function URLs keep it in both places.
        if name == "cookie" && !is_function_url {
            continue;
        }
        insert_comma_joined(&mut headers, name, value);
    }
    let host = header(&request.headers, "host").unwrap_or("localhost").to_owned();
    // A Function URL's request context names its lambda-url domain (runtimes tell it from HTTP
    // API by that); the Host header stays the one the client used.
    let domain_name = if is_function_url {
        FUNCTION_URL_DOMAIN.to_owned()
    } else {
        host.clone()
    };
    let (time, epoch_ms) = now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": if is_function_url { "anonymous" } else { ACCOUNT_ID },
            "apiId": "local",
            "domainName": domain_name,
            "domainPrefix": domain_name.split('.').next().unwrap_or("local"),
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.peer.to_string(),
                "userAgent": header(&request.headers, "user-agent").unwrap_or_default(),
            },
            "requestId": settings.request_id,
            "routeKey": "$default",
            "stage": stage,
            "time": time,
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !request.query.is_empty() {
        // Decoded, repeated keys comma-joined, as AWS does.
        let mut params = Map::new();
        for (key, value) in form_urlencoded::parse(request.query.as_bytes()) {
            insert_comma_joined(&mut params, &key, &value);
        }
        event["queryStringParameters"] = Value::Object(params);
    }
    set_body(&mut event, request, false);
    event
}

fn payload_v1(request: &HttpRequest<'_>, settings: &EventSettings<'_>) -> Value {
    let is_rest = settings.format == EventFormat::Rest;
    let (single_headers, multi_headers) = header_maps(&request.headers);
    let (single_query, multi_query) =
        query_maps(form_urlencoded::parse(request.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let host = header(&request.headers, "host").unwrap_or("localhost").to_owned();
    let stage = settings.stage;
    // REST's `path` is encoded as sent and has no stage; HTTP API's is decoded (as its 2.0
    // rawPath is) and keeps a named stage.
    let path = if is_rest {
        request.path.to_owned()
    } else {
        http_api_path(request.path, stage)
    };
    let context_path = if is_rest {
        format!("/{stage}{}", request.path)
    } else {
        path.clone()
    };
    let (time, epoch_ms) = now();
    let mut event = json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": request.path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "httpMethod": request.method,
            "identity": {"sourceIp": request.peer.to_string(), "userAgent": header(&request.headers, "user-agent")},
            "path": context_path,
            "protocol": "HTTP/1.1",
            "requestId": settings.request_id,
            "requestTime": time,
            "requestTimeEpoch": epoch_ms,
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "isBase64Encoded": false,
    });
    if !is_rest {
        event["version"] = json!("1.0");
    }
    set_body(&mut event, request, true);
    event
}

fn alb(request: &HttpRequest<'_>, multi_value: bool) -> Value {
    let headers = &request.headers;
    // "If the query parameters are URL-encoded, the load balancer does not decode them."
    let raw_pairs = request
        .query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        });
    let (single_headers, multi_headers) = header_maps(headers);
    let (single_query, multi_query) = query_maps(raw_pairs);
    let mut event = json!({
        "requestContext": {"elb": {"targetGroupArn": ALB_TARGET_GROUP}},
        "httpMethod": request.method,
        "path": request.path,
        "isBase64Encoded": false,
    });
    if multi_value {
        event["multiValueHeaders"] = multi_headers;
        event["multiValueQueryStringParameters"] = if multi_query.is_null() { json!({}) } else { multi_query };
    } else {
        event["headers"] = single_headers;
        event["queryStringParameters"] = if single_query.is_null() {
            json!({})
        } else {
            single_query
        };
    }
    set_body(&mut event, request, false);
    if event.get("body").is_none() {
        event["body"] = json!("");
    }
    event
}

/// HTTP API hands the function the decoded path (live capture: `%20` arrives as a space), with
/// a named stage in front.
fn http_api_path(path: &str, stage: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    if stage == "$default" {
        decoded.into_owned()
    } else {
        format!("/{stage}{decoded}")
    }
}

/// Payload 2.0 maps hold one string per name: AWS comma-joins repeats (no space).
fn insert_comma_joined(map: &mut Map<String, Value>, name: &str, value: &str) {
    let joined = match map.get(name).and_then(Value::as_str) {
        Some(previous) => format!("{previous},{value}"),
        None => value.to_owned(),
    };
    map.insert(name.to_owned(), Value::String(joined));
}

/// `(headers, multiValueHeaders)`: the last value of each name, and all of them.
fn header_maps(headers: &[(String, String)]) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for (name, value) in headers {
        single.insert(name.clone(), json!(value));
        match multi.get_mut(name).and_then(Value::as_array_mut) {
            Some(values) => values.push(json!(value)),
            None => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// `(queryStringParameters, multiValueQueryStringParameters)`, both `null` without a query.
fn query_maps(pairs: impl Iterator<Item = (String, String)>) -> (Value, Value) {
    let (single, multi) = header_maps(&pairs.collect::<Vec<_>>());
    let is_empty = single.as_object().is_some_and(Map::is_empty);
    if is_empty {
        (Value::Null, Value::Null)
    } else {
        (single, multi)
    }
}

/// Text bodies go as strings, the rest base64, as API Gateway and ALB do for text types.
fn set_body(event: &mut Value, request: &HttpRequest<'_>, null_when_empty: bool) {
    if request.body.is_empty() {
        if null_when_empty {
            event["body"] = Value::Null;
        }
        return;
    }
    let content_type = header(&request.headers, "content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let text_like = content_type.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded"]
            .iter()
            .any(|t| content_type.contains(t));
    match std::str::from_utf8(request.body) {
        Ok(text) if text_like => event["body"] = json!(text),
        _ => {
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(request.body));
            event["isBase64Encoded"] = json!(true);
        }
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `(dd/Mon/yyyy:HH:MM:SS +0000, epoch ms)`, the shape API Gateway uses.
fn now() -> (String, u64) {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = elapsed.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = MONTHS[usize::try_from(month.saturating_sub(1)).unwrap_or(0).min(11)];
    let time = format!(
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    );
    (time, u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// Days since 1970-01-01 -> (year, month, day), Howard Hinnant's civil_from_days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn request<'a>(path: &'a str, query: &'a str, headers: &[(&str, &str)], body: &'a [u8]) -> HttpRequest<'a> {
        HttpRequest {
            method: "POST",
            path,
            query,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body,
            peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 8000,
        }
    }

    fn event(format: EventFormat, request: &HttpRequest<'_>) -> Value {
        build(
            request,
            &EventSettings {
                format,
                stage: format.default_stage(),
                request_id: "id",
            },
        )
    }

    const HEADERS: &[(&str, &str)] = &[
        ("host", "localhost:8000"),
        ("cookie", "a=1; b=2"),
        ("x-multi", "one"),
        ("x-multi", "two"),
    ];

    #[test]
    fn http_api_decodes_the_path_and_moves_cookies() {
        let e = event(
            EventFormat::HttpV2,
            &request("/caf%C3%A9/a%2Fb", "q=a%2Bb&q=2", HEADERS, b""),
        );
        assert_eq!(e["rawPath"], "/café/a/b");
        assert_eq!(e["rawQueryString"], "q=a%2Bb&q=2");
        assert_eq!(e["queryStringParameters"]["q"], "a+b,2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["headers"]["x-multi"], "one,two");
        assert_eq!(e["requestContext"]["http"]["sourceIp"], "192.0.2.1");
        assert!(e.get("body").is_none());
    }

    #[test]
    fn function_url_keeps_the_encoded_path_and_both_cookie_forms() {
        let e = event(EventFormat::FunctionUrl, &request("/a%20b", "", HEADERS, b""));
        assert_eq!(e["rawPath"], "/a%20b");
        assert_eq!(e["headers"]["cookie"], "a=1; b=2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert!(
            e["requestContext"]["domainName"]
                .as_str()
                .is_some_and(|d| d.contains(".lambda-url."))
        );
        assert_eq!(e["headers"]["host"], "localhost:8000");
    }

    #[test]
    fn named_stage_is_prepended_for_http_api() {
        let r = request("/x", "", HEADERS, b"");
        let e = build(
            &r,
            &EventSettings {
                format: EventFormat::HttpV2,
                stage: "dev",
                request_id: "id",
            },
        );
        assert_eq!(e["rawPath"], "/dev/x");
        let e = build(
            &r,
            &EventSettings {
                format: EventFormat::Rest,
                stage: "prod",
                request_id: "id",
            },
        );
        assert_eq!(
            (e["path"].clone(), e["requestContext"]["path"].clone()),
            (json!("/x"), json!("/prod/x"))
        );
    }

    #[test]
    fn rest_decodes_query_parameters_and_keeps_every_header_value() {
        let e = event(
            EventFormat::Rest,
            &request("/a%2Fb", "q=a%2Bb&q=x+y&flag", HEADERS, b"{}"),
        );
        assert_eq!(e["path"], "/a%2Fb");
        assert_eq!(e["multiValueQueryStringParameters"]["q"], json!(["a+b", "x y"]));
        assert_eq!(e["queryStringParameters"]["flag"], "");
        assert_eq!(e["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
        assert_eq!(e["headers"]["x-multi"], "two");
        assert!(e.get("version").is_none());
        assert_eq!(
            event(EventFormat::HttpV1, &request("/", "", HEADERS, b""))["version"],
            "1.0"
        );
    }

    #[test]
    fn every_front_door_says_the_client_came_in_over_plain_http() {
        let r = request("/p", "", &[("x-forwarded-proto", "https")], b"");
        for format in [
            EventFormat::HttpV2,
            EventFormat::FunctionUrl,
            EventFormat::HttpV1,
            EventFormat::Rest,
        ] {
            let e = event(format, &r);
            assert_eq!(e["headers"]["x-forwarded-proto"], "http", "{}", format.name());
            assert_eq!(e["headers"]["x-forwarded-for"], "192.0.2.1", "{}", format.name());
        }
    }

    #[test]
    fn alb_keeps_query_encoded_and_appends_the_peer() {
        let r = request("/p", "q=a%2Bb&q=2", &[("x-forwarded-for", "6.6.6.6")], b"");
        let e = event(EventFormat::Alb, &r);
        assert_eq!(e["queryStringParameters"]["q"], "2");
        assert_eq!(e["headers"]["x-forwarded-for"], "6.6.6.6, 192.0.2.1");
        assert_eq!(e["headers"]["x-forwarded-port"], "8000");
        assert!(e.get("multiValueHeaders").is_none());
        let e = event(EventFormat::AlbMultiValue, &r);
        assert_eq!(e["multiValueQueryStringParameters"]["q"], json!(["a%2Bb", "2"]));
        assert!(e.get("headers").is_none());
        assert_eq!(e["body"], "");
    }

    #[test]
    fn binary_bodies_are_base64() {
        let e = event(
            EventFormat::HttpV2,
            &request("/", "", &[("content-type", "image/png")], &[0, 255]),
        );
        assert_eq!(
            (e["body"].clone(), e["isBase64Encoded"].clone()),
            (json!("AP8="), json!(true))
        );
        let e = event(
            EventFormat::HttpV2,
            &request("/", "", &[("content-type", "application/json")], b"{}"),
        );
        assert_eq!(
            (e["body"].clone(), e["isBase64Encoded"].clone()),
            (json!("{}"), json!(false))
        );
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
    }
}
