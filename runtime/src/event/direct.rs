//! Events that are not HTTP requests but that the runtime answers itself: warm-up pings from
//! the common keep-warm tools (answered at once, the app untouched) and the opt-in management
//! command form `{"manage": ["migrate", "--noinput"]}`.

use serde::Deserialize;

/// A non-HTTP event the runtime recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct {
    /// A keep-warm ping.
    Warmup,
    /// A management command line (the arguments after `manage.py` / `flask`), and the prefix of
    /// the mounted app to run it against (`"mount": "/shop"`; None: the table's first).
    Manage {
        /// The command's arguments.
        args: Vec<String>,
        /// A mount's prefix, as the event wrote it.
        mount: Option<String>,
    },
}

#[derive(Deserialize)]
struct Shape {
    source: Option<serde_json::Value>,
    warmer: Option<serde_json::Value>,
    #[serde(rename = "detail-type")]
    detail_type: Option<serde_json::Value>,
    resources: Option<Vec<serde_json::Value>>,
    manage: Option<serde_json::Value>,
    mount: Option<serde_json::Value>,
}

/// What `event` is, if the runtime answers it itself.
pub fn recognise(event: &str) -> Option<Direct> {
    let shape: Shape = serde_json::from_str(event).ok()?;
    if let Some(manage) = shape.manage {
        let args = manage
            .as_array()?
            .iter()
            .map(|arg| arg.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        let mount = match shape.mount {
            None => None,
            Some(mount) => Some(mount.as_str()?.to_owned()),
        };
        return Some(Direct::Manage { args, mount });
    }
    let is_str =
        |value: &Option<serde_json::Value>, expected: &str| value.as_ref().and_then(|v| v.as_str()) == Some(expected);
    // serverless-plugin-warmup (and serverless-wsgi's check of it).
    let plugin_warmup = is_str(&shape.source, "serverless-plugin-warmup");
    // lambda-warmer: {"warmer": true, "concurrency": n}.
    let lambda_warmer = shape.warmer.as_ref().and_then(serde_json::Value::as_bool) == Some(true);
    // Zappa's keep_warm: a scheduled EventBridge rule named after its callback.
    let zappa_keep_warm = is_str(&shape.detail_type, "Scheduled Event")
        && shape
            .resources
            .iter()
            .flatten()
            .any(|arn| arn.as_str().is_some_and(|arn| arn.ends_with("keep_warm_callback")));
    (plugin_warmup || lambda_warmer || zappa_keep_warm).then_some(Direct::Warmup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keep_warm_tools_pings_are_warmups() {
        for ping in [
            r#"{"source": "serverless-plugin-warmup"}"#,
            r#"{"warmer": true, "concurrency": 3}"#,
            r#"{"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
               "resources": ["arn:aws:events:us-east-1:123456789012:rule/app-dev-zappa-keep-warm-handler.keep_warm_callback"]}"#,
        ] {
            assert_eq!(recognise(ping), Some(Direct::Warmup), "{ping}");
        }
    }

    #[test]
    fn other_events_are_not_warmups() {
        for event in [
            r#"{"source": "aws.events", "detail-type": "Scheduled Event", "resources": ["arn:aws:events:us-east-1:1:rule/nightly"]}"#,
            r#"{"warmer": false}"#,
            r#"{"Records": [{"eventSource": "aws:sqs", "body": "hi"}]}"#,
            r#"[1, 2]"#,
            "not json",
        ] {
            assert_eq!(recognise(event), None, "{event}");
        }
    }

    #[test]
    fn the_manage_form_carries_string_arguments_only() {
        assert_eq!(
            recognise(r#"{"manage": ["migrate", "--noinput"]}"#),
            Some(Direct::Manage {
                args: vec!["migrate".to_owned(), "--noinput".to_owned()],
                mount: None
            })
        );
        assert_eq!(
            recognise(r#"{"manage": ["migrate"], "mount": "/shop"}"#),
            Some(Direct::Manage {
                args: vec!["migrate".to_owned()],
                mount: Some("/shop".to_owned())
            })
        );
        assert_eq!(recognise(r#"{"manage": ["migrate"], "mount": 1}"#), None);
        assert_eq!(recognise(r#"{"manage": "migrate"}"#), None);
        assert_eq!(recognise(r#"{"manage": ["migrate", 1]}"#), None);
    }
}
