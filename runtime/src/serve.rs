//! The invocation loop: `/invocation/next` -> handler -> `/response` or `/error`, one at a time.
//!
//! The same loop runs in every topology: alone in the process, after a SnapStart restore, and in
//! each Managed Instances worker; it neither knows nor cares which. It does not set
//! `_X_AMZN_TRACE_ID` with setenv (as `lambda_runtime::run` does): glibc never frees a replaced
//! value, so a warm environment leaked ~165 bytes per invocation. The trace id reaches Python
//! through the invocation's environ and `os.environ` instead (wsgi/, support.py).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use lambda_runtime_api_client::body::Body;
use serde::Serialize;

use crate::config::{FunctionInfo, RuntimeApiAddress};
use crate::context::InvocationContext;
use crate::error::EventError;
use crate::runtime_api::{ApiError, ErrorReport, Invocation, RuntimeApi, requests};
use crate::wsgi::Offer;

/// Serves invocations one at a time until the Runtime API connection fails.
pub async fn serve<R, F>(api: &mut RuntimeApi, mut handle: F) -> Result<(), ApiError>
where
    R: Serialize,
    F: FnMut(&str, &InvocationContext) -> Result<R, ErrorReport>,
{
    loop {
        let invocation = api.next().await?;
        let request_id = invocation.context.request_id.clone();
        let outcome = run(&invocation, |event, context| handle(event, context)).and_then(|answer| {
            serde_json::to_vec(&answer)
                .map_err(|err| ErrorReport::new("Runtime.MarshalError", format!("the answer is not JSON: {err}")))
        });
        let (what, request) = match outcome {
            Ok(body) => ("POST /response", requests::response(&request_id, body)),
            Err(report) => ("POST /error", requests::invocation_error(&request_id, &report)),
        };
        deliver(api, what, request, &request_id).await;
    }
}

/// [`serve`] for streamed responses: `handle` writes the response through its third argument
/// as it is produced, and those bytes go to Lambda as they come (Lambda's response streaming).
/// An error before the first byte is an ordinary invocation error; after it, it goes in the
/// stream's error trailers. A client that reads too slowly is waited for without the GIL and
/// never past `margin` before the deadline; then the stream is cut and serving goes on.
pub async fn serve_streaming<F>(
    api: &mut RuntimeApi,
    address: &RuntimeApiAddress,
    function: Arc<FunctionInfo>,
    margin: Duration,
    mut handle: F,
) -> Result<(), ApiError>
where
    F: FnMut(&str, &InvocationContext, &mut dyn FnMut(&[u8]) -> Offer) -> Result<(), ErrorReport>,
{
    let streamer = Streamer::start(address, function)?;
    loop {
        let invocation = api.next().await?;
        let request_id = invocation.context.request_id.clone();
        let wait_until = wait_limit(invocation.context.deadline_ms, margin);
        let mut stream = None;
        let outcome = run(&invocation, |event, context| {
            let mut write = |bytes: &[u8]| {
                stream
                    .get_or_insert_with(|| streamer.begin(&request_id, wait_until))
                    .send(bytes)
            };
            handle(event, context, &mut write)
        });
        let finished = match (stream, outcome) {
            (Some(stream), outcome) => Some(stream.finish(outcome.err())),
            (None, Ok(())) => Some(streamer.begin(&request_id, wait_until).finish(None)),
            (None, Err(report)) => {
                deliver(
                    api,
                    "POST /error",
                    requests::invocation_error(&request_id, &report),
                    &request_id,
                )
                .await;
                None
            }
        };
        // A stream that broke off (the connection reset, Lambda refused it, the client stopped
        // reading) costs this response, not the environment: the next invocation is served.
        match finished {
            Some(Ok(status)) => check_accepted(status, &request_id),
            Some(Err(err)) => tracing::error!(requestId = %request_id, "{err}"),
            None => {}
        }
    }
}

