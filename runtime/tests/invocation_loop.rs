//! The invocation loop against a fake Runtime API: what it asks for, what it answers, on how
//! many connections, and that a bad invocation costs that invocation only. No Python runs: the
//! loop takes the handler as a closure.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambda_wsgi::config::FunctionInfo;
use lambda_wsgi::context::InvocationContext;
use lambda_wsgi::runtime_api::{ErrorReport, RuntimeApi};
use lambda_wsgi::serve;
use lambda_wsgi::wsgi::Offer;

/// One invocation the fake hands out: its id and event, or a broken `/next` answer.
enum Next {
    Event(&'static str, Vec<u8>),
    WithoutRequestId,
}

/// A request the runtime made.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    error_type: Option<String>,
    streaming: bool,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
    connection: usize,
}

#[derive(Default)]
struct State {
    script: VecDeque<Next>,
    seen: Vec<Seen>,
    connections: usize,
    /// Answers to give to `/response` posts, in order (202 when none is left).
    response_statuses: VecDeque<StatusCode>,
}

/// A fake Runtime API on 127.0.0.1: hands out the scripted invocations, then answers `/next`
/// with 410 Gone, which ends the loop.
struct FakeApi {
    address: String,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    async fn start(script: Vec<Next>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let connection = {
                    let mut state = shared.lock().expect("state");
                    state.connections += 1;
                    state.connections
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(state.clone(), connection, request));
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                        .ok();
                });
            }
        });
        FakeApi { address, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("state").seen.clone()
    }

    fn connections(&self) -> usize {
        self.state.lock().expect("state").connections
    }

    fn client(&self) -> RuntimeApi {
        RuntimeApi::new(&self.address, Arc::new(FunctionInfo::default()))
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    connection: usize,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let error_type = header("lambda-runtime-function-error-type");
    let streaming = header("lambda-runtime-function-response-mode").as_deref() == Some("streaming");
    let collected = request.into_body().collect().await;
    let (body, trailers) = match collected {
        Ok(collected) => {
            let trailers = collected
                .trailers()
                .map(|t| {
                    t.iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            (collected.to_bytes().to_vec(), trailers)
        }
        Err(_) => (b"<broken body>".to_vec(), Vec::new()),
    };
    let mut state = state.lock().expect("state");
    state.seen.push(Seen {
        method: method.clone(),
        path: path.clone(),
        error_type,
        streaming,
        body,
        trailers,
        connection,
    });
    let response = if path.ends_with("/invocation/next") {
        match state.script.pop_front() {
            Some(Next::Event(id, event)) => Response::builder()
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", "4102444800000")
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:1:function:f",
                )
                .header("lambda-runtime-trace-id", format!("Root=1-{id}"))
                .body(Full::new(Bytes::from(event))),
            Some(Next::WithoutRequestId) => Response::builder()
                .header("lambda-runtime-deadline-ms", "4102444800000")
                .body(Full::new(Bytes::from_static(b"{}"))),
            None => Response::builder()
                .status(StatusCode::GONE)
                .body(Full::new(Bytes::new())),
        }
    } else if path.ends_with("/response") {
        let status = state.response_statuses.pop_front().unwrap_or(StatusCode::ACCEPTED);
        Response::builder().status(status).body(Full::new(Bytes::new()))
    } else {
        Response::builder()
            .status(StatusCode::ACCEPTED)
            .body(Full::new(Bytes::new()))
    };
    Ok(response.expect("a valid response"))
}

fn event(id: &'static str, body: &str) -> Next {
    Next::Event(id, body.as_bytes().to_vec())
}

/// The handler every buffered test uses: echoes the event, fails on `"raise"`, panics on
/// `"panic"`; records what it was called with.
fn echo(calls: &Mutex<Vec<String>>) -> impl FnMut(&str, &InvocationContext) -> Result<String, ErrorReport> + '_ {
    move |event, context| {
        calls
            .lock()
            .expect("calls")
            .push(format!("{}:{event}", context.request_id));
        match event {
            "\"raise\"" => Err(ErrorReport::new("ValueError", "bad value")),
            "\"panic\"" => panic!("the handler panicked"),
            _ => Ok(format!(
                "echo {event} for {}",
                context.trace_id.as_deref().unwrap_or("-")
            )),
        }
    }
}

