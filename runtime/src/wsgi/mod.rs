//! `Environ` -> app call -> `AppResponse`: the per-request Python side (PEP 3333).
//!
//! With `interpreter.rs`, the only pyo3 code. Nothing Python leaves this module: exceptions
//! come out as `AppError` text, formatted while the interpreter is attached. The objects the
//! app is handed live beside it: `start_response`, `wsgi.file_wrapper`, `lambda.context`.

mod context;
mod deadline;
mod direct;
pub(crate) mod errors;
mod file_wrapper;
mod lifecycle;
mod start_response;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::context::InvocationContext;
use crate::environ::{self, Environ};
use crate::error::AppError;
use crate::response::{AppResponse, BodyCap};

use self::context::LambdaContext;
use self::deadline::DeadlineGuard;
use self::errors::raised;
use self::file_wrapper::FileWrapper;
pub use self::lifecycle::Forked;
use self::start_response::StartResponse;

/// The keys `to_dict` adds beside the environ's own.
const DICT_KEYS: &[&str] = &["wsgi.input", "lambda.event", "lambda.context"];

/// The imported application plus what every request needs, built once at init.
pub struct WsgiApp {
    /// Each mount's application, wrapped in its middleware, in table order (`Environ::mount`).
    apps: Vec<Py<PyAny>>,
    /// Each mount's application as imported, before its middleware: what management commands
    /// run against.
    imported_apps: Vec<Py<PyAny>>,
    /// The keys that never change (`wsgi.version`, `wsgi.errors`, ...), copied per request
    /// instead of rebuilt. Never `os.environ`: on Lambda it holds the AWS credentials.
    base_environ: Py<PyDict>,
    /// Environ keys made once, interned: the runtime's own, the ones `to_dict` adds, and the
    /// commonest request headers' (`environ::COMMON_HEADERS`).
    keys: foldhash::HashMap<&'static str, Py<PyString>>,
    bytes_io: Py<PyAny>,
    lambda_event: Py<PyAny>,
    begin_invocation: Py<PyAny>,
    /// Whether each invocation announces itself to Python (`begin_invocation`): not under a
    /// managed runtime, which has set the trace id and its log records' request id already.
    announce: bool,
    /// WSGI_EVENT_HANDLER, imported.
    event_handler: Option<Py<PyAny>>,
    support: Py<PyModule>,
    /// WSGI_DEADLINE_MARGIN_MS; the guard itself starts with serving ([`WsgiApp::start_serving`]).
    deadline_margin: std::time::Duration,
    deadline: Option<DeadlineGuard>,
}

impl WsgiApp {
    /// Prepares the per-request machinery around `app`.
    pub(crate) fn new(
        py: Python<'_>,
        apps: Vec<Bound<'_, PyAny>>,
        imported_apps: Vec<Bound<'_, PyAny>>,
        event_handler: Option<Bound<'_, PyAny>>,
        support: &Bound<'_, PyModule>,
        deadline_margin: std::time::Duration,
        announce: bool,
    ) -> PyResult<Self> {
        let base = PyDict::new(py);
        base.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
        base.set_item("wsgi.errors", py.import("sys")?.getattr("stderr")?)?;
        base.set_item("wsgi.multithread", false)?;
        base.set_item("wsgi.multiprocess", false)?;
        // One environment serves many invocations.
        base.set_item("wsgi.run_once", false)?;
        // The body is fully buffered, so reading to EOF is always safe.
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        let keys = environ::KEYS
            .iter()
            .chain(DICT_KEYS)
            .copied()
            .chain(environ::COMMON_HEADERS.iter().map(|&(_, key)| key))
            .map(|key| (key, PyString::intern(py, key).unbind()))
            .collect();
        Ok(WsgiApp {
            apps: apps.into_iter().map(Bound::unbind).collect(),
            imported_apps: imported_apps.into_iter().map(Bound::unbind).collect(),
            base_environ: base.unbind(),
            keys,
            bytes_io: py.import("io")?.getattr("BytesIO")?.unbind(),
            lambda_event: support.getattr("LambdaEvent")?.unbind(),
            begin_invocation: support.getattr("begin_invocation")?.unbind(),
            announce,
            event_handler: event_handler.map(Bound::unbind),
            support: support.clone().unbind(),
            deadline_margin,
            deadline: None,
        })
    }

    /// Starts what serving needs beyond the imported app: the deadline guard's thread and
    /// signal handler. Called in the process that serves, after any snapshot or fork (neither
    /// keeps threads), on the thread that will run the app.
    pub fn start_serving(&mut self) -> Result<(), AppError> {
        let margin = self.deadline_margin;
        self.deadline = Python::attach(|py| {
            let support = self.support.bind(py);
            DeadlineGuard::start(support, margin).map_err(|err| raised(py, support, &err))
        })?;
        Ok(())
    }

