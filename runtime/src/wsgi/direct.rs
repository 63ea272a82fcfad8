//! Invocations that are not HTTP requests: WSGI_EVENT_HANDLER and management commands. Each
//! result is JSON text for Lambda to return as is.

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::{WsgiApp, context::LambdaContext, raised};
use crate::error::AppError;
use crate::invoke::InvocationContext;

impl WsgiApp {
    /// Whether WSGI_EVENT_HANDLER was set.
    pub fn has_event_handler(&self) -> bool {
        self.event_handler.is_some()
    }

    /// `handler(event, context)`, as the managed Python runtime calls a handler; `None` when no
    /// handler is configured.
    pub fn handle_event(&self, event: &str, context: &InvocationContext) -> Option<Result<String, AppError>> {
        let handler = self.event_handler.as_ref()?;
        Some(Python::attach(|py| {
            let support = self.support.bind(py);
            self.begin(py, context).map_err(|err| raised(py, support, &err))?;
            let context = Bound::new(py, LambdaContext::from(context)).map_err(|err| raised(py, support, &err))?;
            support
                .call_method1("call_event_handler", (handler.bind(py), event, context))
                .and_then(|json| json.extract::<String>())
                .map_err(|err| raised(py, support, &err))
        }))
    }

    /// A Django management command or Flask CLI command; its exit code and output as JSON.
    pub fn manage(&self, args: &[String], context: &InvocationContext) -> Result<String, AppError> {
        Python::attach(|py| {
            let support = self.support.bind(py);
            self.begin(py, context).map_err(|err| raised(py, support, &err))?;
            let args = PyList::new(py, args).map_err(|err| raised(py, support, &err))?;
            support
                .call_method1("run_manage", (self.app.bind(py), args))
                .and_then(|json| json.extract::<String>())
                .map_err(|err| raised(py, support, &err))
        })
    }
}
