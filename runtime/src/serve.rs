//! The invocation loop: `/invocation/next` -> handler -> `/response` or `/error`.
//!
//! Built on lambda_runtime's own client and types, but not on `lambda_runtime::run`: that loop
//! calls `std::env::set_var("_X_AMZN_TRACE_ID", ..)` on every invocation, and glibc's setenv
//! never frees a replaced value, so a warm environment leaked ~165 bytes per invocation (13 MB
//! over 80,000 in `make soak`, i.e. tens of MB an hour at modest traffic). The trace id reaches
//! Python through `os.environ` instead (wsgi/, support.py).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use http_body_util::BodyExt as _;
use lambda_runtime::{Context, Diagnostic};
use lambda_runtime_api_client::{BoxError, PooledClient, body::Body, build_request};
use serde::Serialize;

/// Serves invocations one at a time until the Runtime API connection fails.
pub async fn serve<R, F>(mut handle: F) -> Result<(), BoxError>
where
    R: Serialize,
    F: FnMut(&str, &Context) -> Result<R, Diagnostic>,
{
    let client = PooledClient::builder().build();
    let function = Arc::new(lambda_runtime::Config::from_env());
    loop {
        let invocation = next_invocation(&client, &function).await?;
        let outcome = invocation.run(|event, context| handle(event, context));
        let reply = match &outcome {
            Ok(response) => build_request()
                .method("POST")
                .uri(format!(
                    "/2018-06-01/runtime/invocation/{}/response",
                    invocation.request_id
                ))
                .body(Body::from(serde_json::to_vec(response)?))?,
            Err(diagnostic) => error_request(&invocation.request_id, diagnostic)?,
        };
        let status = client.call(reply).await?.status();
        check_accepted(status, &invocation.request_id);
    }
}

/// [`serve`] for streamed responses: `handle` writes the response through its third argument
/// as it is produced, and those bytes go to Lambda as they come (Lambda's response streaming:
/// a chunked POST with `Lambda-Runtime-Function-Response-Mode: streaming`). An error before the
/// first byte is an ordinary invocation error; after it, it goes in the stream's error trailers.
pub async fn serve_streaming<F>(mut handle: F) -> Result<(), BoxError>
where
    F: FnMut(&str, &Context, &mut dyn FnMut(&[u8]) -> bool) -> Result<(), Diagnostic>,
{
    let client = PooledClient::builder().build();
    let function = Arc::new(lambda_runtime::Config::from_env());
    let streamer = Streamer::start()?;
    loop {
        let invocation = next_invocation(&client, &function).await?;
        let mut stream = None;
        let outcome = invocation.run(|event, context| {
            let mut write = |bytes: &[u8]| {
                stream
                    .get_or_insert_with(|| streamer.begin(&invocation.request_id))
                    .send(bytes)
            };
            handle(event, context, &mut write)
        });
        let finished = match (stream, outcome) {
            (Some(stream), outcome) => Some(stream.finish(outcome.err())),
            (None, Ok(())) => Some(streamer.begin(&invocation.request_id).finish(None)),
            (None, Err(diagnostic)) => {
                let status = client
                    .call(error_request(&invocation.request_id, &diagnostic)?)
                    .await?
                    .status();
                check_accepted(status, &invocation.request_id);
                None
            }
        };
        // A stream that broke off (the connection reset, Lambda refused it) costs this response,
        // not the environment: the next invocation is served as usual.
        match finished {
            Some(Ok(status)) => check_accepted(status, &invocation.request_id),
            Some(Err(err)) => tracing::error!(requestId = %invocation.request_id, "{err}"),
            None => {}
        }
    }
}

/// One invocation, as `/invocation/next` handed it over.
struct Invocation {
    request_id: String,
    context: Context,
    event: bytes::Bytes,
}

impl Invocation {
    /// Runs `handle` on the event; a panic becomes an invocation error and the environment
    /// stays warm.
    fn run<R>(&self, handle: impl FnOnce(&str, &Context) -> Result<R, Diagnostic>) -> Result<R, Diagnostic> {
        let span = tracing::info_span!("invoke", requestId = %self.request_id);
        span.in_scope(|| {
            let event = std::str::from_utf8(&self.event).unwrap_or_default();
            std::panic::catch_unwind(AssertUnwindSafe(|| handle(event, &self.context))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic with no message".to_owned());
                tracing::error!("the runtime panicked: {message}");
                Err(Diagnostic {
                    error_type: "Runtime.Panic".to_owned(),
                    error_message: message,
                })
            })
        })
    }
}

async fn next_invocation(
    client: &PooledClient,
    function: &Arc<lambda_runtime::Config>,
) -> Result<Invocation, BoxError> {
    let next = build_request()
        .method("GET")
        .uri("/2018-06-01/runtime/invocation/next")
        .body(Body::empty())?;
    let (parts, body) = client.call(next).await?.into_parts();
    let event = body.collect().await?.to_bytes();
    let request_id = parts
        .headers
        .get("lambda-runtime-aws-request-id")
        .and_then(|id| id.to_str().ok())
        .ok_or("the Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id")?
        .to_owned();
    let context = Context::new(&request_id, function.clone(), &parts.headers)?;
    Ok(Invocation {
        request_id,
        context,
        event,
    })
}

fn error_request(request_id: &str, diagnostic: &Diagnostic) -> Result<http::Request<Body>, BoxError> {
    Ok(build_request()
        .method("POST")
        .uri(format!("/2018-06-01/runtime/invocation/{request_id}/error"))
        .header("lambda-runtime-function-error-type", diagnostic.error_type.as_str())
        .body(Body::from(serde_json::to_vec(diagnostic)?))?)
}