    /// Calls the application once and buffers its response. `event` is the raw event JSON,
    /// exposed lazily as `lambda.event`. A body past `cap` stops the reading (the iterable is
    /// closed) and is [`AppError::ResponseTooLarge`]; for HEAD (`is_head`) the body is read and
    /// dropped, since none is sent.
    pub fn call(
        &self,
        environ: Environ,
        event: &str,
        context: &InvocationContext,
        cap: BodyCap<'_>,
        is_head: bool,
    ) -> Result<AppResponse, AppError> {
        let mut buffer = Buffered::new(cap, is_head);
        let streamed = self.stream(environ, event, context, &mut buffer);
        // Too large explains whatever came after: write() raised, or the iterable was closed early.
        if buffer.too_large.is_none() {
            streamed?;
        }
        buffer.into_response()
    }

    /// Calls the application once, handing `sink` the status and headers before the first body
    /// byte and then each chunk as the app yields it. An error after `head` means the response
    /// broke off midway.
    pub fn stream(
        &self,
        environ: Environ,
        event: &str,
        context: &InvocationContext,
        sink: &mut dyn BodySink,
    ) -> Result<(), AppError> {
        let Some(app) = self.apps.get(environ.mount) else {
            return Err(AppError::Protocol(format!(
                "BUG: the request was routed to mount {} of {}",
                environ.mount,
                self.apps.len()
            )));
        };
        Python::attach(|py| {
            let support = self.support.bind(py);
            let raised = |err: PyErr| raised(py, support, &err);
            self.begin(py, context).map_err(raised)?;
            let environ = self.to_dict(py, environ, event, context).map_err(raised)?;
            let start_response = Bound::new(py, StartResponse::with_write_cap(sink.write_cap())).map_err(raised)?;
            let guarded = self.deadline.as_ref().map_or(0, |guard| guard.arm(context.deadline_ms));
            let result = app.bind(py).call1((environ, &start_response));
            let mut body = Body {
                start_response: &start_response,
                sink,
                head_sent: false,
            };
            let outcome = match result {
                Ok(iterable) => {
                    let iterated = body.read(&iterable).map_err(|e| e.into_app_error(py, support));
                    // PEP 3333: close() is called whatever happened while iterating.
                    let closed = close(&iterable).map_err(raised);
                    iterated.and(closed)
                }
                Err(err) => Err(raised(err)),
            };
            if let Some(guard) = &self.deadline {
                let interrupted = guard.disarm(guarded);
                // A signal sent just before disarming may still be pending: let its handler run
                // now, inside this invocation, rather than in the next one.
                let pending = py.check_signals();
                if interrupted || pending.is_err() {
                    return Err(AppError::DeadlineExceeded {
                        margin_ms: guard.margin().as_millis(),
                    });
                }
            }
            // write() output past the sink's cap: write() raised, which explains any exception
            // the app raised after it.
            if let Some(collected) = start_response.borrow_mut().write_overflow.take() {
                body.sink.overflow(collected);
            }
            // A protocol violation explains any exception it caused, so it is reported first.
            if let Some(violation) = start_response.borrow_mut().violation.take() {
                return Err(AppError::Protocol(violation));
            }
            outcome?;
            // An empty body: the head goes out now, with whatever write() produced.
            body.send_head().map(drop).map_err(|e| e.into_app_error(py, support))
        })
    }

    /// The request id for log records, and the trace id in os.environ (X-Ray SDKs read it
    /// there; std::env::set_var would be invisible to Python, and leaks).
    fn begin(&self, py: Python<'_>, context: &InvocationContext) -> PyResult<()> {
        if !self.announce {
            return Ok(());
        }
        self.begin_invocation
            .call1(py, (&context.request_id, context.trace_id.as_deref()))
            .map(drop)
    }

    /// Lambda's shutdown phase: the app's atexit handlers run and its output is flushed.
    pub fn shutdown(&self) {
        Python::attach(|py| {
            if let Err(err) = self.support.bind(py).call_method0("shutdown") {
                tracing::error!("an atexit handler failed at shutdown: {}", errors::describe(py, &err));
            }
        });
    }

    /// The key object for `key`: from the table when it is there, else a new string.
    fn key<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyString> {
        match self.keys.get(key) {
            Some(interned) => interned.bind(py).clone(),
            None => PyString::new(py, key),
        }
    }