/// Runs `handle` on the invocation's event; a panic becomes an invocation error and the
/// environment stays warm, and an event that is not UTF-8 is refused before the app sees it.
fn run<R>(
    invocation: &Invocation,
    handle: impl FnOnce(&str, &InvocationContext) -> Result<R, ErrorReport>,
) -> Result<R, ErrorReport> {
    // Every line logged during the invocation carries its request id, once, from this span.
    let span = tracing::info_span!("invoke", requestId = %invocation.context.request_id);
    let _entered = span.enter();
    let event = std::str::from_utf8(&invocation.event).map_err(|err| {
        let err = EventError::NotUtf8 {
            offset: err.valid_up_to(),
        };
        tracing::error!(error_type = err.error_type(), "{err}");
        ErrorReport::new(err.error_type(), err.to_string())
    })?;
    std::panic::catch_unwind(AssertUnwindSafe(|| handle(event, &invocation.context))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with no message".to_owned());
        tracing::error!("the runtime panicked: {message}");
        Err(ErrorReport::new("Runtime.Panic", message))
    })
}

/// Posts an answer. A transport failure costs this answer, not the environment: it is logged,
/// the connection is dropped, and the loop asks for the next invocation on a new one (if the
/// Runtime API is really gone, that fails and ends the loop).
async fn deliver(api: &mut RuntimeApi, what: &'static str, request: http::Request<Body>, request_id: &str) {
    match api.post(what, request).await {
        Ok(status) => check_accepted(status, request_id),
        Err(err) => {
            tracing::error!(requestId = %request_id, "the answer was lost: {err}");
            api.reconnect();
        }
    }
}

fn check_accepted(status: StatusCode, request_id: &str) {
    if !status.is_success() {
        // 413 for a payload over Lambda's limit, 400 for an unknown id: Lambda reports the
        // invocation as failed; the environment carries on with the next one.
        tracing::error!(requestId = %request_id, "the Runtime API refused the answer with {status}");
    }
}

/// When a wait for a slow client must give up: `margin` before the deadline (the deadline
/// guard's margin, so that the runtime can still end the stream and take the next invocation).
fn wait_limit(deadline_ms: u64, margin: Duration) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(margin);
    Instant::now() + left
}

/// Sends streamed responses from a thread of its own. The app runs on the main thread (Python's
/// signal handlers, which the deadline guard relies on, only run there) and holds it while it
/// iterates; the bytes it yields must reach Lambda meanwhile, so the HTTP side runs elsewhere,
/// with a bounded queue in between for back-pressure.
struct Streamer {
    jobs: std::sync::mpsc::Sender<StreamJob>,
}

struct StreamJob {
    request_id: String,
    chunks: tokio::sync::mpsc::Receiver<Chunk>,
    space: Arc<Space>,
    abort: tokio::sync::oneshot::Receiver<()>,
    done: std::sync::mpsc::SyncSender<Result<StatusCode, String>>,
}

enum Chunk {
    Data(bytes::Bytes),
    Failed(ErrorReport),
}

/// How many chunks may wait for the network before the app is made to wait.
const CHUNKS_IN_FLIGHT: usize = 16;

/// How long the end of a stream may take once the app is done (Lambda's answer to the POST).
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

impl Streamer {
    fn start(address: &RuntimeApiAddress, function: Arc<FunctionInfo>) -> Result<Self, ApiError> {
        let (jobs, queue) = std::sync::mpsc::channel::<StreamJob>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ApiError::Streamer)?;
        let mut api = RuntimeApi::new(address, function);
        std::thread::Builder::new()
            .name("response-stream".to_owned())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    let status =
                        runtime.block_on(send_stream(&mut api, job.request_id, job.chunks, job.space, job.abort));
                    if let Err(unread) = job.done.send(status) {
                        // The main thread stopped waiting for this stream (FINISH_TIMEOUT).
                        tracing::warn!("a response stream ended after its invocation moved on: {:?}", unread.0);
                    }
                }
            })
            .map_err(ApiError::Streamer)?;
        Ok(Streamer { jobs })
    }

    fn begin(&self, request_id: &str, wait_until: Instant) -> ResponseStream {
        let (chunks, queue) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let (abort, aborted) = tokio::sync::oneshot::channel();
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let space = Arc::new(Space::default());
        let job = StreamJob {
            request_id: request_id.to_owned(),
            chunks: queue,
            space: space.clone(),
            abort: aborted,
            done,
        };
        let open = self.jobs.send(job).is_ok();
        ResponseStream {
            request_id: request_id.to_owned(),
            chunks: open.then_some(chunks),
            space,
            abort: Some(abort),
            wait_until,
            too_slow: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            result,
        }
    }
}

