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
    let is_function_url = source == Source::FunctionUrl;
    let path = if is_function_url {
        EventPath::Encoded(event.raw_path)
    } else {
        EventPath::Decoded(event.raw_path)
    };
    let mut request = Request {
        method: context.http.method,
        path,
        stage: Stage::Absent,
        // Verbatim: rebuilding it from queryStringParameters would corrupt values that contain
        // commas, since AWS comma-joins repeated keys there.
        query_string: event.raw_query_string,
        body: request::decode_body(event.body.as_deref(), event.is_base64_encoded)?,
        headers: event.headers.0,
        cookies: event.cookies,
        source_ip: context.http.source_ip,
        protocol: context.http.protocol,
        domain_name: context.domain_name,
        default_scheme: "https",
    };
    // A named stage is part of rawPath on the execute-api host (Function URLs have none).
    if !is_function_url {
        request.stage = request::url_stage(context.stage, request.host(), true);
    }
    Ok(request)
}
