//! API Gateway REST (payload 1.0) and HTTP API payload 1.0 -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html>
//! and <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>.

use serde::Deserialize;

use super::de::{Pairs, Values, nullable, prefer_multi};
use super::{Source, identity};
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
    identity: identity::RestIdentity,
    // Read loosely (any shape): its keys are the authorizer's own, and an odd one means
    // "no REMOTE_USER", not a refused request.
    #[serde(default)]
    authorizer: Option<serde_json::Value>,
}

pub(super) fn to_request(event: ApiGatewayV1Event, source: Source) -> Result<Request, String> {
    let headers = prefer_multi(event.headers, event.multi_value_headers);
    // Parameters arrive decoded (`a%2Bb` -> `a+b`): re-encode them, in the event's order.
    let parameters = prefer_multi(event.query_string_parameters, event.multi_value_query_string_parameters);
    let context = event.request_context;
    // REST's `path` is encoded and lacks the stage; HTTP API decodes the path before routing
    // (payload 2.0's rawPath shows it) and keeps a named stage in it.
    let is_rest = source == Source::RestV1;
    let path = if is_rest {
        EventPath::Encoded(event.path)
    } else {
        EventPath::Decoded(event.path)
    };
    let mut request = Request {
        method: event.http_method,
        path,
        stage: Stage::Absent,
        query_string: request::encode_query(&parameters),
        body: request::decode_body(event.body, event.is_base64_encoded)?.into(),
        headers,
        cookies: None,
        source_ip: context.identity.source_ip.clone(),
        protocol: context.protocol,
        domain_name: context.domain_name,
        default_scheme: "https",
        remote_user: identity::from_authorizer(context.authorizer.as_ref())
            .or_else(|| identity::from_rest_identity(&context.identity)),
    };
    request.stage = request::url_stage(context.stage, request.host(), !is_rest);
    Ok(request)
}
