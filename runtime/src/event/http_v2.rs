//! HTTP API payload 2.0 and Function URL -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>
//! and <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>. The two share a shape
//! but not a path encoding: HTTP API decodes `rawPath` (live capture: `/capture/space%20value`
//! arrives as `/capture/space value`), Function URLs pass it as the client sent it.

use serde::Deserialize;

use super::de::{Pairs, nullable};
use super::{Source, identity};
use crate::request::{self, EventPath, Request, Stage};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HttpV2Event {
    /// `None` when absent or null (then the event is not HTTP API 2.0: see `detect`).
    #[serde(default)]
    raw_path: Option<String>,
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
    /// An ALB marker (`detect` checks it first); read only by [`parse_if_detected`].
    #[serde(default)]
    elb: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    domain_prefix: Option<String>,
    #[serde(default)]
    api_id: Option<String>,
    #[serde(default)]
    authorizer: Option<serde_json::Value>,
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

/// cargo-lambda's HTTP front door (`cargo lambda watch`, `http://localhost:9000/lambda-url/<fn>/`):
/// it emulates a Function URL and, as one, passes the path as the client sent it (encoded), but
/// names no lambda-url domain. Captured from cargo-lambda 1.9.2 (fixture
/// `function-url/cargo-lambda-watch.json`) and read from its source (trigger_router.rs):
/// `domainName` is `localhost`, `apiId` is null, `domainPrefix` is the function's name. Every
/// API Gateway event names its API (so do SAM local's and our emulator's), so an HTTP API event
/// is never taken for it.
pub(super) fn is_cargo_lambda(domain_name: Option<&str>, has_api_id: bool) -> bool {
    domain_name == Some("localhost") && !has_api_id
}

/// The event parsed as HTTP API 2.0 in one pass, and its source, when `detect` would say
/// HttpV2 or FunctionUrl: the parse succeeded (so `requestContext.http` is there, not null),
/// `rawPath` is there and not null, and `requestContext.elb` (checked before them) is absent or
/// null. Anything else (`None`) goes the general way: `detect`, then the detected source's
/// parse, with its path-aware error. Events without the text `"rawPath"` are not even tried.
pub(super) fn parse_if_detected(event: &str) -> Option<(Source, HttpV2Event)> {
    if !event.contains("\"rawPath\"") {
        return None;
    }
    let typed: HttpV2Event = serde_json::from_str(event).ok()?;
    let context = &typed.request_context;
    if context.elb.is_some() || typed.raw_path.is_none() {
        return None;
    }
    let domain_name = context.domain_name.as_deref();
    let is_function_url = domain_name.is_some_and(|d| d.contains(".lambda-url."))
        || is_cargo_lambda(domain_name, context.api_id.is_some());
    Some((
        if is_function_url {
            Source::FunctionUrl
        } else {
            Source::HttpV2
        },
        typed,
    ))
}

pub(super) fn to_request(event: HttpV2Event, source: Source) -> Result<Request, String> {
    let context = event.request_context;
    let is_cargo_lambda =
        source == Source::FunctionUrl && is_cargo_lambda(context.domain_name.as_deref(), context.api_id.is_some());
    let is_function_url = source == Source::FunctionUrl;
    let raw_path = event.raw_path.unwrap_or_default();
    let path = if is_function_url {
        EventPath::Encoded(raw_path)
    } else {
        EventPath::Decoded(raw_path)
    };
    let mut request = Request {
        method: context.http.method,
        path,
        stage: Stage::Absent,
        // Verbatim: rebuilding it from queryStringParameters would corrupt values that contain
        // commas, since AWS comma-joins repeated keys there.
        query_string: event.raw_query_string,
        body: request::decode_body(event.body, event.is_base64_encoded)?.into(),
        headers: event.headers.0,
        cookies: event.cookies,
        source_ip: context.http.source_ip,
        protocol: context.http.protocol,
        domain_name: context.domain_name,
        // cargo-lambda serves plain HTTP and sends no X-Forwarded-Proto.
        default_scheme: if is_cargo_lambda { "http" } else { "https" },
        remote_user: identity::from_authorizer(context.authorizer.as_ref()),
    };
    // A named stage is part of rawPath on the execute-api host (Function URLs have none).
    if !is_function_url {
        request.stage = request::url_stage(context.stage, request.host(), true);
    }
    if is_cargo_lambda {
        request.stage = cargo_lambda_prefix(context.domain_prefix.as_deref());
    }
    Ok(request)
}

/// cargo-lambda routes `/lambda-url/<function>/<path>` to `<function>` and strips the prefix
/// before the event is made; `domainPrefix` is that function's name. Putting the prefix back in
/// SCRIPT_NAME makes `url_for(..., _external=True)` and redirects point where the browser is.
/// `_` is cargo-lambda's default function, served from `/` (no prefix) as well, which is the URL
/// we document, so it gets none.
fn cargo_lambda_prefix(domain_prefix: Option<&str>) -> Stage {
    match domain_prefix {
        Some(name)
            if !name.is_empty()
                && name != "_"
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Stage::BeforePath(format!("lambda-url/{name}"))
        }
        _ => Stage::Absent,
    }
}
