//! Hands invocations to the runtime one at a time and their outcomes back to whoever asked.
//!
//! The front door, the Invoke API and `invoke` mode all call [`Broker::invoke`]; the Runtime API
//! endpoints and the child supervisor settle what it waits for.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `/invocation/{id}/response` body.
    Response(Bytes),
    /// A streamed `/invocation/{id}/response` (Lambda's response streaming), still arriving.
    Stream(Streamed),
    /// `/invocation/{id}/error` body.
    Error(Bytes),
    /// `/init/error` body: the runtime never got to the invocation.
    InitError(Bytes),
    /// The runtime process exited before answering.
    Died(String),
    /// The deadline passed; the runtime was killed.
    Timeout,
}

/// One piece of a streamed response: bytes, or the error the runtime reported in the stream's
/// trailers (or the stream breaking off).
pub type StreamPart = Result<Bytes, String>;

/// Between a streamed response's JSON prelude and its body.
pub const STREAM_SEPARATOR: [u8; 8] = [0; 8];

/// `(prelude, body so far)` once the separator is in `bytes`.
pub fn split_prelude(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes
        .windows(STREAM_SEPARATOR.len())
        .position(|w| w == STREAM_SEPARATOR)?;
    Some((&bytes[..end], &bytes[end + STREAM_SEPARATOR.len()..]))
}

/// The receiving end of a streamed response. Whoever takes it first reads it.
#[derive(Clone)]
pub struct Streamed(Arc<Mutex<Option<mpsc::Receiver<StreamPart>>>>);

impl Streamed {
    /// A stream fed by the returned sender.
    pub fn channel() -> (mpsc::Sender<StreamPart>, Self) {
        let (sender, receiver) = mpsc::channel(16);
        (sender, Streamed(Arc::new(Mutex::new(Some(receiver)))))
    }

    /// The receiver, once.
    pub fn take(&self) -> Option<mpsc::Receiver<StreamPart>> {
        lock(&self.0).take()
    }

    /// The whole stream, for callers that cannot pass it on as it comes.
    pub async fn collect(&self) -> StreamPart {
        let mut receiver = self.take().ok_or("the stream was already read")?;
        let mut whole = Vec::new();
        while let Some(part) = receiver.recv().await {
            whole.extend_from_slice(&part?);
        }
        Ok(Bytes::from(whole))
    }
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streamed(..)")
    }
}

impl PartialEq for Streamed {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Streamed {}

/// An invocation handed to the runtime by `/invocation/next`.
pub struct Delivered {
    /// Lambda-Runtime-Aws-Request-Id.
    pub request_id: String,
    /// Lambda-Runtime-Deadline-Ms.
    pub deadline_ms: u64,
    /// Lambda-Runtime-Trace-Id.
    pub trace_id: String,
    /// The event.
    pub event: Bytes,
}

struct Pending {
    ticket: u64,
    event: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct InFlight {
    ticket: u64,
    reply: oneshot::Sender<Outcome>,
}

/// The invocation queue and the invocations in flight: one at a time for an ordinary
/// runtime, up to AWS_LAMBDA_MAX_CONCURRENCY for a Managed Instances one (each `/next` long
/// poll takes the next queued invocation).
pub struct Broker {
    timeout: Duration,
    /// Whether a missed deadline kills the runtime. Not with concurrency: one late invocation
    /// must not cost the others theirs; it is answered as timed out and the runtime goes on.
    kill_on_timeout: bool,
    queue: Mutex<VecDeque<Pending>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// Asks the supervisor to kill the runtime (deadline passed).
    kill: mpsc::UnboundedSender<()>,
    counter: AtomicU64,
}

impl Broker {
    /// A broker whose invocations have `timeout` to answer; `kill` reaches the supervisor.
    #[cfg(test)]
    pub fn new(timeout: Duration, kill: mpsc::UnboundedSender<()>) -> Self {
        Self::with_concurrency(timeout, kill, 1)
    }

    /// A broker for a runtime that serves `concurrency` invocations at once.
    pub fn with_concurrency(timeout: Duration, kill: mpsc::UnboundedSender<()>, concurrency: usize) -> Self {
        Broker {
            timeout,
            kill_on_timeout: concurrency <= 1,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            kill,
            counter: AtomicU64::new(0),
        }
    }

