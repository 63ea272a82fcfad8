//! Handler mode: `lambda_wsgi.handler` (the app from `WSGI_APP`) and
//! `lambda_wsgi.make_handler(app)`, called by the managed runtime (awslambdaric) with the event
//! it decoded and its context object.
//!
//! The event goes back to JSON text (event_json.rs) and through the same pipeline as
//! in `bootstrap`: `invoke::handle` parses it, builds the environ, calls the app and renders the
//! event source's response, which is handed back as `bytes`: awslambdaric sends `bytes`
//! unchanged, so the response is never decoded into Python objects and encoded again. What the
//! managed runtime owns here (sys.path, logging, the loop, SnapStart, Managed Instances workers)
//! stays its own.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use lambda_wsgi::config::{self, Config, FunctionInfo, InvokeMode};
use lambda_wsgi::context::InvocationContext;
use lambda_wsgi::error::InitError;
use lambda_wsgi::init_error;
use lambda_wsgi::interpreter::{self, Host};
use lambda_wsgi::invoke;
use lambda_wsgi::remote_config;
use lambda_wsgi::runtime_api::ErrorReport;
use lambda_wsgi::wsgi::WsgiApp;

use crate::event_json;

/// Stands in for `WSGI_APP` when the app is handed over by `make_handler(app)`: the settings
/// need an app spec, and nothing is imported by it.
const GIVEN_APP: &str = "lambda_wsgi:make_handler";

/// The runtime's own log lines (Lambda's text or JSON format, `AWS_LAMBDA_LOG_FORMAT`), set up
/// once per process whichever host asks first.
pub fn init_logging() {
    static LOGGING: Once = Once::new();
    LOGGING.call_once(lambda_runtime::tracing::init_default_subscriber);
}

/// A WSGI app ready to answer Lambda events: `handler(event, context)`.
#[pyclass(frozen, module = "lambda_wsgi")]
pub struct Handler {
    app: WsgiApp,
    config: Config,
    function: Arc<FunctionInfo>,
    /// `json.JSONEncoder().encode`, for the events [`event_json`] leaves to it (its escapes
    /// keep a lone surrogate representable).
    encode: Py<PyAny>,
}

#[pymethods]
impl Handler {
    /// Reads the settings from the environment and imports `WSGI_APP`, or wraps `app` when one
    /// is given. A failure is raised as an exception named by its Lambda error type
    /// (`Runtime.ImportModuleError`, ...), which awslambdaric reports as the init error.
    #[new]
    #[pyo3(signature = (app=None))]
    fn new(py: Python<'_>, app: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        init_logging();
        let given = app.is_some();
        // `_HANDLER` is `lambda_wsgi.handler` itself here, never the app: only WSGI_APP names it.
        let lookup = |name: &str| match name {
            config::HANDLER => None,
            config::WSGI_APP if given => Some(GIVEN_APP.to_owned()),
            // make_handler(app) serves the app it is given, at `/`: a mount table is for the
            // handler that imports its apps itself.
            config::WSGI_MOUNTS | config::WSGI_MOUNTS_FILE if given => None,
            _ => std::env::var(name).ok(),
        };
        let started = start(lookup, app).map_err(|err| {
            let report = init_error::init_report(&err);
            tracing::error!(error_type = %report.error_type, "{}\n{}", report.error_message, report.stack_trace.join("\n"));
            lambda_error(py, &report)
        })?;
        let (config, function, app) = started;
        let encode = py.import("json")?.getattr("JSONEncoder")?.call0()?.getattr("encode")?;
        Ok(Handler {
            app,
            config,
            function: Arc::new(function),
            encode: encode.unbind(),
        })
    }

    /// One invocation: the event source's response as JSON bytes, or an exception named by the
    /// Lambda error type for an invocation error (an unsupported event, `WSGI_ERROR_MODE=raise`).
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
        context: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let event = self.event_text(event)?;
        let event = event.as_str();
        let context = invocation_context(context, &self.function)?;
        let span = tracing::info_span!("invoke", requestId = %context.request_id);
        let _entered = span.enter();
        // A panic must not unwind into awslambdaric: pyo3 would raise a BaseException that its
        // loop does not catch, and the environment would die with it.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            invoke::handle(&self.app, &self.config, event, &context)
                .map_err(ErrorReport::from)
                .and_then(|answer| {
                    serde_json::to_vec(&answer).map_err(|err| {
                        ErrorReport::new("Runtime.MarshalError", format!("the answer is not JSON: {err}"))
                    })
                })
        }))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with no message".to_owned());
            tracing::error!("the runtime panicked: {message}");
            Err(ErrorReport::new("Runtime.Panic", message))
        });
        match outcome {
            Ok(body) => Ok(PyBytes::new(py, &body)),
            Err(mut report) => {
                // The JSON path says where the event is wrong; a line and column would point
                // into the re-encoded text above, which the user never sees.
                report.error_message = without_text_position(&report.error_message).to_owned();
                Err(lambda_error(py, &report))
            }
        }
    }
}

