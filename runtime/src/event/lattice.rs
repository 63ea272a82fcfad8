//! VPC Lattice v1 and v2 -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/vpc-lattice/latest/ug/lambda-functions.html>. v1 is
//! snake_case with string header values; v2 is camelCase and its header and query values are
//! documented as lists by AWS's Java types but as strings by Powertools' schemas, so both are
//! accepted. No live capture of encoded paths exists yet: the path is treated as encoded (it is
//! the request target, like ALB's) and query values as decoded, like API Gateway's.

use serde::Deserialize;

use super::alb::rightmost_forwarded_for;
use super::de::{Pairs, nullable};
use super::identity;
use crate::request::{self, EventPath, Request, Stage};

#[derive(Debug, Deserialize)]
pub(super) struct LatticeV1Event {
    method: String,
    #[serde(default, deserialize_with = "nullable")]
    raw_path: String,
    #[serde(default)]
    headers: Pairs<String>,
    #[serde(default)]
    query_string_parameters: Pairs<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    is_base64_encoded: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LatticeV2Event {
    method: String,
    #[serde(default, deserialize_with = "nullable")]
    path: String,
    #[serde(default)]
    headers: Pairs<OneOrMany>,
    // Powertools' sample spells it snake_case, as v1 does.
    #[serde(default, alias = "query_string_parameters")]
    query_string_parameters: Pairs<OneOrMany>,
    #[serde(default)]
    body: Option<String>,
    // Only `identity.principal` is read (IAM auth policies); read loosely.
    #[serde(default)]
    request_context: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    is_base64_encoded: bool,
}

/// A value that is either one string or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

pub(super) fn v1_to_request(event: LatticeV1Event) -> Result<Request, String> {
    let query_string = request::encode_query(&event.query_string_parameters.0);
    let (path, query_string) = split_query(event.raw_path, query_string);
    build(
        event.method,
        path,
        query_string,
        event.headers.0,
        event.body,
        event.is_base64_encoded,
        None,
    )
}

pub(super) fn v2_to_request(event: LatticeV2Event) -> Result<Request, String> {
    let query_string = request::encode_query(&flatten(event.query_string_parameters));
    let (path, query_string) = split_query(event.path, query_string);
    let headers = flatten(event.headers);
    let remote_user = identity::from_lattice_identity(
        event
            .request_context
            .as_ref()
            .and_then(|context| context.get("identity")),
    );
    build(
        event.method,
        path,
        query_string,
        headers,
        event.body,
        event.is_base64_encoded,
        remote_user,
    )
}

/// `{name: value | [values]}` -> `[(name, value), ...]`, in order.
fn flatten(map: Pairs<OneOrMany>) -> Vec<(String, String)> {
    let mut lines = Vec::with_capacity(map.0.len());
    for (name, values) in map.0 {
        match values {
            OneOrMany::One(value) => lines.push((name, value)),
            OneOrMany::Many(values) => lines.extend(values.into_iter().map(|value| (name.clone(), value))),
        }
    }
    lines
}

/// Defensive: should a path still carry `?query`, it is split off; the parameters map wins
/// when both are there.
fn split_query(path: String, from_parameters: String) -> (String, String) {
    match path.split_once('?') {
        Some((path, query)) if from_parameters.is_empty() => (path.to_owned(), query.to_owned()),
        Some((path, _)) => (path.to_owned(), from_parameters),
        None => (path, from_parameters),
    }
}

fn build(
    method: String,
    path: String,
    query_string: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    is_base64: bool,
    remote_user: Option<String>,
) -> Result<Request, String> {
    let source_ip = rightmost_forwarded_for(&headers);
    Ok(Request {
        method,
        path: EventPath::Encoded(path),
        stage: Stage::Absent,
        query_string,
        body: request::decode_body(body, is_base64)?.into(),
        headers,
        cookies: None,
        source_ip,
        protocol: None,
        domain_name: None,
        default_scheme: "https",
        remote_user,
    })
}