    /// Queues `event` and waits for its outcome; past the deadline the runtime is killed.
    pub async fn invoke(&self, event: Bytes) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let ticket = self.counter.fetch_add(1, Ordering::Relaxed);
        lock(&self.queue).push_back(Pending { ticket, event, reply });
        self.queued.notify_one();
        // Time in the queue counts too: a client waits for both. The runtime's own deadline is
        // set when it takes the event, so queued requests still get their full budget there.
        match tokio::time::timeout(self.timeout + Duration::from_millis(500), outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Died("the invocation was dropped".to_owned()),
            Err(_) => {
                // Only this caller's invocation may cost the runtime its life.
                let mut in_flight = lock(&self.in_flight);
                let mine = in_flight
                    .iter()
                    .find(|(_, current)| current.ticket == ticket)
                    .map(|(id, _)| id.clone());
                if let Some(id) = mine {
                    in_flight.remove(&id);
                    if self.kill_on_timeout {
                        self.kill.send(()).ok();
                    }
                }
                Outcome::Timeout
            }
        }
    }

    /// Waits for the next invocation (`/invocation/next`).
    pub async fn next(&self) -> Delivered {
        loop {
            let notified = self.queued.notified();
            if let Some(pending) = self.pop_live() {
                let request_id = self.new_request_id();
                let deadline_ms = epoch_ms() + u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
                let trace_id = self.new_trace_id();
                let event = pending.event;
                lock(&self.in_flight).insert(
                    request_id.clone(),
                    InFlight {
                        ticket: pending.ticket,
                        reply: pending.reply,
                    },
                );
                return Delivered {
                    request_id,
                    deadline_ms,
                    trace_id,
                    event,
                };
            }
            notified.await;
        }
    }

    /// The oldest queued invocation whose caller is still waiting.
    fn pop_live(&self) -> Option<Pending> {
        let mut queue = lock(&self.queue);
        while let Some(pending) = queue.pop_front() {
            if !pending.reply.is_closed() {
                return Some(pending);
            }
        }
        None
    }

    /// Settles an invocation in flight; false if `request_id` is not one.
    pub fn settle(&self, request_id: &str, outcome: Outcome) -> bool {
        match lock(&self.in_flight).remove(request_id) {
            Some(current) => {
                current.reply.send(outcome).ok();
                true
            }
            None => false,
        }
    }

    /// The runtime died: every invocation in flight fails with `why`.
    pub fn fail_in_flight(&self, why: &str) {
        for (_, current) in lock(&self.in_flight).drain() {
            current.reply.send(Outcome::Died(why.to_owned())).ok();
        }
    }

    /// Init failed: every queued invocation gets the init error, as on Lambda.
    pub fn fail_queued(&self, init_error: &Bytes) {
        for pending in lock(&self.queue).drain(..) {
            pending.reply.send(Outcome::InitError(init_error.clone())).ok();
        }
    }

    /// Resolves once an invocation is queued (the supervisor waits on it before restarting a
    /// runtime whose init keeps failing).
    pub async fn wait_for_work(&self) {
        loop {
            let notified = self.queued.notified();
            if !lock(&self.queue).is_empty() {
                return;
            }
            notified.await;
        }
    }

