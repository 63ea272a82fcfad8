//! API Gateway REST (payload 1.0) and HTTP API payload 1.0 -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html>
//! and <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>.

use serde::Deserialize;

use super::Source;
use super::de::{Pairs, Values, nullable};
use crate::request::{self, EventPath, Request, Stage};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApiGatewayV1Event {
    http_method: String,
    #[serde(default, deserialize_with = "nullable")]
    path: String,
    // Console tests send null for every optional map (apig-wsgi issue #289).
    #[serde(default)]
    headers: Pairs<String>,
    #[serde(default)]
    multi_value_headers: Pairs<Values>,
    #[serde(default)]
    query_string_parameters: Pairs<String>,
    #[serde(default)]
    multi_value_query_string_parameters: Pairs<Values>,
    #[serde(default, deserialize_with = "nullable")]
    request_context: Context,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    is_base64_encoded: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context {
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    identity: Identity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    #[serde(default)]
    source_ip: Option<String>,
}

pub(super) fn to_request(event: ApiGatewayV1Event, source: Source) -> Result<Request, String> {
    // REST sends both maps; `headers` keeps only the last value of a repeated name, so the
    // multi-value map wins whenever it is there (lambda_http loses values here, PEERS.md 2.5).
    let headers = if event.multi_value_headers.is_empty() {
        event.headers.0
    } else {
        flatten(event.multi_value_headers)
    };
    // Parameters arrive decoded (`a%2Bb` -> `a+b`): re-encode them, in the event's order.
    let query_string = if event.multi_value_query_string_parameters.is_empty() {
        request::encode_query(
            event
                .query_string_parameters
                .0
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    } else {
        request::encode_query(
            event
                .multi_value_query_string_parameters
                .0
                .iter()
                .flat_map(|(k, vs)| vs.0.iter().map(move |v| (k.as_str(), v.as_str()))),
        )
    };
    let context = event.request_context;
    let host = headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .or(context.domain_name.as_deref());
    let on_execute_api = request::is_execute_api_host(host);
    let named_stage = context.stage.filter(|s| !s.is_empty() && s != "$default");
    let (path, stage) = if source == Source::RestV1 {
        // REST: `path` excludes the stage even though the client's URL has it.
        let stage = match named_stage {
            Some(stage) if on_execute_api => Stage::BeforePath(stage),
            _ => Stage::Absent,
        };
        (EventPath::Encoded(event.path), stage)
    } else {
        // HTTP API decodes the path before routing (payload 2.0's rawPath shows it) and, for a
        // named stage, keeps the stage in it.
        let stage = match named_stage {
            Some(stage) if on_execute_api => Stage::InPath(stage),
            _ => Stage::Absent,
        };
        (EventPath::Decoded(event.path), stage)
    };
    Ok(Request {
        method: event.http_method,
        path,
        stage,
        query_string,
        body: request::decode_body(event.body.as_deref(), event.is_base64_encoded)?,
        headers,
        cookies: None,
        source_ip: context.identity.source_ip,
        protocol: context.protocol,
        domain_name: context.domain_name,
        default_scheme: "https",
    })
}

/// `{name: [v1, v2]}` -> `[(name, v1), (name, v2)]`, in order.
pub(super) fn flatten(map: Pairs<Values>) -> Vec<(String, String)> {
    let mut lines = Vec::with_capacity(map.0.len());
    for (name, values) in map.0 {
        for value in values.0 {
            lines.push((name.clone(), value));
        }
    }
    lines
}