/// Tells a producer waiting for room in the queue that the stream thread took a chunk. The
/// producer tries and waits under the lock, the consumer signals under it: no wake-up is lost.
#[derive(Default)]
struct Space {
    taken: Mutex<()>,
    freed: Condvar,
}

impl Space {
    fn signal(&self) {
        let _taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        self.freed.notify_all();
    }
}

/// The main thread's end of one streamed response.
struct ResponseStream {
    request_id: String,
    chunks: Option<tokio::sync::mpsc::Sender<Chunk>>,
    space: Arc<Space>,
    abort: Option<tokio::sync::oneshot::Sender<()>>,
    wait_until: Instant,
    /// Set when a wait for room ran out of time: the client is not reading.
    too_slow: Arc<std::sync::atomic::AtomicBool>,
    result: std::sync::mpsc::Receiver<Result<StatusCode, String>>,
}

impl ResponseStream {
    /// Queues a chunk. When the queue is full the caller is handed the wait, which it runs
    /// without the GIL (`Offer::Wait`); it gives up at the wait limit.
    fn send(&mut self, bytes: &[u8]) -> Offer {
        let Some(chunks) = &self.chunks else {
            return Offer::Closed;
        };
        match chunks.try_send(Chunk::Data(bytes::Bytes::copy_from_slice(bytes))) {
            Ok(()) => Offer::Taken,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                self.chunks = None;
                Offer::Closed
            }
            Err(tokio::sync::mpsc::error::TrySendError::Full(chunk)) => {
                let (chunks, space, until, too_slow) = (
                    chunks.clone(),
                    self.space.clone(),
                    self.wait_until,
                    self.too_slow.clone(),
                );
                Offer::Wait(Box::new(move || {
                    let sent = wait_for_room(&chunks, &space, chunk, until);
                    if sent == Some(false) {
                        too_slow.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    sent == Some(true)
                }))
            }
        }
    }

    /// Ends the stream (with `failure` in its error trailers) and waits, bounded, for Lambda's
    /// answer. A client too slow to take the rest gets the stream cut off.
    fn finish(mut self, failure: Option<ErrorReport>) -> Result<StatusCode, String> {
        let too_slow = self.too_slow.load(std::sync::atomic::Ordering::SeqCst);
        let failure = failure.or_else(|| {
            too_slow.then(|| {
                ErrorReport::new(
                    "Runtime.ResponseStreamTimeout",
                    "the client stopped reading the response stream; it was cut off before the invocation deadline",
                )
            })
        });
        if let (Some(chunks), Some(failure)) = (self.chunks.take(), failure) {
            // Trailers need room in the queue; a stalled stream cannot take them, so it is
            // aborted instead (Lambda sees the stream break off).
            if too_slow || chunks.try_send(Chunk::Failed(failure.clone())).is_err() {
                tracing::error!(
                    requestId = %self.request_id,
                    "the response stream was cut off: {}: {}",
                    failure.error_type,
                    failure.error_message
                );
                if let Some(abort) = self.abort.take() {
                    // An error means the stream thread is already done with this stream.
                    abort.send(()).ok();
                }
            }
        }
        self.chunks = None;
        match self.result.recv_timeout(FINISH_TIMEOUT) {
            Ok(outcome) => outcome,
            Err(_) => Err("the response stream did not finish in time".to_owned()),
        }
    }
}

