//! `Environ` -> app call -> `AppResponse`: the per-request Python side (PEP 3333).
//!
//! With `interpreter.rs`, the only pyo3 code. Nothing Python leaves this file: exceptions come
//! out as `AppError` text, formatted while the interpreter is attached.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::environ::Environ;
use crate::error::AppError;
use crate::interpreter;
use crate::invoke::InvocationContext;
use crate::response::AppResponse;

/// The imported application plus what every request needs, built once at init.
pub struct WsgiApp {
    app: Py<PyAny>,
    /// The keys that never change (`wsgi.version`, `wsgi.errors`, ...), copied per request
    /// instead of rebuilt. Never `os.environ`: on Lambda it holds the AWS credentials.
    base_environ: Py<PyDict>,
    bytes_io: Py<PyAny>,
    lambda_event: Py<PyAny>,
    os_environ: Py<PyAny>,
    support: Py<PyModule>,
}

impl WsgiApp {
    /// Prepares the per-request machinery around `app`.
    pub(crate) fn new(py: Python<'_>, app: Bound<'_, PyAny>, support: &Bound<'_, PyModule>) -> PyResult<Self> {
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
        Ok(WsgiApp {
            app: app.unbind(),
            base_environ: base.unbind(),
            bytes_io: py.import("io")?.getattr("BytesIO")?.unbind(),
            lambda_event: support.getattr("LambdaEvent")?.unbind(),
            os_environ: py.import("os")?.getattr("environ")?.unbind(),
            support: support.clone().unbind(),
        })
    }

    /// Calls the application once. `event` is the raw event JSON, exposed lazily as `lambda.event`.
    pub fn call(&self, environ: Environ, event: &str, context: &InvocationContext) -> Result<AppResponse, AppError> {
        Python::attach(|py| {
            let support = self.support.bind(py);
            let raised = |err: PyErr| raised(py, support, &err);
            if let Some(trace_id) = &context.trace_id {
                // X-Ray SDKs read it from os.environ; std::env::set_var would be invisible to Python.
                self.os_environ
                    .bind(py)
                    .set_item("_X_AMZN_TRACE_ID", trace_id)
                    .map_err(raised)?;
            }
            let environ = self.to_dict(py, environ, event, context).map_err(raised)?;
            let start_response = Bound::new(py, StartResponse::default()).map_err(raised)?;
            let result = self.app.bind(py).call1((environ, &start_response));
            let outcome = match result {
                Ok(iterable) => {
                    let body = collect_body(&iterable, &start_response).map_err(|e| e.into_app_error(py, support));
                    // PEP 3333: close() is called whatever happened while iterating.
                    let closed = close(&iterable).map_err(raised);
                    body.and_then(|body| closed.map(|()| body))
                }
                Err(err) => Err(raised(err)),
            };
            let mut state = start_response.borrow_mut();
            // A protocol violation explains any exception it caused, so it is reported first.
            if let Some(violation) = state.violation.take() {
                return Err(AppError::Protocol(violation));
            }
            let body = outcome?;
            let Some((status, reason)) = state.status.take() else {
                return Err(AppError::Protocol(
                    "the application returned without calling start_response".into(),
                ));
            };
            // write() output comes first; usually there is none and the iterable's bytes are reused.
            let mut full_body = std::mem::take(&mut state.written);
            if full_body.is_empty() {
                full_body = body;
            } else {
                full_body.extend_from_slice(&body);
            }
            Ok(AppResponse {
                status,
                reason,
                headers: std::mem::take(&mut state.headers),
                body: full_body,
            })
        })
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
            let key = match key {
                std::borrow::Cow::Borrowed(name) => PyString::intern(py, name),
                std::borrow::Cow::Owned(name) => PyString::new(py, name),
            };
            dict.set_item(key, value)?;
        }
        dict.set_item(
            "wsgi.input",
            self.bytes_io.bind(py).call1((PyBytes::new(py, &environ.body),))?,
        )?;
        dict.set_item("lambda.event", self.lambda_event.bind(py).call1((event,))?)?;
        dict.set_item("lambda.context", Bound::new(py, LambdaContext::from(context))?)?;
        Ok(dict)
    }
}