#[tokio::test]
async fn each_invocation_is_answered_on_one_connection_and_the_loop_ends_when_the_api_does() {
    let api = FakeApi::start(vec![event("a", "\"one\""), event("b", "\"two\"")]).await;
    let calls = Mutex::new(Vec::new());
    let ended = serve::serve(&mut api.client(), echo(&calls)).await;
    assert!(ended.expect_err("410 ends it").to_string().contains("410"));
    assert_eq!(*calls.lock().expect("calls"), ["a:\"one\"", "b:\"two\""]);
    let seen = api.seen();
    let requests: Vec<(&str, &str)> = seen.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    assert_eq!(
        requests,
        [
            ("GET", "/2018-06-01/runtime/invocation/next"),
            ("POST", "/2018-06-01/runtime/invocation/a/response"),
            ("GET", "/2018-06-01/runtime/invocation/next"),
            ("POST", "/2018-06-01/runtime/invocation/b/response"),
            ("GET", "/2018-06-01/runtime/invocation/next"),
        ]
    );
    assert_eq!(seen[1].body, br#""echo \"one\" for Root=1-a""#);
    assert_eq!(api.connections(), 1, "one persistent connection is all a runtime needs");
}

#[tokio::test]
async fn a_failure_a_panic_or_a_non_utf8_event_costs_that_invocation_only() {
    let api = FakeApi::start(vec![
        event("raises", "\"raise\""),
        event("panics", "\"panic\""),
        Next::Event("latin1", vec![b'"', 0xe9, b'"']),
        event("fine", "\"ok\""),
    ])
    .await;
    let calls = Mutex::new(Vec::new());
    serve::serve(&mut api.client(), echo(&calls)).await.expect_err("ends");
    let posts: Vec<Seen> = api.seen().into_iter().filter(|s| s.method == "POST").collect();
    let outcome = |s: &Seen| {
        (
            s.path.rsplit('/').next().unwrap_or_default().to_owned(),
            s.error_type.clone(),
        )
    };
    assert_eq!(
        posts.iter().map(outcome).collect::<Vec<_>>(),
        [
            ("error".to_owned(), Some("ValueError".to_owned())),
            ("error".to_owned(), Some("Runtime.Panic".to_owned())),
            ("error".to_owned(), Some("InvalidEvent".to_owned())),
            ("response".to_owned(), None),
        ]
    );
    let report: serde_json::Value = serde_json::from_slice(&posts[2].body).expect("json");
    assert!(
        report["errorMessage"].as_str().is_some_and(|m| m.contains("not UTF-8")),
        "{report}"
    );
    // The non-UTF-8 event never reached the handler.
    assert_eq!(calls.lock().expect("calls").len(), 3);
}

#[tokio::test]
async fn an_answer_lambda_refuses_is_logged_and_serving_goes_on() {
    let api = FakeApi::start(vec![event("big", "\"one\""), event("next", "\"two\"")]).await;
    api.state
        .lock()
        .expect("state")
        .response_statuses
        .push_back(StatusCode::PAYLOAD_TOO_LARGE);
    let calls = Mutex::new(Vec::new());
    serve::serve(&mut api.client(), echo(&calls)).await.expect_err("ends");
    assert_eq!(calls.lock().expect("calls").len(), 2);
}

#[tokio::test]
async fn an_invocation_without_a_request_id_is_a_runtime_api_error() {
    let api = FakeApi::start(vec![Next::WithoutRequestId]).await;
    let calls = Mutex::new(Vec::new());
    let err = serve::serve(&mut api.client(), echo(&calls))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("Lambda-Runtime-Aws-Request-Id"), "{err}");
    assert!(calls.lock().expect("calls").is_empty());
}

#[tokio::test]
async fn after_a_restore_the_client_opens_a_new_connection() {
    let api = FakeApi::start(vec![event("a", "\"one\"")]).await;
    let mut client = api.client();
    client.restore_next().await.expect("restored");
    client.reconnect();
    let calls = Mutex::new(Vec::new());
    serve::serve(&mut client, echo(&calls)).await.expect_err("ends");
    let seen = api.seen();
    assert_eq!(seen[0].path, "/2018-06-01/runtime/restore/next");
    assert_eq!(seen[0].connection, 1);
    assert!(
        seen[1..].iter().all(|s| s.connection == 2),
        "{:?}",
        seen.iter().map(|s| s.connection).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_streamed_answer_goes_out_chunked_and_an_error_after_the_first_byte_in_its_trailers() {
    let api = FakeApi::start(vec![event("whole", "\"ok\""), event("broken", "\"break\"")]).await;
    let mut client = api.client();
    let address = api.address.clone();
    let ended = serve::serve_streaming(
        &mut client,
        &address,
        Arc::new(FunctionInfo::default()),
        std::time::Duration::from_millis(500),
        |event: &str, _context: &InvocationContext, out: &mut dyn FnMut(&[u8]) -> Offer| {
            for chunk in [&b"prelude\0\0\0\0\0\0\0\0"[..], b"first ", b"second"] {
                assert!(out(chunk).settle());
                if event == "\"break\"" {
                    return Err(ErrorReport::new("RuntimeError", "broke off midway"));
                }
            }
            Ok(())
        },
    )
    .await;
    ended.expect_err("410 ends it");
    let streams: Vec<Seen> = api.seen().into_iter().filter(|s| s.streaming).collect();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].body, b"prelude\0\0\0\0\0\0\0\0first second");
    assert!(streams[0].trailers.is_empty());
    assert_eq!(streams[1].body, b"prelude\0\0\0\0\0\0\0\0");
    let trailer = |name: &str| {
        streams[1]
            .trailers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        trailer("lambda-runtime-function-error-type").as_deref(),
        Some("RuntimeError")
    );
    assert!(trailer("lambda-runtime-function-error-body").is_some());
}
