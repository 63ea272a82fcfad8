//! Event bytes -> `(Source, Request)`.
//!
//! The source is decided once, from structural markers (PEERS.md 2.1), then the event is parsed
//! once into that source's type with a path-aware error. Never by trying each type in turn:
//! lambda_http does that and a single unexpected `null` makes an ALB event "not HTTP" at all.

mod alb;
mod api_gateway_v1;
mod de;
pub mod direct;
mod http_v2;
mod identity;
mod lattice;

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::error::EventError;
use crate::request::Request;
use crate::source::Source;

/// Detects the source and parses the event into a `Request`.
pub fn parse(event: &str) -> Result<(Source, Request), EventError> {
    // HTTP API 2.0 and Function URLs, the commonest events, in one pass when the markers
    // read along the way are the ones `detect` would decide on.
    if let Some((source, typed)) = http_v2::parse_if_detected(event) {
        return http_v2::to_request(typed, source)
            .map(|request| (source, request))
            .map_err(|reason| EventError::BadBody { origin: source, reason });
    }
    let source = detect(event)?;
    let request = match source {
        Source::RestV1 | Source::HttpV1 => api_gateway_v1::to_request(typed(event, source)?, source),
        Source::HttpV2 | Source::FunctionUrl => http_v2::to_request(typed(event, source)?, source),
        Source::Alb { .. } => alb::to_request(typed(event, source)?),
        Source::LatticeV1 => lattice::v1_to_request(typed(event, source)?),
        Source::LatticeV2 => lattice::v2_to_request(typed(event, source)?),
    };
    request
        .map(|request| (source, request))
        .map_err(|reason| EventError::BadBody { origin: source, reason })
}

fn typed<T: DeserializeOwned>(event: &str, source: Source) -> Result<T, EventError> {
    // Tracking the path costs about as much as the parse itself, so it is paid only to explain
    // an event that failed: the second parse fails at the same place.
    serde_json::from_str(event).or_else(|_| typed_with_path(event, source))
}

#[cold]
fn typed_with_path<T: DeserializeOwned>(event: &str, source: Source) -> Result<T, EventError> {
    let mut deserializer = serde_json::Deserializer::from_str(event);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| EventError::Malformed {
        source_name: source.name(),
        path: err.path().to_string(),
        message: err.inner().to_string(),
    })
}

/// Decides the source from the markers each one carries, in an order where no marker of a
/// later source can appear in an earlier one.
pub fn detect(event: &str) -> Result<Source, EventError> {
    let probe: Probe<'_> = serde_json::from_str(event).map_err(|err| {
        EventError::Unsupported(if err.is_syntax() || err.is_eof() {
            format!("the event is not valid JSON ({err})")
        } else {
            format!("the event is not a JSON object ({err})")
        })
    })?;
    let context = &probe.request_context;
    if context.elb {
        return Ok(Source::Alb {
            multi_value: probe.multi_value_headers,
        });
    }
    if context.http && probe.raw_path {
        let is_function_url = context
            .domain_name
            .as_deref()
            .is_some_and(|d| d.contains(".lambda-url."))
            || http_v2::is_cargo_lambda(context.domain_name.as_deref(), context.api_id);
        return Ok(if is_function_url {
            Source::FunctionUrl
        } else {
            Source::HttpV2
        });
    }
    if probe.http_method && probe.has_request_context {
        return Ok(if probe.version.as_deref() == Some("1.0") {
            Source::HttpV1
        } else {
            Source::RestV1
        });
    }
    if context.service_network_arn || (probe.version.as_deref() == Some("2.0") && probe.method && probe.path) {
        return Ok(Source::LatticeV2);
    }
    if probe.snake_raw_path && probe.method {
        return Ok(Source::LatticeV1);
    }
    Err(EventError::Unsupported(format!(
        "not an HTTP event: found none of requestContext.elb (ALB), requestContext.http + rawPath \
         (HTTP API 2.0, Function URL), httpMethod + requestContext (REST, HTTP API 1.0), \
         raw_path + method (VPC Lattice v1), requestContext.serviceNetworkArn (VPC Lattice v2); \
         top-level keys: [{}]",
        top_level_keys(event).join(", ")
    )))
}

/// Up to [`KEYS_IN_MESSAGE`] top-level keys of an event already known to be a JSON object: read
/// again only for the message of an unsupported event, so the probe copies no key.
#[cold]
fn top_level_keys(event: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(Key(key)) = map.next_key()? {
                        map.next_value::<IgnoredAny>()?;
                        if keys.len() < KEYS_IN_MESSAGE {
                            keys.push(key.into_owned());
                        }
                    }
                    Ok(Keys(keys))
                }
            }
            deserializer.deserialize_map(KeysVisitor)
        }
    }
    serde_json::from_str::<Keys>(event).map_or_else(|_| Vec::new(), |keys| keys.0)
}

