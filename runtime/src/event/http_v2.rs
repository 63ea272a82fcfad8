//! HTTP API payload 2.0 and Function URL -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>
//! and <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>. The two share a shape
//! but not a path encoding: HTTP API decodes `rawPath` (live capture: `/capture/space%20value`
//! arrives as `/capture/space value`), Function URLs pass it as the client sent it.

use serde::Deserialize;

use super::Source;
use super::de::{Pairs, nullable};
use crate::request::{self, EventPath, Request, Stage};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HttpV2Event {
    #[serde(default, deserialize_with = "nullable")]
    raw_path: String,
    #[serde(default, deserialize_with = "nullable")]
    raw_query_string: String,
    #[serde(default)]
    cookies: Option<Vec<String>>,
    #[serde(default)]
    headers: Pairs<String>,
    request_context: Context,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    is_base64_encoded: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context {
    http: Http,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Http {
    method: String,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
}

pub(super) fn to_request(event: HttpV2Event, source: Source) -> Result<Request, String> {
    let context = event.request_context;
    let headers = event.headers.0;
    let path = if source == Source::FunctionUrl {
        EventPath::Encoded(event.raw_path)
    } else {
        EventPath::Decoded(event.raw_path)
    };
    let host = headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .or(context.domain_name.as_deref());
    // A named stage is part of rawPath on the execute-api host; `$default` never is, and custom
    // domains map a base path instead (set WSGI_BASE_PATH).
    let stage = match context.stage {
        Some(stage) if !stage.is_empty() && stage != "$default" && request::is_execute_api_host(host) => {
            Stage::InPath(stage)
        }
        _ => Stage::Absent,
    };
    Ok(Request {
        method: context.http.method,
        path,
        stage,
        // Verbatim: rebuilding it from queryStringParameters would corrupt values that contain
        // commas, since AWS comma-joins repeated keys there.
        query_string: event.raw_query_string,
        body: request::decode_body(event.body.as_deref(), event.is_base64_encoded)?,
        headers,
        cookies: event.cookies,
        source_ip: context.http.source_ip,
        protocol: context.http.protocol,
        domain_name: context.domain_name,
        default_scheme: "https",
    })
}