/// Waits for room for `chunk` until `until`: `Some(true)` sent, `Some(false)` out of time,
/// `None` nobody reads any more.
fn wait_for_room(
    chunks: &tokio::sync::mpsc::Sender<Chunk>,
    space: &Space,
    mut chunk: Chunk,
    until: Instant,
) -> Option<bool> {
    use tokio::sync::mpsc::error::TrySendError;
    let mut taken = space.taken.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match chunks.try_send(chunk) {
            Ok(()) => return Some(true),
            Err(TrySendError::Closed(_)) => return None,
            Err(TrySendError::Full(back)) => chunk = back,
        }
        let now = Instant::now();
        if now >= until {
            return Some(false);
        }
        taken = space
            .freed
            .wait_timeout(taken, until - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// The streaming POST for one invocation, fed from `chunks` until the main thread hangs up or
/// aborts. All of it runs inside one `block_on`, so each chunk is written as soon as it comes.
async fn send_stream(
    api: &mut RuntimeApi,
    request_id: String,
    mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
    space: Arc<Space>,
    mut abort: tokio::sync::oneshot::Receiver<()>,
) -> Result<StatusCode, String> {
    let (mut body, receiver) = Body::channel();
    let request = requests::streaming_response(&request_id, receiver);
    let pump = async move {
        loop {
            let chunk = tokio::select! {
                chunk = chunks.recv() => chunk,
                _ = &mut abort => return Err(body),
            };
            space.signal();
            match chunk {
                Some(Chunk::Data(bytes)) => {
                    tokio::select! {
                        sent = body.send_data(bytes) => if sent.is_err() { return Ok(()) },
                        _ = &mut abort => return Err(body),
                    }
                }
                Some(Chunk::Failed(report)) => {
                    if let Err(err) = body.send_trailers(error_trailers(&report)).await {
                        tracing::error!(
                            requestId = %request_id,
                            "the error trailers ({}) could not be sent: {err}",
                            report.error_type
                        );
                    }
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
    };
    let outcome = {
        let mut call = std::pin::pin!(api.post("POST /response (streaming)", request));
        tokio::select! {
            // Lambda answered before the body ended (a refusal): the rest is not wanted.
            status = &mut call => Some(status),
            pumped = pump => match pumped {
                Ok(()) => Some(call.await),
                Err(body) => {
                    // A reset, not an end: hyper sends no final chunk, Lambda sees a broken
                    // stream. The connection may be stuck writing to a reader that stopped, so
                    // it is not waited for.
                    body.abort();
                    None
                }
            },
        }
    };
    match outcome {
        Some(status) => status.map_err(|err| format!("streaming the response failed: {err}")),
        None => {
            api.reconnect();
            Err("the response stream was aborted".to_owned())
        }
    }
}

/// Lambda's mid-stream error report: the type, and the report's JSON in base64.
fn error_trailers(report: &ErrorReport) -> http::HeaderMap {
    use base64::Engine as _;
    let mut trailers = http::HeaderMap::new();
    let encoded = base64::engine::general_purpose::STANDARD.encode(report.to_json());
    for (name, value) in [
        ("lambda-runtime-function-error-type", report.error_type.as_str()),
        ("lambda-runtime-function-error-body", encoded.as_str()),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            trailers.insert(name, value);
        }
    }
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_waited_for_until_the_limit_and_no_longer() {
        let (chunks, mut queue) = tokio::sync::mpsc::channel(1);
        let space = Space::default();
        chunks.try_send(Chunk::Data(bytes::Bytes::new())).ok();
        let until = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            wait_for_room(&chunks, &space, Chunk::Data(bytes::Bytes::new()), until),
            Some(false)
        );
        assert!(Instant::now() >= until);
        queue.close();
        while queue.try_recv().is_ok() {}
        assert_eq!(
            wait_for_room(&chunks, &space, Chunk::Data(bytes::Bytes::new()), until),
            None
        );
    }

    #[test]
    fn a_waiting_producer_is_woken_when_the_consumer_takes_a_chunk() {
        let (chunks, mut queue) = tokio::sync::mpsc::channel(1);
        let space = Arc::new(Space::default());
        chunks.try_send(Chunk::Data(bytes::Bytes::from_static(b"a"))).ok();
        let consumer = std::thread::spawn({
            let space = space.clone();
            move || {
                let first = queue.blocking_recv();
                space.signal();
                let second = queue.blocking_recv();
                matches!((first, second), (Some(Chunk::Data(a)), Some(Chunk::Data(b))) if a == "a" && b == "b")
            }
        });
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            wait_for_room(&chunks, &space, Chunk::Data(bytes::Bytes::from_static(b"b")), far),
            Some(true)
        );
        assert!(consumer.join().expect("consumer"));
    }

    #[test]
    fn the_wait_limit_keeps_the_margin_before_the_deadline() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let limit = wait_limit(now_ms + 10_000, Duration::from_millis(4_000));
        let left = limit.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_millis(6_000) && left > Duration::from_millis(4_000),
            "{left:?}"
        );
        // A deadline already inside the margin: no wait at all.
        assert!(wait_limit(now_ms + 100, Duration::from_millis(500)) <= Instant::now());
    }
}
