//! The Lambda Runtime API: every request the runtime makes, built in one place
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), and the client that sends
//! them over one persistent HTTP/1.1 connection.
//!
//! One connection is all a runtime needs: requests are strictly one after another (next,
//! answer, next, ...). It is opened on first use and again whenever it was closed, and
//! [`RuntimeApi::reconnect`] drops it on purpose after a SnapStart restore, where a connection
//! open at snapshot time is dead. Each Managed Instances worker has a client of its own.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_runtime_api_client::body::Body;
use serde::Serialize;

use crate::config::{FunctionInfo, RuntimeApiAddress};
use crate::context::InvocationContext;

/// The API version prefix of every path.
const BASE: &str = "/2018-06-01/runtime";

/// The runtime's side of the Runtime API failed: the process cannot serve any more.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No connection to the Runtime API.
    #[error("cannot connect to the Runtime API at {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// What the socket said.
        source: std::io::Error,
    },
    /// The thread or I/O runtime that sends streamed responses could not be started.
    #[error("cannot start the response stream sender: {0}")]
    Streamer(std::io::Error),
    /// The HTTP exchange failed midway.
    #[error("the Runtime API request {what} failed: {source}")]
    Http {
        /// Which request.
        what: &'static str,
        /// What hyper said.
        source: hyper::Error,
    },
    /// The Runtime API answered something a runtime cannot work with.
    #[error("the Runtime API answered {what} with {detail}")]
    Protocol {
        /// Which request.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// An error as Lambda wants it reported: to `/invocation/{id}/error`, `/init/error` or
/// `/restore/error`, and in a response stream's trailers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// A stable name (`Runtime.ImportModuleError`, the exception's class, ...).
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// What happened, for a person.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    /// A Python traceback, where there is one.
    #[serde(rename = "stackTrace", skip_serializing_if = "Vec::is_empty")]
    pub stack_trace: Vec<String>,
}

impl ErrorReport {
    /// A report without a traceback.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        ErrorReport {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("BUG: an ErrorReport of strings always serializes")
    }
}

/// One invocation, as `/invocation/next` handed it over.
#[derive(Debug)]
pub struct Invocation {
    /// Who is asking, when, and for how long.
    pub context: InvocationContext,
    /// The event, as sent.
    pub event: Bytes,
}

/// The requests, one function each, so that no path is formatted anywhere else. Pure: they are
/// tested without a server.
pub mod requests {
    use super::*;

    /// `GET /invocation/next`: the long poll for work.
    pub fn next() -> Request<Body> {
        build(Method::GET, format!("{BASE}/invocation/next"), Body::empty())
    }

    /// `POST /invocation/{id}/response` with a buffered answer.
    pub fn response(request_id: &str, body: Vec<u8>) -> Request<Body> {
        build(
            Method::POST,
            format!("{BASE}/invocation/{request_id}/response"),
            Body::from(body),
        )
    }

    /// `POST /invocation/{id}/response` in Lambda's response streaming mode: an HTTP integration
    /// stream (prelude, eight NUL bytes, body) sent chunked as `body` produces it, with the error
    /// trailers announced.
    pub fn streaming_response(request_id: &str, body: Body) -> Request<Body> {
        let mut request = build(Method::POST, format!("{BASE}/invocation/{request_id}/response"), body);
        let headers = request.headers_mut();
        for (name, value) in [
            ("lambda-runtime-function-response-mode", "streaming"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/vnd.awslambda.http-integration-response"),
            (
                "trailer",
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        ] {
            headers.insert(name, http::HeaderValue::from_static(value));
        }
        request
    }

    /// `POST /invocation/{id}/error`.
    pub fn invocation_error(request_id: &str, report: &ErrorReport) -> Request<Body> {
        with_error_type(
            build(
                Method::POST,
                format!("{BASE}/invocation/{request_id}/error"),
                Body::from(report.to_json()),
            ),
            report,
        )
    }

    /// `POST /init/error`: init failed (or, under SnapStart, a before-snapshot hook did).
    pub fn init_error(report: &ErrorReport) -> Request<Body> {
        with_error_type(
            build(Method::POST, format!("{BASE}/init/error"), Body::from(report.to_json())),
            report,
        )
    }

    /// `GET /restore/next`: SnapStart; answered once the environment has been restored.
    pub fn restore_next() -> Request<Body> {
        build(Method::GET, format!("{BASE}/restore/next"), Body::empty())
    }

    /// `POST /restore/error`: an after-restore hook failed.
    pub fn restore_error(report: &ErrorReport) -> Request<Body> {
        with_error_type(
            build(
                Method::POST,
                format!("{BASE}/restore/error"),
                Body::from(report.to_json()),
            ),
            report,
        )
    }

    fn build(method: Method, path: String, body: Body) -> Request<Body> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        // A request id is Lambda's own token; one that is not a valid path is a Runtime API bug
        // the answer will report, so the path falls back to one Lambda rejects with 4xx.
        *request.uri_mut() = path.parse().unwrap_or_else(|_| http::Uri::from_static("/invalid"));
        request
            .headers_mut()
            .insert("user-agent", http::HeaderValue::from_static(USER_AGENT));
        request
    }

    fn with_error_type(mut request: Request<Body>, report: &ErrorReport) -> Request<Body> {
        if let Ok(value) = http::HeaderValue::from_str(&report.error_type) {
            request
                .headers_mut()
                .insert("lambda-runtime-function-error-type", value);
        }
        request
    }

    const USER_AGENT: &str = concat!("lambda-wsgi/", env!("CARGO_PKG_VERSION"));
}

/// A client of the Runtime API at one address.
pub struct RuntimeApi {
    address: RuntimeApiAddress,
    function: Arc<FunctionInfo>,
    connection: Option<Connection>,
}

/// The open connection: its request side, and the task that drives it.
struct Connection {
    sender: SendRequest<Body>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The socket closes with the task, even in the middle of a write nobody will read.
        self.driver.abort();
    }
}