/// The markers `detect` looks at, read in one pass that skips every other value.
#[derive(Default)]
struct Probe<'de> {
    version: Option<Cow<'de, str>>,
    has_request_context: bool,
    request_context: ContextProbe<'de>,
    raw_path: bool,
    snake_raw_path: bool,
    http_method: bool,
    method: bool,
    path: bool,
    multi_value_headers: bool,
}

#[derive(Default)]
struct ContextProbe<'de> {
    elb: bool,
    http: bool,
    service_network_arn: bool,
    domain_name: Option<Cow<'de, str>>,
    api_id: bool,
}

/// How many top-level keys an "unsupported event" message lists.
const KEYS_IN_MESSAGE: usize = 12;

impl<'de> serde::Deserialize<'de> for Probe<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProbeVisitor;
        impl<'de> Visitor<'de> for ProbeVisitor {
            type Value = Probe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe<'de>, A::Error> {
                let mut probe = Probe::default();
                while let Some(Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "version" => probe.version = map.next_value::<Scalar>()?.0,
                        "requestContext" => {
                            // Present even when null: hand-made and test events send
                            // `"requestContext": null` with a REST shape (apig-wsgi accepts it).
                            probe.has_request_context = true;
                            probe.request_context = map.next_value::<Option<ContextProbe>>()?.unwrap_or_default();
                        }
                        "rawPath" => probe.raw_path = map.next_value::<Present>()?.0,
                        "raw_path" => probe.snake_raw_path = map.next_value::<Present>()?.0,
                        "httpMethod" => probe.http_method = map.next_value::<Present>()?.0,
                        "method" => probe.method = map.next_value::<Present>()?.0,
                        "path" => probe.path = map.next_value::<Present>()?.0,
                        "multiValueHeaders" => probe.multi_value_headers = map.next_value::<Present>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(probe)
            }
        }
        deserializer.deserialize_map(ProbeVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for ContextProbe<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContextVisitor;
        impl<'de> Visitor<'de> for ContextVisitor {
            type Value = ContextProbe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContextProbe<'de>, A::Error> {
                let mut context = ContextProbe::default();
                while let Some(Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "elb" => context.elb = map.next_value::<Present>()?.0,
                        "http" => context.http = map.next_value::<Present>()?.0,
                        "serviceNetworkArn" => context.service_network_arn = map.next_value::<Present>()?.0,
                        "domainName" => context.domain_name = map.next_value::<Scalar>()?.0,
                        "apiId" => context.api_id = map.next_value::<Present>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(context)
            }
            // A requestContext that is not an object carries no markers; the typed parse of the
            // detected source (if any) reports it with its path.
            fn visit_bool<E>(self, _: bool) -> Result<ContextProbe<'de>, E> {
                Ok(ContextProbe::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<ContextProbe<'de>, E> {
                Ok(ContextProbe::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<ContextProbe<'de>, E> {
                Ok(ContextProbe::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<ContextProbe<'de>, E> {
                Ok(ContextProbe::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<ContextProbe<'de>, E> {
                Ok(ContextProbe::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ContextProbe<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ContextProbe::default())
            }
        }
        deserializer.deserialize_any(ContextVisitor)
    }
}

/// An object key, borrowed from the event unless it holds escapes (serde's `Cow<str>` always
/// copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// True for any value but `null`.
struct Present(bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Present(Option::<IgnoredAny>::deserialize(deserializer)?.is_some()))
    }
}

/// A string value (borrowed unless it holds escapes), or `None` for anything else (skipped).
struct Scalar<'de>(Option<Cow<'de, str>>);