    fn to_dict<'py>(
        &self,
        py: Python<'py>,
        environ: Environ,
        event: &str,
        context: &InvocationContext,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = self.base_environ.bind(py).copy()?;
        for (key, value) in &environ.vars {
            dict.set_item(self.key(py, key), value)?;
        }
        dict.set_item(
            self.key(py, "wsgi.input"),
            self.bytes_io.bind(py).call1((PyBytes::new(py, &environ.body),))?,
        )?;
        dict.set_item(
            self.key(py, "lambda.event"),
            self.lambda_event.bind(py).call1((event,))?,
        )?;
        dict.set_item(
            self.key(py, "lambda.context"),
            Bound::new(py, LambdaContext::from(context))?,
        )?;
        Ok(dict)
    }
}

/// Why collecting the body stopped.
enum BodyError {
    Raised(PyErr),
    Protocol(String),
}

impl BodyError {
    fn into_app_error(self, py: Python<'_>, support: &Bound<'_, PyModule>) -> AppError {
        match self {
            Self::Raised(err) => raised(py, support, &err),
            Self::Protocol(what) => AppError::Protocol(what),
        }
    }
}

impl From<PyErr> for BodyError {
    fn from(err: PyErr) -> Self {
        Self::Raised(err)
    }
}

/// Where a response goes: buffered whole ([`WsgiApp::call`]) or streamed as produced.
pub trait BodySink {
    /// The status line and headers, once, before any body byte (the headers are handed over:
    /// nothing reads them after this).
    fn head(&mut self, status: u16, reason: &str, headers: Vec<(String, String)>);
    /// A body chunk: taken, refused (nobody reads any more: the app is then closed early), or
    /// to be waited for.
    fn data(&mut self, chunk: &[u8]) -> Offer;
    /// How many bytes `write()` may hold before the body is handed over (they wait for the
    /// iterable); past it, `write()` raises and [`BodySink::overflow`] is called.
    fn write_cap(&self) -> usize {
        usize::MAX
    }
    /// `write()` output passed [`BodySink::write_cap`]: `collected` bytes had come.
    fn overflow(&mut self, _collected: usize) {}
}

/// What a sink did with a chunk.
pub enum Offer {
    /// Taken.
    Taken,
    /// Refused: nobody is reading any more.
    Closed,
    /// No room yet: the wait, run with the GIL released so the app's other threads and the
    /// deadline guard carry on meanwhile; true once the chunk is taken.
    Wait(Box<dyn FnOnce() -> bool + Send>),
}

impl Offer {
    /// Waits if need be (call it without the GIL); true once the chunk is taken.
    pub fn settle(self) -> bool {
        match self {
            Offer::Taken => true,
            Offer::Closed => false,
            Offer::Wait(wait) => wait(),
        }
    }
}

/// The sink behind [`WsgiApp::call`].
struct Buffered<'a> {
    /// Status, reason and headers.
    head: Option<(u16, String, Headers)>,
    body: Vec<u8>,
    cap: BodyCap<'a>,
    /// `cap` for this response's headers, once they are known.
    raw_limit: usize,
    /// False for HEAD: nothing of the body is sent, so nothing is kept.
    keep: bool,
    /// Set when the body passed `raw_limit`: how many bytes had come.
    too_large: Option<usize>,
}

type Headers = Vec<(String, String)>;

impl<'a> Buffered<'a> {
    fn new(cap: BodyCap<'a>, is_head: bool) -> Self {
        Buffered {
            head: None,
            body: Vec::new(),
            cap,
            raw_limit: cap.json_limit,
            keep: !is_head,
            too_large: None,
        }
    }
}

impl BodySink for Buffered<'_> {
    fn write_cap(&self) -> usize {
        // Before the headers are known, the larger (text) bound; HEAD keeps write()'s old
        // behaviour, since no body is sent and none is too large.
        if self.keep { self.cap.json_limit } else { usize::MAX }
    }
    fn overflow(&mut self, collected: usize) {
        self.too_large.get_or_insert(collected);
        self.body = Vec::new();
    }
    fn head(&mut self, status: u16, reason: &str, headers: Vec<(String, String)>) {
        self.raw_limit = self.cap.raw_limit(&headers);
        self.head = Some((status, reason.to_owned(), headers));
    }
    fn data(&mut self, chunk: &[u8]) -> Offer {
        if self.too_large.is_some() {
            return Offer::Closed;
        }
        if !self.keep {
            return Offer::Taken;
        }
        let collected = self.body.len().saturating_add(chunk.len());
        if collected > self.raw_limit {
            self.too_large = Some(collected);
            self.body = Vec::new();
            return Offer::Closed;
        }
        self.body.extend_from_slice(chunk);
        Offer::Taken
    }
}

