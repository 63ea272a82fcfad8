//! A second, independent reading of every event fixture: `aws_lambda_events`, the event types of
//! AWS's own Rust runtime, deserializes each one, and our normalized `Request` must agree with
//! it on the method, the path, the query parameters, the headers, the cookies, the body (after
//! base64), the source IP, the stage, the protocol and the domain name. The goldens were
//! written from our own output once; this test does not depend on them.
//!
//! Where `aws_lambda_events` is known to read an event differently from AWS's documents, the
//! comparison steps around it, and each exception is named here (and in the README, "Tests"):
//!
//! 1. **`null` query maps on ALB and Lattice v1.** The crate's ALB and Lattice v1 types read
//!    `queryStringParameters`/`multiValueQueryStringParameters` (`query_string_parameters`) with
//!    a plain map deserializer, so a `null` there makes the whole event fail (PEERS.md 2.16: the
//!    live ALB multi-value capture has `"queryStringParameters": null`). For those events the
//!    comparison is made on a copy with the `null` query keys removed (what the crate would read
//!    if it accepted null as "absent").
//! 2. **Lattice v1 header values are split at commas** by the crate (it takes `"a, b"` for two
//!    values); we keep the value as AWS sent it. Headers are compared with each side's values
//!    split at commas and trimmed, for Lattice v1 only.
//! 3. **The crate has no client address for ALB and Lattice** (there is no `sourceIp` in those
//!    events): our REMOTE_ADDR source there is derived (the right-most X-Forwarded-For entry),
//!    so it is not compared; the goldens and `hostile.rs` cover it.
//! 4. **Which map holds the headers and query parameters of a 1.0-shaped event** (REST, HTTP API
//!    1.0, ALB) is not the crate's business: it reads both maps and leaves the choice to the
//!    caller (lambda_http then lets `headers` overwrite `multiValueHeaders`, PEERS.md 2.5). The
//!    crate's multi-value map is taken when it is non-empty, else its single-value map, which is
//!    what AWS's documents say the maps mean (the single-value map keeps only the last value).
//!
//! 5. **`null` inside an authorizer** (payload 2.0): the crate requires a list for
//!    `requestContext.authorizer.iam.cognitoIdentity.amr` and rejects the `null` of the live
//!    HTTP API capture (which may be an artefact of the capture's logger, PEERS.md 2.16). We never
//!    read the authorizer (it reaches the app only inside `lambda.event`), so the crate gets the
//!    event without `requestContext.authorizer`.
//! 6. **Lattice v2 `query_string_parameters`** (Powertools' sample spells the key as v1 does):
//!    the crate reads only `queryStringParameters`, so the key is renamed for it.
//!
//! 7. **cargo-lambda's Function URL emulator** strips `/lambda-url/<function>` from the path before
//!    the function sees it, and sends no stage; we put that prefix back as the path's stage (it
//!    is part of the client's URL, so `SCRIPT_NAME` and the app's links keep it). The crate has
//!    no stage there, so a `lambda-url/...` stage is not compared on an event without one.
//!
//! Events our parser refuses must be refused by the crate too (a missing or mistyped method),
//! except bodies that are not base64, which the crate does not look at: for those the crate's
//! body must fail to decode as well. Non-HTTP events (`unsupported/`) have no type to compare.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::query_map::QueryMap;
use aws_lambda_events::vpc_lattice::{VpcLatticeRequestV1, VpcLatticeRequestV2};
use base64::Engine as _;
use lambda_wsgi::error::EventError;
use lambda_wsgi::event;
use lambda_wsgi::request::{EventPath, Request, Stage};
use lambda_wsgi::source::Source;
use serde_json::Value;

/// Values per parameter name, in the event's order within a name.
type Params = BTreeMap<String, Vec<String>>;