impl RuntimeApi {
    /// A client for `address`; it connects on first use. `function` fills every
    /// invocation's context.
    pub fn new(address: &RuntimeApiAddress, function: Arc<FunctionInfo>) -> Self {
        RuntimeApi {
            address: address.clone(),
            function,
            connection: None,
        }
    }

    /// Closes the connection, even midway through a request (a stream whose reader stopped);
    /// the next request opens a new one.
    pub fn reconnect(&mut self) {
        self.connection = None;
    }

    /// Waits for the next invocation.
    pub async fn next(&mut self) -> Result<Invocation, ApiError> {
        const WHAT: &str = "GET /invocation/next";
        // A connection that died while idle is found only when it is used: the long poll is
        // asked again, once, on a new one (nothing can have been handed out on a dead one).
        let response = match self.send(WHAT, requests::next()).await {
            Err(ApiError::Http { source, .. }) => {
                tracing::warn!("the Runtime API connection was lost ({source}); reconnecting");
                self.reconnect();
                self.send(WHAT, requests::next()).await?
            }
            other => other?,
        };
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            return Err(ApiError::Protocol {
                what: WHAT,
                detail: format!("status {}", parts.status),
            });
        }
        let event = body
            .collect()
            .await
            .map_err(|source| ApiError::Http { what: WHAT, source })?
            .to_bytes();
        let context = invocation_context(&parts.headers, &self.function)
            .map_err(|detail| ApiError::Protocol { what: WHAT, detail })?;
        Ok(Invocation { context, event })
    }

    /// Sends `request` and returns Lambda's status; a refusal (413 for a payload over the
    /// limit, 400 for an unknown id) is not an error of the runtime, so the caller logs it.
    pub async fn post(&mut self, what: &'static str, request: Request<Body>) -> Result<StatusCode, ApiError> {
        let response = self.send(what, request).await?;
        let status = response.status();
        // Read the answer to the end so the connection can carry the next request.
        response
            .into_body()
            .collect()
            .await
            .map_err(|source| ApiError::Http { what, source })?;
        Ok(status)
    }

    /// Waits for the SnapStart restore (`GET /restore/next`).
    pub async fn restore_next(&mut self) -> Result<(), ApiError> {
        const WHAT: &str = "GET /restore/next";
        let status = self.post(WHAT, requests::restore_next()).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(ApiError::Protocol {
                what: WHAT,
                detail: format!("status {status}"),
            })
        }
    }

    async fn send(
        &mut self,
        what: &'static str,
        request: Request<Body>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ApiError> {
        let mut request = request;
        if !self.address.base_path.is_empty() {
            let prefixed = format!("{}{}", self.address.base_path, request.uri());
            *request.uri_mut() = prefixed.parse().map_err(|_| ApiError::Protocol {
                what,
                detail: format!("a path under {} that is not a valid URI", self.address.base_path),
            })?;
        }
        if let Ok(host) = http::HeaderValue::from_str(&self.address.authority) {
            request.headers_mut().insert(http::header::HOST, host);
        }
        let connection = self.connection(what).await?;
        connection
            .send_request(request)
            .await
            .map_err(|source| ApiError::Http { what, source })
    }

    /// The open connection, or a new one if there is none or the old one was closed.
    async fn connection(&mut self, what: &'static str) -> Result<&mut SendRequest<Body>, ApiError> {
        if let Some(open) = &mut self.connection
            && open.sender.ready().await.is_err()
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            let stream = tokio::net::TcpStream::connect(&self.address.authority)
                .await
                .map_err(|source| ApiError::Connect {
                    address: self.address.to_string(),
                    source,
                })?;
            // Small requests, answered at once: no Nagle delay.
            stream.set_nodelay(true).ok();
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|source| ApiError::Http { what, source })?;
            let driver = tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!("the Runtime API connection closed: {err}");
                }
            });
            self.connection = Some(Connection { sender, driver });
        }
        Ok(&mut self
            .connection
            .as_mut()
            .expect("BUG: the connection was just opened")
            .sender)
    }
}

