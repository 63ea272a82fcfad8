//! Python exceptions and objects turned into text, while the interpreter is attached: used by
//! the per-request code here and by `interpreter` at init (which builds on `wsgi/`, never the
//! other way round).

use pyo3::prelude::*;

use crate::error::AppError;

/// The Python type name of `object`, for messages.
pub(crate) fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string())
}

/// `TypeName: message`.
pub(crate) fn describe(py: Python<'_>, err: &PyErr) -> String {
    let type_name = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if message.is_empty() {
        type_name
    } else {
        format!("{type_name}: {message}")
    }
}

/// The formatted traceback lines of `err`, via support.format_exception.
pub(crate) fn traceback(support: &Bound<'_, PyModule>, err: &PyErr) -> Vec<String> {
    let py = support.py();
    support
        .call_method1("format_exception", (err.value(py), err.traceback(py)))
        .and_then(|lines| lines.extract::<Vec<String>>())
        .unwrap_or_else(|format_err| vec![format!("(traceback unavailable: {format_err})")])
}

/// An exception the app raised, as text.
pub(crate) fn raised(py: Python<'_>, support: &Bound<'_, PyModule>, err: &PyErr) -> AppError {
    AppError::Raised {
        type_name: err
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".to_owned()),
        message: err.value(py).str().map(|s| s.to_string()).unwrap_or_default(),
        traceback: traceback(support, err),
    }
}
