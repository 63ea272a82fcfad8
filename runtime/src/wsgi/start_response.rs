//! The `start_response` callable (PEP 3333): validates the status and headers strictly, so
//! nothing can smuggle a header line into the response, and implements `write()` and the
//! `exc_info` rules.

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// The `start_response` callable handed to the application.
#[pyclass(module = "lambda_wsgi")]
pub(super) struct StartResponse {
    pub(super) status: Option<(u16, String)>,
    pub(super) headers: Vec<(String, String)>,
    /// Bytes passed to `write()`; they precede the iterable's.
    pub(super) written: Vec<u8>,
    /// Body bytes exist, so the headers count as sent (PEP 3333's exc_info rule).
    pub(super) body_started: bool,
    /// The first protocol violation; it turns the response into a 500 whatever the app does next.
    pub(super) violation: Option<String>,
    /// How many bytes `written` may hold (a buffered response's limit).
    write_cap: usize,
    /// Set when write() output passed `write_cap`: the bytes written in all.
    pub(super) write_overflow: Option<usize>,
}

impl StartResponse {
    /// A `start_response` whose `write()` raises once its waiting output passes `write_cap`.
    pub(super) fn with_write_cap(write_cap: usize) -> Self {
        StartResponse {
            status: None,
            headers: Vec::new(),
            written: Vec::new(),
            body_started: false,
            violation: None,
            write_cap,
            write_overflow: None,
        }
    }

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
        let bytes = bytes.as_bytes();
        if bytes.is_empty() {
            return Ok(());
        }
        self.body_started = true;
        let collected = self.written.len().saturating_add(bytes.len());
        if self.write_overflow.is_some() || collected > self.write_cap {
            // Like a server's write() to a client that went away: the body cannot be delivered.
            let total = self.write_overflow.get_or_insert(collected);
            self.written = Vec::new();
            return Err(PyRuntimeError::new_err(format!(
                "the response body passed {total} bytes, over the {}-byte limit of a buffered Lambda response",
                self.write_cap
            )));
        }
        self.written.extend_from_slice(bytes);
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
