//! Application Load Balancer -> `Request`.
//!
//! Format: <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html>.
//! ALB sends exactly one of `headers` / `multiValueHeaders` depending on the target group's
//! setting, leaves query parameters encoded as the client sent them, and has no source IP field.

use serde::Deserialize;

use super::de::{Pairs, Values, nullable, prefer_multi};
use crate::request::{self, EventPath, Request, Stage};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlbEvent {
    http_method: String,
    #[serde(default, deserialize_with = "nullable")]
    path: String,
    #[serde(default)]
    headers: Pairs<String>,
    #[serde(default)]
    multi_value_headers: Pairs<Values>,
    // Multi-value events may carry `"queryStringParameters": null` beside the filled
    // multi-value map (lambda_http rejects those events, PEERS.md 2.16).
    #[serde(default)]
    query_string_parameters: Pairs<String>,
    #[serde(default)]
    multi_value_query_string_parameters: Pairs<Values>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    is_base64_encoded: bool,
}

pub(super) fn to_request(event: AlbEvent) -> Result<Request, String> {
    let headers = prefer_multi(event.headers, event.multi_value_headers);
    // "If the query parameters are URL-encoded, the load balancer does not decode them": pass
    // them through; re-encoding would double-encode `a%2Bb` (Zappa does, PEERS.md 2.16).
    let parameters = prefer_multi(event.query_string_parameters, event.multi_value_query_string_parameters);
    let source_ip = rightmost_forwarded_for(&headers);
    Ok(Request {
        method: event.http_method,
        path: EventPath::Encoded(event.path),
        stage: Stage::Absent,
        query_string: request::join_raw_query(&parameters),
        body: request::decode_body(event.body, event.is_base64_encoded)?.into(),
        headers,
        cookies: None,
        source_ip,
        protocol: None,
        domain_name: None,
        // Health checks come without X-Forwarded-Proto, straight to the target over HTTP.
        default_scheme: "http",
        // ALB puts no authenticated identity in the event; its OIDC headers
        // (x-amzn-oidc-identity) are headers, which a client can send too.
        remote_user: None,
    })
}

/// The right-most X-Forwarded-For entry: the one the load balancer appended. Entries to its
/// left are whatever the client chose to send (apig-wsgi takes the left-most: spoofable).
pub(super) fn rightmost_forwarded_for(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .rev()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
        .and_then(|(_, value)| value.rsplit(',').map(str::trim).find(|entry| !entry.is_empty()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_is_the_entry_alb_appended() {
        let headers = |v: &str| vec![("x-forwarded-for".to_owned(), v.to_owned())];
        assert_eq!(
            rightmost_forwarded_for(&headers("6.6.6.6, 1.2.3.4")),
            Some("1.2.3.4".into())
        );
        assert_eq!(rightmost_forwarded_for(&headers("1.2.3.4")), Some("1.2.3.4".into()));
        assert_eq!(rightmost_forwarded_for(&headers("1.2.3.4, ")), Some("1.2.3.4".into()));
        assert_eq!(rightmost_forwarded_for(&headers(" ")), None);
        assert_eq!(rightmost_forwarded_for(&[]), None);
    }
}