fn raised(py: Python<'_>, support: &Bound<'_, PyModule>, err: &PyErr) -> AppError {
    AppError::Raised {
        type_name: err
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".to_owned()),
        message: err.value(py).str().map(|s| s.to_string()).unwrap_or_default(),
        traceback: interpreter::traceback(support, err),
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

/// Reads the whole iterable. Lists and tuples of bytes (the common case) skip the iterator
/// protocol, and a `wsgi.file_wrapper` is read in one call.
fn collect_body(iterable: &Bound<'_, PyAny>, start_response: &Bound<'_, StartResponse>) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    if let Ok(wrapper) = iterable.cast::<FileWrapper>() {
        let chunk = wrapper.get().filelike.bind(iterable.py()).call_method0("read")?;
        push_chunk(&mut body, &chunk, start_response)?;
    } else if let Ok(list) = iterable.cast::<PyList>() {
        for chunk in list.iter() {
            push_chunk(&mut body, &chunk, start_response)?;
        }
    } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
        for chunk in tuple.iter() {
            push_chunk(&mut body, &chunk, start_response)?;
        }
    } else {
        let iterator = iterable.try_iter().map_err(|_| {
            let type_name = iterable
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into());
            BodyError::Protocol(format!(
                "the application returned {type_name}, not an iterable of bytes"
            ))
        })?;
        for chunk in iterator {
            push_chunk(&mut body, &chunk?, start_response)?;
        }
    }
    Ok(body)
}

fn push_chunk(
    body: &mut Vec<u8>,
    chunk: &Bound<'_, PyAny>,
    start_response: &Bound<'_, StartResponse>,
) -> Result<(), BodyError> {
    let Ok(bytes) = chunk.cast::<PyBytes>() else {
        let type_name = chunk
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(BodyError::Protocol(format!(
            "the application yielded {type_name}; body chunks must be bytes"
        )));
    };
    let bytes = bytes.as_bytes();
    if bytes.is_empty() {
        return Ok(());
    }
    let mut state = start_response.borrow_mut();
    if state.status.is_none() {
        return Err(BodyError::Protocol(
            "the application yielded body data before calling start_response".into(),
        ));
    }
    state.body_started = true;
    body.extend_from_slice(bytes);
    Ok(())
}

fn close(iterable: &Bound<'_, PyAny>) -> PyResult<()> {
    if iterable.hasattr("close")? {
        iterable.call_method0("close")?;
    }
    Ok(())
}

/// The `start_response` callable handed to the application.
#[pyclass(module = "lambda_wsgi")]
#[derive(Default)]
struct StartResponse {
    status: Option<(u16, String)>,
    headers: Vec<(String, String)>,
    /// Bytes passed to `write()`; they precede the iterable's.
    written: Vec<u8>,
    /// Body bytes exist, so the headers count as sent (PEP 3333's exc_info rule).
    body_started: bool,
    /// The first protocol violation; it turns the response into a 500 whatever the app does next.
    violation: Option<String>,
}

impl StartResponse {
    fn violate(&mut self, err: PyErr, what: String) -> PyErr {
        self.violation.get_or_insert(what);
        err
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        slf: &Bound<'_, Self>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let mut state = slf.borrow_mut();
            match exc_info {
                // Headers already went out: the only honest thing left is to re-raise.
                Some(info) if state.body_started => return Err(PyErr::from_value(info.get_item(1)?)),
                Some(_) => {}
                None if state.status.is_some() => {
                    let what = "start_response was called a second time without exc_info".to_owned();
                    return Err(state.violate(PyRuntimeError::new_err(what.clone()), what));
                }
                None => {}
            }
            let parsed = parse_status(status).and_then(|s| parse_headers(headers).map(|h| (s, h)));
            match parsed {
                Ok((status, headers)) => {
                    state.status = Some(status);
                    state.headers = headers;
                }
                Err(what) => return Err(state.violate(PyValueError::new_err(what.clone()), what)),
            }
        }
        Ok(slf.getattr("write")?.unbind())
    }

    /// The legacy `write()` callable; its bytes come before the iterable's.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.status.is_none() {
            let what = "write() was called before start_response".to_owned();
            return Err(self.violate(PyRuntimeError::new_err(what.clone()), what));
        }
        let Ok(bytes) = data.cast::<PyBytes>() else {
            let what = "write() takes bytes".to_owned();
            return Err(self.violate(PyTypeError::new_err(what.clone()), what));
        };
        if !bytes.as_bytes().is_empty() {
            self.body_started = true;
            self.written.extend_from_slice(bytes.as_bytes());
        }
        Ok(())
    }
}

