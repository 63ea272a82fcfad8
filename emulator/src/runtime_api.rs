//! The Lambda Runtime API (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>) and,
//! on the same port, Lambda's Invoke API path for sending exact events.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use crate::broker::{Broker, Outcome, Streamed};
use crate::child::RuntimeState;

const BASE: &str = "/2018-06-01/runtime";

/// What the endpoints share.
pub struct RuntimeApi {
    /// The invocation queue.
    pub broker: Arc<Broker>,
    /// What the runtime reported about itself.
    pub state: Arc<RuntimeState>,
    /// Print "runtime ready" on stdout when the runtime first asks for work.
    pub announce_ready: bool,
    /// Lambda-Runtime-Invoked-Function-Arn.
    pub function_arn: String,
    /// SnapStart is played: `/restore/next` is answered as a restore.
    pub snap_start: bool,
}

type HttpResponse = Response<Full<Bytes>>;

impl RuntimeApi {
    /// Routes one request.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> Result<HttpResponse, Infallible> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let streaming = request
            .headers()
            .get("lambda-runtime-function-response-mode")
            .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"streaming"));
        if streaming && method == Method::POST && path.ends_with("/response") {
            return Ok(self.stream(&path, request.into_body()).await);
        }
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                return Ok(json(
                    StatusCode::BAD_REQUEST,
                    &format!("could not read the request body: {err}"),
                ));
            }
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        Ok(match (&method, segments.as_slice()) {
            (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => self.next(peer).await,
            (&Method::GET, ["2018-06-01", "runtime", "restore", "next"]) => self.restore(peer),
            (&Method::POST, ["2018-06-01", "runtime", "restore", "error"]) => {
                log_init_error("restore error", &body);
                self.state.record_init_error(body);
                accepted()
            }
            (&Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
                self.settle(id, Outcome::Response(body))
            }
            (&Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => {
                self.settle(id, Outcome::Error(body))
            }
            (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
                log_init_error("init error", &body);
                self.state.record_init_error(body);
                accepted()
            }
            (&Method::POST, ["2015-03-31", "functions", _, "invocations"]) => self.invoke(body).await,
            _ => json(
                StatusCode::NOT_FOUND,
                &format!("no such endpoint: {method} {path} (Runtime API base is {BASE})"),
            ),
        })
    }

    /// A streamed response: the caller gets it as it arrives; the runtime gets its 202 at the end.
    async fn stream(&self, path: &str, mut body: Incoming) -> HttpResponse {
        let request_id = path
            .trim_end_matches("/response")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        let (parts, streamed) = Streamed::channel();
        if !self.broker.settle(request_id, Outcome::Stream(streamed)) {
            return json(
                StatusCode::BAD_REQUEST,
                &format!("request id {request_id} is not the invocation in flight"),
            );
        }
        while let Some(frame) = body.frame().await {
            let part = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Ok(data),
                    Err(frame) => match frame.into_trailers().ok().as_ref().and_then(stream_error) {
                        Some(error) => Err(error),
                        None => continue,
                    },
                },
                Err(err) => Err(format!("the response stream broke off: {err}")),
            };
            let failed = part.is_err();
            // A reader that went away (the client hung up) still lets the runtime finish.
            parts.send(part).await.ok();
            if failed {
                break;
            }
        }
        accepted()
    }

    async fn next(&self, peer: std::net::SocketAddr) -> HttpResponse {
        if self.state.mark_ready() && self.announce_ready {
            // The connection is named so that tests can tell a new one from an old one.
            println!("lambda-wsgi-emulator: runtime ready (connection from {peer})");
            std::io::stdout().flush().ok();
        }
        let delivered = self.broker.next().await;
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &delivered.request_id)
            .header("lambda-runtime-deadline-ms", delivered.deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &self.function_arn)
            .header("lambda-runtime-trace-id", &delivered.trace_id)
            .body(Full::new(delivered.event))
            .unwrap_or_else(|err| json(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()))
    }

    /// SnapStart: the runtime has run its before-snapshot hooks and waits to be restored. Lambda
    /// would snapshot the environment now and answer in each restored copy; here the restore
    /// follows at once, in the same process (what stays the same in every copy is what the app
    /// set up at init, which a test can make deterministic).
    fn restore(&self, peer: std::net::SocketAddr) -> HttpResponse {
        if !self.snap_start {
            return json(
                StatusCode::FORBIDDEN,
                "not a SnapStart environment (AWS_LAMBDA_INITIALIZATION_TYPE is not snap-start)",
            );
        }
        if self.announce_ready {
            println!("lambda-wsgi-emulator: snapshot taken; restoring (restore/next from {peer})");
            std::io::stdout().flush().ok();
        }
        Response::builder()
            .status(StatusCode::OK)
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|err| json(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()))
    }

    fn settle(&self, request_id: &str, outcome: Outcome) -> HttpResponse {
        if self.broker.settle(request_id, outcome) {
            accepted()
        } else {
            json(
                StatusCode::BAD_REQUEST,
                &format!("request id {request_id} is not the invocation in flight"),
            )
        }
    }

    /// Lambda's Invoke API: 200 with the payload, `X-Amz-Function-Error` for function errors.
    async fn invoke(&self, event: Bytes) -> HttpResponse {
        let (status, function_error, body) = match self.broker.invoke(event).await {
            Outcome::Response(body) => (StatusCode::OK, None, body),
            Outcome::Stream(streamed) => match streamed.collect().await {
                Ok(body) => (StatusCode::OK, None, body),
                Err(why) => (
                    StatusCode::OK,
                    Some("Unhandled"),
                    error_body("Runtime.StreamError", &why),
                ),
            },
            Outcome::Error(body) | Outcome::InitError(body) => (StatusCode::OK, Some("Unhandled"), body),
            Outcome::Died(why) => (StatusCode::BAD_GATEWAY, None, error_body("Runtime.ExitError", &why)),
            Outcome::Timeout => (
                StatusCode::BAD_GATEWAY,
                None,
                error_body("Sandbox.Timedout", "the invocation timed out"),
            ),
        };
        let mut response = Response::builder()
            .status(status)
            .header("content-type", "application/json");
        if let Some(kind) = function_error {
            response = response.header("x-amz-function-error", kind);
        }
        response
            .body(Full::new(body))
            .unwrap_or_else(|err| json(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()))
    }
}

/// The error a runtime reports in a response stream's trailers, if any.
fn stream_error(trailers: &hyper::HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let error_type = trailers.get("lambda-runtime-function-error-type")?.to_str().ok()?;
    let body = trailers
        .get("lambda-runtime-function-error-body")
        .and_then(|body| base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).ok())
        .map(|body| String::from_utf8_lossy(&body).into_owned())
        .unwrap_or_default();
    Some(format!("{error_type}: {body}"))
}

fn log_init_error(what: &str, body: &Bytes) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    eprintln!(
        "lambda-wsgi-emulator: {what}: {}: {}",
        field("errorType"),
        field("errorMessage")
    );
    for line in value
        .get("stackTrace")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        eprintln!("    {}", line.as_str().unwrap_or_default());
    }
}

fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

fn accepted() -> HttpResponse {
    Response::builder()
        .status(StatusCode::ACCEPTED)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn json(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({"errorType": status.canonical_reason().unwrap_or("Error"), "errorMessage": message});
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