impl Handler {
    /// The event as the JSON text it came as: the pipeline parses text, and `lambda.event` is
    /// that text, parsed lazily. What [`event_json`] does not write goes through the json module.
    fn event_text(&self, event: &Bound<'_, PyAny>) -> PyResult<String> {
        if let Ok(text) = event_json::to_json(event) {
            return Ok(text);
        }
        let encoded = self.encode.bind(event.py()).call1((event,))?;
        Ok(encoded.cast::<PyString>()?.to_str()?.to_owned())
    }
}

/// Settings, the function's identity, remote configuration and the app, as `bootstrap`'s init
/// has them, in the interpreter the managed runtime set up.
fn start(
    lookup: impl Fn(&str) -> Option<String> + Copy,
    app: Option<Bound<'_, PyAny>>,
) -> Result<(Config, FunctionInfo, WsgiApp), InitError> {
    let unset = |name: &str| lookup(name).is_none_or(|value| value.trim().is_empty());
    if unset(config::WSGI_APP) && unset(config::WSGI_MOUNTS) && unset(config::WSGI_MOUNTS_FILE) {
        return Err(InitError::MalformedHandler(format!(
            "no WSGI application configured: with the handler lambda_wsgi.handler, set {}=module:attr \
             (e.g. app:app) to the application it serves (or {} to a mount table), or call \
             lambda_wsgi.make_handler(app) in your own handler module",
            config::WSGI_APP,
            config::WSGI_MOUNTS
        )));
    }
    let config = Config::from_lookup(lookup)?;
    // awslambdaric answers with one buffered response: streaming needs the runtime's own loop.
    if config.invoke_mode == InvokeMode::ResponseStream {
        return Err(InitError::Config(format!(
            "{}=response_stream needs the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=.../lambda_wsgi/exec-wrapper): \
             in handler mode the managed runtime sends one buffered response",
            config::WSGI_INVOKE_MODE
        )));
    }
    let function = FunctionInfo::from_lookup(lookup)?;
    let remote_env = match &config.remote_config {
        Some(helper) => remote_config::load(&remote_config::helper_path(helper.as_deref()))?,
        None => Vec::new(),
    };
    let wsgi = match app {
        Some(app) => interpreter::start_with_app(&config, &remote_env, Host::ManagedRuntime, app)?,
        None => interpreter::start(&config, &remote_env, Host::ManagedRuntime)?,
    };
    Ok((config, function, wsgi))
}

/// `message` without serde_json's closing " at line L column C".
fn without_text_position(message: &str) -> &str {
    let Some((before, position)) = message.rsplit_once(" at line ") else {
        return message;
    };
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match position.split_once(" column ") {
        Some((line, column)) if is_number(line) && is_number(column) => before,
        _ => message,
    }
}

/// awslambdaric's `LambdaContext` as the pipeline's context. The trace id is in the process
/// environment, where awslambdaric put it for this invocation.
fn invocation_context(context: &Bound<'_, PyAny>, function: &Arc<FunctionInfo>) -> PyResult<InvocationContext> {
    let remaining_ms: u64 = context.call_method0("get_remaining_time_in_millis")?.extract()?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    Ok(InvocationContext {
        request_id: context.getattr("aws_request_id")?.extract()?,
        deadline_ms: now_ms.saturating_add(remaining_ms),
        invoked_function_arn: context.getattr("invoked_function_arn")?.extract()?,
        trace_id: std::env::var("_X_AMZN_TRACE_ID").ok(),
        function: function.clone(),
    })
}

/// The exception for `report`: its class is named by the Lambda error type, which awslambdaric
/// records as `errorType` (lambda_wsgi/_errors.py makes and keeps the classes).
fn lambda_error(py: Python<'_>, report: &ErrorReport) -> PyErr {
    let made = py
        .import("lambda_wsgi._errors")
        .and_then(|errors| errors.call_method1("error", (&report.error_type, &report.error_message)));
    match made {
        Ok(exception) => PyErr::from_value(exception),
        Err(err) => err,
    }
}

#[cfg(test)]
mod tests {
    use super::without_text_position;

    #[test]
    fn the_text_position_goes_and_the_json_path_stays() {
        assert_eq!(
            without_text_position("invalid REST event: [httpMethod] invalid type at line 4 column 18"),
            "invalid REST event: [httpMethod] invalid type"
        );
    }

    #[test]
    fn a_message_without_a_position_is_kept_whole() {
        for message in [
            "not an HTTP event",
            "found at line x column 2",
            "ends at line 3 column ",
            "at line 3",
        ] {
            assert_eq!(without_text_position(message), message);
        }
    }
}