impl Buffered<'_> {
    fn into_response(self) -> Result<AppResponse, AppError> {
        if let Some(collected) = self.too_large {
            return Err(AppError::ResponseTooLarge {
                collected,
                raw_limit: self.raw_limit,
            });
        }
        let (status, reason, headers) = self
            .head
            .ok_or_else(|| AppError::Protocol("the application returned without calling start_response".into()))?;
        Ok(AppResponse {
            status,
            reason,
            headers,
            body: self.body,
        })
    }
}

/// The response body on its way from the app's iterable to a sink.
struct Body<'a, 'py> {
    start_response: &'a Bound<'py, StartResponse>,
    sink: &'a mut dyn BodySink,
    head_sent: bool,
}

impl Body<'_, '_> {
    /// Reads the iterable until it ends or the sink wants no more. Lists and tuples of bytes
    /// (the common case) skip the iterator protocol, and a `wsgi.file_wrapper` is read with
    /// `read(block_size)` calls, so a large file is never held whole.
    fn read(&mut self, iterable: &Bound<'_, PyAny>) -> Result<(), BodyError> {
        if let Ok(wrapper) = iterable.cast::<FileWrapper>() {
            let wrapper = wrapper.get();
            let filelike = wrapper.filelike.bind(iterable.py());
            let read = pyo3::intern!(iterable.py(), "read");
            loop {
                let chunk = filelike.call_method1(read, (wrapper.block_size,))?;
                if !chunk.is_truthy()? || !self.push(&chunk)? {
                    break;
                }
            }
        } else if let Ok(list) = iterable.cast::<PyList>() {
            for chunk in list.iter() {
                if !self.push(&chunk)? {
                    break;
                }
            }
        } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
            for chunk in tuple.iter() {
                if !self.push(&chunk)? {
                    break;
                }
            }
        } else {
            let iterator = iterable.try_iter().map_err(|_| {
                let type_name = errors::type_name(iterable);
                BodyError::Protocol(format!(
                    "the application returned {type_name}, not an iterable of bytes"
                ))
            })?;
            for chunk in iterator {
                if !self.push(&chunk?)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One chunk from the app; false when the sink wants no more.
    fn push(&mut self, chunk: &Bound<'_, PyAny>) -> Result<bool, BodyError> {
        let Ok(bytes) = chunk.cast::<PyBytes>() else {
            let type_name = errors::type_name(chunk);
            return Err(BodyError::Protocol(format!(
                "the application yielded {type_name}; body chunks must be bytes"
            )));
        };
        let bytes = bytes.as_bytes();
        if bytes.is_empty() {
            return Ok(true);
        }
        if self.start_response.borrow().status.is_none() {
            return Err(BodyError::Protocol(
                "the application yielded body data before calling start_response".into(),
            ));
        }
        self.start_response.borrow_mut().body_started = true;
        if !self.send_head()? {
            return Ok(false);
        }
        Ok(self.offer(bytes))
    }

    /// Sends the status and headers unless they went already, then any write() output waiting;
    /// false when the sink wants no more.
    fn send_head(&mut self) -> Result<bool, BodyError> {
        let mut state = self.start_response.borrow_mut();
        if !self.head_sent {
            let Some((status, reason)) = state.status.clone() else {
                return Err(BodyError::Protocol(
                    "the application returned without calling start_response".into(),
                ));
            };
            // Once they are sent, start_response may only re-raise (exc_info) or fail: nothing
            // reads the headers again, so they are moved out rather than copied.
            let headers = std::mem::take(&mut state.headers);
            self.sink.head(status, &reason, headers);
            self.head_sent = true;
        }
        let written = std::mem::take(&mut state.written);
        drop(state);
        Ok(written.is_empty() || self.offer(&written))
    }

    /// Hands `bytes` to the sink; a slow reader is waited for without the GIL, so that the
    /// app's other threads run on. False when the sink wants no more.
    fn offer(&mut self, bytes: &[u8]) -> bool {
        match self.sink.data(bytes) {
            Offer::Taken => true,
            Offer::Closed => false,
            Offer::Wait(wait) => self.start_response.py().detach(wait),
        }
    }
}

/// Calls `close()` when the object has one.
fn close(iterable: &Bound<'_, PyAny>) -> PyResult<()> {
    // Lists and tuples (most responses) have none; asking costs a raised AttributeError.
    if iterable.is_exact_instance_of::<PyList>() || iterable.is_exact_instance_of::<PyTuple>() {
        return Ok(());
    }
    if iterable.hasattr(pyo3::intern!(iterable.py(), "close"))? {
        iterable.call_method0(pyo3::intern!(iterable.py(), "close"))?;
    }
    Ok(())
}