/// How the event carries its query.
#[derive(Debug, PartialEq, Eq)]
enum Query {
    /// `rawQueryString`, verbatim (payload 2.0, Function URL).
    Raw(String),
    /// Parameters decoded by AWS (REST, HTTP API 1.0, Lattice).
    Decoded(Params),
    /// Parameters still encoded as the client sent them (ALB).
    Encoded(Params),
}

/// What `aws_lambda_events` read, in the terms of our `Request`.
#[derive(Debug)]
struct Reading {
    method: String,
    path: Option<String>,
    query: Query,
    /// Lowercased name -> values in order.
    headers: Params,
    cookies: Option<Vec<String>>,
    /// The body after base64, or why it would not decode.
    body: Result<Vec<u8>, String>,
    /// `None` where the event type has no such field (see exception 3).
    source_ip: Option<Option<String>>,
    stage: Option<String>,
    protocol: Option<String>,
    domain_name: Option<String>,
}

fn check_fixture(path: &Path, event: String) -> datatest_stable::Result<()> {
    if path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "unsupported")
    {
        return Ok(());
    }
    let ours = event::parse(&event);
    let source = match &ours {
        Ok((source, _)) => *source,
        Err(_) => event::detect(&event).map_err(|e| format!("{}: not an HTTP event: {e}", path.display()))?,
    };
    let theirs = read(source, adjusted(source, &event)?);
    match (ours, theirs) {
        (Ok((_, request)), Ok(reading)) => {
            let differences = compare(source, &request, &reading);
            if differences.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} ({}): our Request and aws_lambda_events disagree:\n  {}",
                    path.display(),
                    source.name(),
                    differences.join("\n  ")
                )
                .into())
            }
        }
        (Err(EventError::BadBody { .. }), Ok(reading)) if reading.body.is_err() => Ok(()),
        (Err(EventError::Malformed { .. }), Err(_)) => Ok(()),
        (Err(ours), Ok(_)) => {
            Err(format!("{}: we refuse it ({ours}), aws_lambda_events reads it", path.display()).into())
        }
        (Ok(_), Err(theirs)) => Err(format!(
            "{}: we read it, aws_lambda_events refuses it ({theirs}); if the crate is wrong, add the \
             case to the exceptions at the top of this file",
            path.display()
        )
        .into()),
        (Err(ours), Err(theirs)) => Err(format!(
            "{}: both refuse it, for different reasons: ours {ours}; aws_lambda_events {theirs}",
            path.display()
        )
        .into()),
    }
}

/// The event as the crate gets it: exceptions 1, 5 and 6 applied, nothing else touched.
fn adjusted(source: Source, event: &str) -> Result<Value, String> {
    let mut value: Value = serde_json::from_str(event).map_err(|e| e.to_string())?;
    let Some(object) = value.as_object_mut() else {
        return Ok(value);
    };
    match source {
        Source::Alb { .. } | Source::LatticeV1 => {
            let query_keys = [
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "query_string_parameters",
            ];
            object.retain(|key, v| !(v.is_null() && query_keys.contains(&key.as_str())));
        }
        Source::HttpV2 | Source::FunctionUrl => {
            if let Some(Value::Object(context)) = object.get_mut("requestContext") {
                context.remove("authorizer");
            }
        }
        Source::LatticeV2 => {
            if !object.contains_key("queryStringParameters") {
                if let Some(query) = object.remove("query_string_parameters") {
                    object.insert("queryStringParameters".to_owned(), query);
                }
            }
        }
        Source::RestV1 | Source::HttpV1 => {}
    }
    Ok(value)
}

