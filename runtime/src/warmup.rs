//! `WSGI_WARMUP_PATH`: one request through the whole pipeline before the SnapStart snapshot or
//! the Managed Instances fork. Frameworks build much on their first request (Flask and Werkzeug
//! their URL adapters, Django its URL resolver and middleware chain, and CPython specializes
//! the bytecode it runs); done once here, that state is in the snapshot, or shared copy-on-write
//! by every worker, instead of built again in each copy. The answer is only logged.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Platform};
use crate::context::InvocationContext;
use crate::invoke::{self, Answer};
use crate::wsgi::WsgiApp;

/// How long the warm-up request may run (the deadline its context announces).
const WARMUP_BUDGET: Duration = Duration::from_secs(30);

/// The warm-up request as an HTTP API payload 2.0 event from localhost.
pub fn event(path_and_query: &str) -> String {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "localhost", "user-agent": "lambda-wsgi-warmup"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "lambda-wsgi-warmup"},
            "domainName": "localhost", "apiId": "warmup", "stage": "$default", "requestId": "warmup",
            "routeKey": "$default", "accountId": "", "time": "", "timeEpoch": 0
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// Sends the warm-up request to every mounted app (its prefix, then `path_and_query`) and logs
/// how each went; a failure is logged, not fatal (the app serves as it would have without it).
pub fn run(app: &WsgiApp, config: &Config, platform: &Platform, path_and_query: &str) {
    for (index, mount) in config.apps.mounts().iter().enumerate() {
        let path_and_query = match mount.prefix.as_str() {
            "/" => path_and_query.to_owned(),
            prefix => format!("{prefix}{path_and_query}"),
        };
        // `/api` + `/v2/health` beside a `/api/v2` mount is that mount's: warming it twice
        // would leave `/api` cold.
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query.as_str(), |(path, _)| path);
        match config.apps.route(path.as_bytes(), &[]) {
            Some(route) if route.index == index => run_one(app, config, platform, &path_and_query),
            _ => tracing::warn!(
                "warm-up: GET {path_and_query} skipped: another mount takes it, so the mount {} is not warmed (choose a WSGI_WARMUP_PATH no other prefix begins)",
                mount.prefix
            ),
        }
    }
}

fn run_one(app: &WsgiApp, config: &Config, platform: &Platform, path_and_query: &str) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let context = InvocationContext {
        request_id: "warmup".to_owned(),
        deadline_ms: now_ms.saturating_add(u64::try_from(WARMUP_BUDGET.as_millis()).unwrap_or(u64::MAX)),
        invoked_function_arn: String::new(),
        trace_id: None,
        function: Arc::new(platform.function.clone()),
    };
    match invoke::handle(app, config, &event(path_and_query), &context) {
        Ok(Answer::Http(response)) => {
            tracing::info!("warm-up: GET {path_and_query} answered {}", response.status_code())
        }
        Ok(Answer::Json(_)) => tracing::warn!("warm-up: GET {path_and_query} was not answered as HTTP"),
        Err(err) => tracing::warn!("warm-up: GET {path_and_query} failed: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warmup_event_is_an_http_api_get_of_the_path_and_query() {
        let (source, request) = crate::event::parse(&event("/health?deep=1&x=%20")).expect("parses");
        assert_eq!(source.name(), "HTTP API (payload 2.0)");
        assert_eq!(request.method, "GET");
        let environ = crate::environ::build(&request, &test_config()).expect("mounted");
        let get = |key: &str| {
            environ
                .vars
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("PATH_INFO").as_deref(), Some("/health"));
        assert_eq!(get("QUERY_STRING").as_deref(), Some("deep=1&x=%20"));
        assert_eq!(get("HTTP_USER_AGENT").as_deref(), Some("lambda-wsgi-warmup"));
    }

    fn test_config() -> Config {
        Config::from_lookup(|name| (name == crate::config::WSGI_APP).then(|| "app:app".to_owned())).expect("valid")
    }
}