    fn new_request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let seed = random_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            seed >> 32,
            (seed >> 16) & 0xffff,
            seed & 0xfff,
            n & 0xfff,
            random_u64() & 0xffff_ffff_ffff
        )
    }

    fn new_trace_id(&self) -> String {
        format!(
            "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
            epoch_ms() / 1000,
            u128::from(random_u64()) << 32 | u128::from(random_u64() & 0xffff_ffff),
            random_u64()
        )
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep serving.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Milliseconds since the epoch.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unpredictable enough for ids: std's per-process random hash keys, mixed with the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invocation_is_delivered_and_settled() {
        let (kill, _kill_rx) = mpsc::unbounded_channel();
        let broker = std::sync::Arc::new(Broker::new(Duration::from_secs(5), kill));
        let caller = tokio::spawn({
            let broker = broker.clone();
            async move { broker.invoke(Bytes::from_static(b"{}")).await }
        });
        let delivered = broker.next().await;
        assert_eq!(delivered.event, Bytes::from_static(b"{}"));
        assert!(delivered.deadline_ms > epoch_ms());
        assert!(!broker.settle("wrong-id", Outcome::Response(Bytes::new())));
        assert!(broker.settle(&delivered.request_id, Outcome::Response(Bytes::from_static(b"ok"))));
        assert_eq!(
            caller.await.expect("joins"),
            Outcome::Response(Bytes::from_static(b"ok"))
        );
    }

    #[tokio::test]
    async fn a_missed_deadline_kills_the_runtime() {
        let (kill, mut kill_rx) = mpsc::unbounded_channel();
        let broker = std::sync::Arc::new(Broker::new(Duration::from_millis(10), kill));
        let caller = tokio::spawn({
            let broker = broker.clone();
            async move { broker.invoke(Bytes::new()).await }
        });
        let _delivered = broker.next().await;
        assert_eq!(caller.await.expect("joins"), Outcome::Timeout);
        assert_eq!(kill_rx.recv().await, Some(()));
    }

    #[tokio::test]
    async fn init_errors_fail_every_queued_invocation() {
        let (kill, _kill_rx) = mpsc::unbounded_channel();
        let broker = std::sync::Arc::new(Broker::new(Duration::from_secs(5), kill));
        let caller = tokio::spawn({
            let broker = broker.clone();
            async move { broker.invoke(Bytes::new()).await }
        });
        broker.wait_for_work().await;
        broker.fail_queued(&Bytes::from_static(b"init"));
        assert_eq!(
            caller.await.expect("joins"),
            Outcome::InitError(Bytes::from_static(b"init"))
        );
    }

    #[tokio::test]
    async fn with_concurrency_several_invocations_are_in_flight_and_each_answer_finds_its_caller() {
        let (kill, mut kill_rx) = mpsc::unbounded_channel();
        let broker = std::sync::Arc::new(Broker::with_concurrency(Duration::from_secs(5), kill, 2));
        let callers: Vec<_> = [b"a", b"b"]
            .into_iter()
            .map(|event| {
                let broker = broker.clone();
                tokio::spawn(async move { broker.invoke(Bytes::from_static(event)).await })
            })
            .collect();
        let first = broker.next().await;
        let second = broker.next().await;
        // Answered in the opposite order, each with its own event echoed back.
        assert!(broker.settle(&second.request_id, Outcome::Response(second.event.clone())));
        assert!(broker.settle(&first.request_id, Outcome::Response(first.event.clone())));
        let mut answers = Vec::new();
        for caller in callers {
            answers.push(caller.await.expect("joins"));
        }
        assert_eq!(
            answers,
            [
                Outcome::Response(Bytes::from_static(b"a")),
                Outcome::Response(Bytes::from_static(b"b"))
            ]
        );
        assert!(kill_rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn with_concurrency_a_missed_deadline_does_not_kill_the_runtime() {
        let (kill, mut kill_rx) = mpsc::unbounded_channel();
        let broker = std::sync::Arc::new(Broker::with_concurrency(Duration::from_millis(10), kill, 4));
        let caller = tokio::spawn({
            let broker = broker.clone();
            async move { broker.invoke(Bytes::new()).await }
        });
        let _delivered = broker.next().await;
        assert_eq!(caller.await.expect("joins"), Outcome::Timeout);
        assert!(kill_rx.try_recv().is_err());
    }

    #[test]
    fn a_prelude_ends_at_the_first_eight_nuls() {
        assert_eq!(
            split_prelude(b"{\"statusCode\":200}\0\0\0\0\0\0\0\0body\0"),
            Some((&b"{\"statusCode\":200}"[..], &b"body\0"[..]))
        );
        assert_eq!(split_prelude(b"{\"statusCode\":200}\0\0\0"), None);
    }

    #[test]
    fn ids_are_unique() {
        let (kill, _kill_rx) = mpsc::unbounded_channel();
        let broker = Broker::new(Duration::from_secs(1), kill);
        assert_ne!(broker.new_request_id(), broker.new_request_id());
        assert!(broker.new_trace_id().starts_with("Root=1-"));
    }
}