/// Deserializes `event` with the crate's type for `source`.
fn read(source: Source, event: Value) -> Result<Reading, String> {
    let text = |e: serde_json::Error| e.to_string();
    Ok(match source {
        Source::RestV1 | Source::HttpV1 => {
            let e: ApiGatewayProxyRequest = serde_json::from_value(event).map_err(text)?;
            let context = &e.request_context;
            Reading {
                method: e.http_method.to_string(),
                path: e.path.clone(),
                query: Query::Decoded(multi_else_single(
                    query_map(&e.multi_value_query_string_parameters),
                    query_map(&e.query_string_parameters),
                )),
                headers: multi_else_single(header_map(&e.multi_value_headers), header_map(&e.headers)),
                cookies: None,
                body: decode(e.body.as_deref(), e.is_base64_encoded),
                source_ip: Some(context.identity.source_ip.clone()),
                stage: context.stage.clone(),
                protocol: context.protocol.clone(),
                domain_name: context.domain_name.clone(),
            }
        }
        Source::HttpV2 => {
            let e: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(text)?;
            let context = &e.request_context;
            Reading {
                method: context.http.method.to_string(),
                path: e.raw_path.clone(),
                query: Query::Raw(e.raw_query_string.clone().unwrap_or_default()),
                headers: header_map(&e.headers),
                cookies: e.cookies.clone(),
                body: decode(e.body.as_deref(), e.is_base64_encoded),
                source_ip: Some(context.http.source_ip.clone()),
                stage: context.stage.clone(),
                protocol: context.http.protocol.clone(),
                domain_name: context.domain_name.clone(),
            }
        }
        Source::FunctionUrl => {
            let e: LambdaFunctionUrlRequest = serde_json::from_value(event).map_err(text)?;
            let context = &e.request_context;
            Reading {
                method: context.http.method.clone().unwrap_or_default(),
                path: e.raw_path.clone(),
                query: Query::Raw(e.raw_query_string.clone().unwrap_or_default()),
                headers: header_map(&e.headers),
                cookies: e.cookies.clone(),
                body: decode(e.body.as_deref(), e.is_base64_encoded),
                source_ip: Some(context.http.source_ip.clone()),
                stage: None,
                protocol: context.http.protocol.clone(),
                domain_name: context.domain_name.clone(),
            }
        }
        Source::Alb { .. } => {
            let e: AlbTargetGroupRequest = serde_json::from_value(event).map_err(text)?;
            Reading {
                method: e.http_method.to_string(),
                path: e.path.clone(),
                query: Query::Encoded(multi_else_single(
                    query_map(&e.multi_value_query_string_parameters),
                    query_map(&e.query_string_parameters),
                )),
                headers: multi_else_single(header_map(&e.multi_value_headers), header_map(&e.headers)),
                cookies: None,
                body: decode(e.body.as_deref(), e.is_base64_encoded),
                source_ip: None,
                stage: None,
                protocol: None,
                domain_name: None,
            }
        }
        Source::LatticeV1 => {
            let e: VpcLatticeRequestV1 = serde_json::from_value(event).map_err(text)?;
            let body = e.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
            Reading {
                method: e.method.as_ref().map(ToString::to_string).unwrap_or_default(),
                path: e.raw_path.clone(),
                query: Query::Decoded(query_map(&e.query_string_parameters)),
                headers: header_map(&e.headers),
                cookies: None,
                body: decode(body.as_deref(), e.is_base64_encoded),
                source_ip: None,
                stage: None,
                protocol: None,
                domain_name: None,
            }
        }
        Source::LatticeV2 => {
            let e: VpcLatticeRequestV2 = serde_json::from_value(event).map_err(text)?;
            Reading {
                method: e.method.as_ref().map(ToString::to_string).unwrap_or_default(),
                path: e.path.clone(),
                query: Query::Decoded(query_map(&e.query_string_parameters)),
                headers: header_map(&e.headers),
                cookies: None,
                body: decode(e.body.as_deref(), e.is_base64_encoded),
                source_ip: None,
                stage: None,
                protocol: None,
                domain_name: None,
            }
        }
    })
}