/// `"200 OK"` -> `(200, "OK")`: three digits, a space, a reason without control characters.
fn parse_status(status: &Bound<'_, PyAny>) -> Result<(u16, String), String> {
    let Ok(status) = status.cast::<PyString>() else {
        return Err("the status must be a str like '200 OK'".into());
    };
    let text = status.to_string();
    let bytes = text.as_bytes();
    let valid = bytes.len() >= 4
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && bytes[0] != b'0'
        && bytes[3] == b' '
        && !text.chars().any(char::is_control);
    if !valid {
        return Err(format!(
            "invalid status {text:?}: it must be three digits, a space and a reason, like '200 OK'"
        ));
    }
    let code = text[..3]
        .parse::<u16>()
        .map_err(|e| format!("invalid status {text:?}: {e}"))?;
    Ok((code, text[4..].to_owned()))
}

/// A list of `(name, value)` str pairs; names are HTTP tokens, values Latin-1 without CR/LF, so
/// nothing can smuggle a header line into the response.
fn parse_headers(headers: &Bound<'_, PyAny>) -> Result<Vec<(String, String)>, String> {
    let iterator = headers
        .try_iter()
        .map_err(|_| "response headers must be a list of (name, value) tuples".to_owned())?;
    let mut parsed = Vec::new();
    for item in iterator {
        let item = item.map_err(|e| format!("reading response headers failed: {e}"))?;
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| format!("response header {item} is not a (name, value) tuple"))?;
        let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
            return Err(format!("response header {item} must be a pair of str"));
        };
        let (name, value) = (name.to_string(), value.to_string());
        let is_token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(format!("response header name {name:?} is not a valid HTTP token"));
        }
        if let Some(bad) = value
            .chars()
            .find(|&c| c == '\r' || c == '\n' || c == '\0' || u32::from(c) > 0xFF)
        {
            return Err(format!(
                "response header {name} has a forbidden character {bad:?} (CR, LF, NUL and non-Latin-1 are refused)"
            ));
        }
        parsed.push((name, value));
    }
    Ok(parsed)
}

/// `wsgi.file_wrapper`: lets Django's FileResponse and Flask's send_file hand over a file that
/// the runtime reads in one call.
#[pyclass(module = "lambda_wsgi", frozen)]
struct FileWrapper {
    filelike: Py<PyAny>,
    block_size: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, block_size = 8192))]
    fn new(filelike: Py<PyAny>, block_size: usize) -> Self {
        FileWrapper { filelike, block_size }
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let chunk = self.filelike.bind(py).call_method1("read", (self.block_size,))?;
        Ok(if chunk.is_truthy()? { Some(chunk) } else { None })
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        close(self.filelike.bind(py))
    }
}

/// `environ["lambda.context"]`, shaped like the managed Python runtime's context object.
#[pyclass(module = "lambda_wsgi", frozen, get_all)]
struct LambdaContext {
    aws_request_id: String,
    function_name: String,
    function_version: String,
    invoked_function_arn: String,
    memory_limit_in_mb: i32,
    log_group_name: String,
    log_stream_name: String,
    deadline_ms: u64,
}

impl From<&InvocationContext> for LambdaContext {
    fn from(c: &InvocationContext) -> Self {
        LambdaContext {
            aws_request_id: c.request_id.clone(),
            function_name: c.function_name.clone(),
            function_version: c.function_version.clone(),
            invoked_function_arn: c.invoked_function_arn.clone(),
            memory_limit_in_mb: c.memory_limit_in_mb,
            log_group_name: c.log_group_name.clone(),
            log_stream_name: c.log_stream_name.clone(),
            deadline_ms: c.deadline_ms,
        }
    }
}

#[pymethods]
impl LambdaContext {
    fn get_remaining_time_in_millis(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        i64::try_from(i128::from(self.deadline_ms) - i128::try_from(now).unwrap_or(i128::MAX))
            .unwrap_or(0)
            .max(0)
    }

    #[getter]
    fn identity(&self) -> Option<Py<PyAny>> {
        None
    }

    #[getter]
    fn client_context(&self) -> Option<Py<PyAny>> {
        None
    }

    fn __repr__(&self) -> String {
        format!(
            "LambdaContext(aws_request_id={:?}, function_name={:?})",
            self.aws_request_id, self.function_name
        )
    }
}