/// Sends one request from a process that is not serving (an init error, the supervisor
/// reporting a dead worker's invocation), on a runtime and a connection of its own that end
/// with it. Returns Lambda's status, or what went wrong, as text for the log.
pub fn send_once(
    address: &RuntimeApiAddress,
    what: &'static str,
    request: Request<Body>,
) -> Result<StatusCode, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let mut api = RuntimeApi::new(address, Arc::default());
    runtime.block_on(api.post(what, request)).map_err(|err| err.to_string())
}

/// The context of one invocation from `/invocation/next`'s headers.
pub fn invocation_context(headers: &HeaderMap, function: &Arc<FunctionInfo>) -> Result<InvocationContext, String> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let request_id = text("lambda-runtime-aws-request-id")
        .filter(|id| !id.is_empty())
        .ok_or("an invocation without Lambda-Runtime-Aws-Request-Id")?;
    let deadline_ms = text("lambda-runtime-deadline-ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .ok_or("an invocation without a valid Lambda-Runtime-Deadline-Ms")?;
    Ok(InvocationContext {
        request_id: request_id.to_owned(),
        deadline_ms,
        invoked_function_arn: text("lambda-runtime-invoked-function-arn")
            .unwrap_or_default()
            .to_owned(),
        trace_id: text("lambda-runtime-trace-id").map(str::to_owned),
        function: function.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_has_its_documented_method_path_and_headers() {
        let report = ErrorReport::new("Runtime.ImportModuleError", "no module named app");
        let cases = [
            (requests::next(), "GET", "/2018-06-01/runtime/invocation/next"),
            (
                requests::response("id-1", b"{}".to_vec()),
                "POST",
                "/2018-06-01/runtime/invocation/id-1/response",
            ),
            (
                requests::invocation_error("id-1", &report),
                "POST",
                "/2018-06-01/runtime/invocation/id-1/error",
            ),
            (requests::init_error(&report), "POST", "/2018-06-01/runtime/init/error"),
            (requests::restore_next(), "GET", "/2018-06-01/runtime/restore/next"),
            (
                requests::restore_error(&report),
                "POST",
                "/2018-06-01/runtime/restore/error",
            ),
        ];
        for (request, method, path) in cases {
            assert_eq!((request.method().as_str(), request.uri().path()), (method, path));
        }
        for request in [
            requests::invocation_error("id-1", &report),
            requests::init_error(&report),
            requests::restore_error(&report),
        ] {
            assert_eq!(
                request.headers()["lambda-runtime-function-error-type"],
                "Runtime.ImportModuleError"
            );
        }
        let streaming = requests::streaming_response("id-2", Body::empty());
        assert_eq!(streaming.uri().path(), "/2018-06-01/runtime/invocation/id-2/response");
        assert_eq!(
            streaming.headers()["lambda-runtime-function-response-mode"],
            "streaming"
        );
        assert_eq!(streaming.headers()["transfer-encoding"], "chunked");
    }

    #[test]
    fn an_error_report_is_lambdas_json_with_the_traceback_only_when_there_is_one() {
        let mut report = ErrorReport::new("Runtime.AfterRestoreError", "boom");
        assert_eq!(
            String::from_utf8(report.to_json()).expect("utf-8"),
            r#"{"errorType":"Runtime.AfterRestoreError","errorMessage":"boom"}"#
        );
        report.stack_trace = vec!["Traceback".to_owned()];
        assert!(
            String::from_utf8(report.to_json())
                .expect("utf-8")
                .ends_with(r#""stackTrace":["Traceback"]}"#)
        );
    }

    #[test]
    fn the_context_comes_from_the_headers_and_a_missing_id_or_deadline_is_refused() {
        let function = Arc::new(FunctionInfo {
            name: "web".to_owned(),
            ..FunctionInfo::default()
        });
        let mut headers = HeaderMap::new();
        headers.insert("lambda-runtime-aws-request-id", "abc".parse().expect("value"));
        headers.insert("lambda-runtime-deadline-ms", "1700000000000".parse().expect("value"));
        headers.insert("lambda-runtime-trace-id", "Root=1-2-3".parse().expect("value"));
        let context = invocation_context(&headers, &function).expect("valid");
        assert_eq!(
            (
                context.request_id.as_str(),
                context.deadline_ms,
                context.trace_id.as_deref()
            ),
            ("abc", 1_700_000_000_000, Some("Root=1-2-3"))
        );
        assert_eq!(context.function.name, "web");
        headers.remove("lambda-runtime-deadline-ms");
        assert!(invocation_context(&headers, &function).is_err());
        headers.insert("lambda-runtime-deadline-ms", "1".parse().expect("value"));
        headers.remove("lambda-runtime-aws-request-id");
        assert!(invocation_context(&headers, &function).is_err());
    }
}