/// Every difference between our `Request` and the crate's reading, as lines.
fn compare(source: Source, ours: &Request, theirs: &Reading) -> Vec<String> {
    let mut differences = Vec::new();
    let mut expect = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            differences.push(format!("{what}: ours {ours}, aws_lambda_events {theirs}"));
        }
    };
    expect("method", ours.method.clone(), theirs.method.clone());
    let path = match &ours.path {
        EventPath::Encoded(path) | EventPath::Decoded(path) => path.clone(),
    };
    expect("path", path, theirs.path.clone().unwrap_or_default());
    let our_query = match &theirs.query {
        Query::Raw(_) => Query::Raw(ours.query_string.clone()),
        Query::Decoded(_) => Query::Decoded(decoded_params(&ours.query_string)),
        Query::Encoded(_) => Query::Encoded(raw_params(&ours.query_string)),
    };
    expect("query", format!("{our_query:?}"), format!("{:?}", theirs.query));
    let mut our_headers = Params::new();
    for (name, value) in &ours.headers {
        our_headers
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.clone());
    }
    let (our_headers, their_headers) = if source == Source::LatticeV1 {
        // Exception 2: the crate splits Lattice v1 header values at commas.
        (split_at_commas(&our_headers), split_at_commas(&theirs.headers))
    } else {
        (our_headers, theirs.headers.clone())
    };
    expect("headers", format!("{our_headers:?}"), format!("{their_headers:?}"));
    expect(
        "cookies",
        format!("{:?}", ours.cookies),
        format!("{:?}", theirs.cookies),
    );
    expect(
        "body",
        format!("{:?}", Ok::<_, String>(ours.body.to_vec())),
        format!("{:?}", theirs.body.as_ref()),
    );
    if let Some(source_ip) = &theirs.source_ip {
        expect("source IP", format!("{:?}", ours.source_ip), format!("{source_ip:?}"));
    }
    // The stage is ours only where it is part of the client's URL; then it must be the event's.
    let our_stage = match &ours.stage {
        Stage::Absent => None,
        Stage::BeforePath(stage) | Stage::InPath(stage) => Some(stage),
    };
    let cargo_lambda_prefix = theirs.stage.is_none() && our_stage.is_some_and(|stage| stage.starts_with("lambda-url/"));
    if let Some(stage) = our_stage
        && !cargo_lambda_prefix
    {
        expect("stage", format!("{:?}", Some(stage)), format!("{:?}", theirs.stage));
    }
    expect(
        "protocol",
        format!("{:?}", ours.protocol),
        format!("{:?}", theirs.protocol),
    );
    expect(
        "domain name",
        format!("{:?}", ours.domain_name),
        format!("{:?}", theirs.domain_name),
    );
    differences
}

/// Exception 4: the multi-value map when the event has one, else the single-value map.
fn multi_else_single(multi: Params, single: Params) -> Params {
    if multi.is_empty() { single } else { multi }
}

fn query_map(map: &QueryMap) -> Params {
    let mut params = Params::new();
    for (name, value) in map.iter() {
        params.entry(name.to_owned()).or_default().push(value.to_owned());
    }
    params
}

fn header_map(map: &HeaderMap) -> Params {
    let mut headers = Params::new();
    for (name, value) in map {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    headers
}

fn split_at_commas(headers: &Params) -> Params {
    headers
        .iter()
        .map(|(name, values)| {
            let split = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|v| v.trim().to_owned())
                .collect();
            (name.clone(), split)
        })
        .collect()
}

/// Our QUERY_STRING read back into decoded parameters (we encode `+` as `%2B`, so `+` is a space).
fn decoded_params(query: &str) -> Params {
    let mut params = Params::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        params.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    params
}

/// Our QUERY_STRING split into still-encoded parameters (ALB: passed through untouched).
fn raw_params(query: &str) -> Params {
    let mut params = Params::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.entry(name.to_owned()).or_default().push(value.to_owned());
    }
    params
}

fn decode(body: Option<&str>, is_base64: bool) -> Result<Vec<u8>, String> {
    let body = body.unwrap_or_default();
    if is_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| e.to_string())
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

datatest_stable::harness! {
    { test = check_fixture, root = "tests/fixtures", pattern = r"^[^/]+/[^./]+\.json$" },
}