impl<'de> serde::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(Cow::Borrowed(value))))
            }
            fn visit_str<E>(self, value: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(Cow::Owned(value.to_owned()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_source_from_its_markers() {
        let cases = [
            (
                r#"{"requestContext":{"elb":{"targetGroupArn":"x"}},"httpMethod":"GET","headers":{}}"#,
                Source::Alb { multi_value: false },
            ),
            (
                r#"{"requestContext":{"elb":{}},"httpMethod":"GET","multiValueHeaders":{}}"#,
                Source::Alb { multi_value: true },
            ),
            (
                r#"{"requestContext":{"elb":{}},"multiValueHeaders":null,"headers":{}}"#,
                Source::Alb { multi_value: false },
            ),
            (
                r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"},"domainName":"id.execute-api.us-east-1.amazonaws.com"}}"#,
                Source::HttpV2,
            ),
            (
                r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{},"domainName":"abc.lambda-url.us-east-1.on.aws"}}"#,
                Source::FunctionUrl,
            ),
            (
                // cargo-lambda's HTTP front (captured from 1.9.2): a Function URL on localhost.
                r#"{"version":"2.0","rawPath":"/a%20b","httpMethod":"GET","requestContext":{"http":{"method":"GET"},"apiId":null,"domainName":"localhost","domainPrefix":"bootstrap"}}"#,
                Source::FunctionUrl,
            ),
            (
                // Our emulator's and SAM local's HTTP API events name an API: still HTTP API.
                r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"},"apiId":"local","domainName":"localhost"}}"#,
                Source::HttpV2,
            ),
            (
                r#"{"httpMethod":"GET","requestContext":{"stage":"prod"}}"#,
                Source::RestV1,
            ),
            (
                r#"{"version":"1.0","httpMethod":"GET","requestContext":{}}"#,
                Source::HttpV1,
            ),
            (r#"{"raw_path":"/","method":"GET","headers":{}}"#, Source::LatticeV1),
            (
                r#"{"version":"2.0","path":"/","method":"GET","requestContext":{"serviceNetworkArn":"arn"}}"#,
                Source::LatticeV2,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(detect(event).expect(event), expected, "{event}");
        }
    }

    #[test]
    fn unsupported_events_name_what_is_missing() {
        for event in [
            r#"{"Records":[{"eventSource":"aws:sqs"}]}"#,
            "{}",
            r#"{"requestContext":"x","foo":1}"#,
        ] {
            let err = detect(event).expect_err(event);
            assert_eq!(err.error_type(), "UnsupportedEvent");
            assert!(err.to_string().contains("requestContext.http + rawPath"), "{err}");
        }
        assert!(
            detect(r#"{"Records":[]}"#)
                .expect_err("sqs")
                .to_string()
                .contains("top-level keys: [Records]")
        );
    }

    #[test]
    fn non_objects_and_bad_json_are_unsupported_with_a_reason() {
        assert!(
            detect("[1,2]")
                .expect_err("array")
                .to_string()
                .contains("not a JSON object")
        );
        assert!(
            detect("\"GET /\"")
                .expect_err("string")
                .to_string()
                .contains("not a JSON object")
        );
        assert!(
            detect("{\"a\":")
                .expect_err("truncated")
                .to_string()
                .contains("not valid JSON")
        );
    }

    /// The one-pass HTTP API 2.0 parse decides exactly as `detect` does, or leaves the event to it.
    #[test]
    fn the_one_pass_v2_parse_agrees_with_detect() {
        let mut events: Vec<String> = vec![
            // ALB marker beside rawPath: ALB wins in detect.
            r#"{"rawPath":"/","requestContext":{"elb":{},"http":{"method":"GET"}},"httpMethod":"GET"}"#.into(),
            r#"{"rawPath":null,"requestContext":{"http":{"method":"GET"}}}"#.into(),
            r#"{"rawPath":"/","requestContext":{"http":null}}"#.into(),
            r#"{"rawPath":"/","requestContext":{"elb":null,"http":{"method":"GET"}}}"#.into(),
            r#"{"rawPath":"/","rawPath":"/b","requestContext":{"http":{"method":"GET"}}}"#.into(),
            r#"{"rawPath":"/","requestContext":{"http":{"method":"GET"},"apiId":7,"domainName":"localhost"}}"#.into(),
            r#"{"rawPath":"/","requestContext":{"http":{"method":"GET"},"domainName":"x.lambda-url.eu-west-1.on.aws"}}"#.into(),
            r#"{"raw\u0050ath":"/","requestContext":{"http":{"method":"GET"}}}"#.into(),
        ];
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut dirs = vec![fixtures];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json")
                    // Not the golden outputs (`name.environ.json`, `name.response.json`, ...).
                    && path.file_stem().is_some_and(|stem| !stem.to_string_lossy().contains('.'))
                {
                    events.push(std::fs::read_to_string(&path).expect("fixture"));
                }
            }
        }
        let mut taken = 0;
        for event in &events {
            if let Some((source, _)) = http_v2::parse_if_detected(event) {
                taken += 1;
                assert_eq!(detect(event).ok(), Some(source), "{event}");
            }
        }
        assert!(taken > 10, "only {taken} events took the one-pass parse");
    }

    #[test]
    fn malformed_events_report_the_json_path() {
        let event = r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":7}}}"#;
        let err = parse(event).expect_err("method is a number");
        assert_eq!(err.error_type(), "InvalidEvent");
        assert!(err.to_string().contains("[requestContext.http.method]"), "{err}");
    }
}
