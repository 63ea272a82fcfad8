//! Invocations that are not HTTP requests: WSGI_EVENT_HANDLER and management commands. Each
//! result is JSON text for Lambda to return as is.

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::{WsgiApp, context::LambdaContext, raised};
use crate::context::InvocationContext;
use crate::error::AppError;

impl WsgiApp {
    /// Whether WSGI_EVENT_HANDLER was set.
    pub fn has_event_handler(&self) -> bool {
        self.event_handler.is_some()
    }

    /// `handler(event, context)`, as the managed Python runtime calls a handler; `None` when no
    /// handler is configured.
    pub fn handle_event(&self, event: &str, context: &InvocationContext) -> Option<Result<String, AppError>> {
        let handler = self.event_handler.as_ref()?;
        Some(self.json_from_support(context, |py, support| {
            let context = Bound::new(py, LambdaContext::from(context))?;
            support.call_method1("call_event_handler", (handler.bind(py), event, context))
        }))
    }

    /// A Django management command or Flask CLI command, against the app of mount `mount` as it
    /// was imported (a Flask CLI needs the Flask object, not a middleware around it); its exit
    /// code and output as JSON.
    pub fn manage(&self, args: &[String], mount: usize, context: &InvocationContext) -> Result<String, AppError> {
        let Some(app) = self.imported_apps.get(mount) else {
            return Err(AppError::Protocol(format!(
                "BUG: a management command for mount {mount} of {}",
                self.imported_apps.len()
            )));
        };
        self.json_from_support(context, |py, support| {
            support.call_method1("run_manage", (app.bind(py), PyList::new(py, args)?))
        })
    }

    /// Starts the invocation (request id, trace id), then runs `call`, whose result is the JSON
    /// text support.py made; any exception becomes an [`AppError`] with its traceback.
    fn json_from_support<'a>(
        &self,
        context: &InvocationContext,
        call: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyModule>) -> PyResult<Bound<'py, PyAny>> + 'a,
    ) -> Result<String, AppError> {
        Python::attach(|py| {
            let support = self.support.bind(py);
            self.begin(py, context)
                .and_then(|()| call(py, support))
                .and_then(|json| json.extract::<String>())
                .map_err(|err| raised(py, support, &err))
        })
    }
}