fn check_accepted(status: http::StatusCode, request_id: &str) {
    if !status.is_success() {
        // 413 for a payload over Lambda's limit, 400 for an unknown id: Lambda reports the
        // invocation as failed; the environment carries on with the next one.
        tracing::error!(requestId = %request_id, "the Runtime API refused the answer with {status}");
    }
}

/// Sends streamed responses from a thread of its own. The app runs on the main thread (Python's
/// signal handlers, which the deadline guard relies on, only run there) and holds it while it
/// iterates; the bytes it yields must reach Lambda meanwhile, so the HTTP side runs elsewhere,
/// with a bounded channel in between for back-pressure.
struct Streamer {
    jobs: std::sync::mpsc::Sender<StreamJob>,
}

struct StreamJob {
    request_id: String,
    chunks: tokio::sync::mpsc::Receiver<Chunk>,
    done: std::sync::mpsc::SyncSender<Result<http::StatusCode, String>>,
}

enum Chunk {
    Data(bytes::Bytes),
    Failed(Diagnostic),
}

/// How many chunks may wait for the network before the app is made to wait.
const CHUNKS_IN_FLIGHT: usize = 16;

impl Streamer {
    fn start() -> Result<Self, BoxError> {
        let (jobs, queue) = std::sync::mpsc::channel::<StreamJob>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new()
            .name("response-stream".to_owned())
            .spawn(move || {
                let client = {
                    let _context = runtime.enter();
                    PooledClient::builder().build()
                };
                while let Ok(job) = queue.recv() {
                    let status = runtime.block_on(send_stream(&client, &job.request_id, job.chunks));
                    job.done.send(status).ok();
                }
            })?;
        Ok(Streamer { jobs })
    }

    fn begin(&self, request_id: &str) -> ResponseStream {
        let (chunks, queue) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let job = StreamJob {
            request_id: request_id.to_owned(),
            chunks: queue,
            done,
        };
        let open = self.jobs.send(job).is_ok();
        ResponseStream {
            chunks: open.then_some(chunks),
            result,
        }
    }
}

/// The main thread's end of one streamed response.
struct ResponseStream {
    chunks: Option<tokio::sync::mpsc::Sender<Chunk>>,
    result: std::sync::mpsc::Receiver<Result<http::StatusCode, String>>,
}

impl ResponseStream {
    /// False once nobody reads (the connection to Lambda is gone). Waits while the channel is
    /// full; tokio's own blocking_send refuses to run on a thread inside a runtime, which the
    /// main thread is (it waits here, it does not poll anything else).
    fn send(&mut self, bytes: &[u8]) -> bool {
        let sent = self.chunks.as_ref().is_some_and(|chunks| {
            let chunk = Chunk::Data(bytes::Bytes::copy_from_slice(bytes));
            // Unconstrained: this runs inside the main task's single poll, whose cooperative
            // budget (128 operations) would otherwise run out after ~128 chunks and defer the
            // wake-up to a scheduler that never runs again while we wait.
            futures_executor::block_on(tokio::task::unconstrained(chunks.send(chunk))).is_ok()
        });
        if !sent {
            self.chunks = None;
        }
        sent
    }

    /// Ends the stream (with `failure` in its error trailers) and waits for Lambda's answer.
    fn finish(mut self, failure: Option<Diagnostic>) -> Result<http::StatusCode, BoxError> {
        if let (Some(chunks), Some(failure)) = (self.chunks.take(), failure) {
            futures_executor::block_on(tokio::task::unconstrained(chunks.send(Chunk::Failed(failure)))).ok();
        }
        self.chunks = None;
        Ok(self.result.recv().map_err(|_| "the response stream thread stopped")??)
    }
}

/// The streaming POST for one invocation, fed from `chunks` until the main thread hangs up. All
/// of it runs inside one `block_on`, so the connection writes each chunk as soon as it comes.
async fn send_stream(
    client: &PooledClient,
    request_id: &str,
    mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
) -> Result<http::StatusCode, String> {
    let (mut body, receiver) = Body::channel();
    let request = build_request()
        .method("POST")
        .uri(format!("/2018-06-01/runtime/invocation/{request_id}/response"))
        .header("Lambda-Runtime-Function-Response-Mode", "streaming")
        .header("Transfer-Encoding", "chunked")
        .header("Content-Type", "application/vnd.awslambda.http-integration-response")
        .header(
            "Trailer",
            "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        )
        .body(receiver)
        .map_err(|e| e.to_string())?;
    let call = tokio::spawn(client.call(request));
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Chunk::Data(bytes) => {
                if body.send_data(bytes).await.is_err() {
                    break;
                }
            }
            Chunk::Failed(diagnostic) => {
                body.send_trailers(error_trailers(&diagnostic)).await.ok();
                break;
            }
        }
    }
    drop(body);
    match call.await {
        Ok(Ok(response)) => Ok(response.status()),
        Ok(Err(err)) => Err(format!("streaming the response failed: {err}")),
        Err(err) => Err(format!("streaming the response failed: {err}")),
    }
}

/// Lambda's mid-stream error report: the type, and the diagnostic JSON in base64.
fn error_trailers(diagnostic: &Diagnostic) -> http::HeaderMap {
    use base64::Engine as _;
    let mut trailers = http::HeaderMap::new();
    let body = serde_json::to_vec(diagnostic).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    for (name, value) in [
        ("lambda-runtime-function-error-type", diagnostic.error_type.as_str()),
        ("lambda-runtime-function-error-body", encoded.as_str()),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            trailers.insert(name, value);
        }
    }
    trailers
}
