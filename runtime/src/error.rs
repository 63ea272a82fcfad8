//! One error enum per pipeline edge, each variant with a stable `errorType`.
//!
//! The `errorType` strings are part of the runtime's interface (alarms and log filters match on
//! them), so they are spelled out here and never derived from Rust type names. Init errors reuse
//! the managed Python runtime's names so existing dashboards keep working.

use crate::source::Source;

/// The event could not be turned into a request.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event is not JSON of any HTTP source this runtime knows.
    #[error("unsupported event: {0}")]
    Unsupported(String),
    /// The event bytes are not UTF-8, so they cannot be JSON.
    #[error("unsupported event: the event is not UTF-8 (invalid byte at offset {offset}), so it is not JSON")]
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// The event looks like a known source but a field is missing or has the wrong type.
    #[error("invalid {source_name} event: [{path}] {message}")]
    Malformed {
        /// Human name of the detected source.
        source_name: &'static str,
        /// JSON path of the offending field, e.g. `requestContext.http.method`.
        path: String,
        /// What serde said about it.
        message: String,
    },
    /// `isBase64Encoded` is true but the body is not base64: the client gets a 400.
    #[error("request body is marked isBase64Encoded but is not valid base64: {reason}")]
    BadBody {
        /// The source, so that the 400 is rendered in its response shape.
        origin: Source,
        /// What the decoder said.
        reason: String,
    },
}

impl EventError {
    /// The stable `errorType` reported to Lambda.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Unsupported(_) | Self::NotUtf8 { .. } => "UnsupportedEvent",
            Self::Malformed { .. } => "InvalidEvent",
            Self::BadBody { .. } => "InvalidBody",
        }
    }
}

/// The WSGI application failed. Everything is plain text: no Python object leaves `wsgi/`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The application raised an exception.
    #[error("{type_name}: {message}")]
    Raised {
        /// The exception's class name, e.g. `ZeroDivisionError`.
        type_name: String,
        /// `str(exception)`.
        message: String,
        /// The formatted traceback, one entry per line, as `traceback.format_exception` gives it.
        traceback: Vec<String>,
    },
    /// The application broke PEP 3333 (bad status, CR/LF in a header, no `start_response`, ...).
    #[error("WSGI protocol error: {0}")]
    Protocol(String),
    /// A buffered response body grew past what its front door accepts; the runtime stopped
    /// reading it there (and closed the iterable) instead of holding all of it.
    #[error("the response body passed {raw_limit} bytes ({collected} read when the runtime stopped reading it)")]
    ResponseTooLarge {
        /// Body bytes read, the last chunk included.
        collected: usize,
        /// The raw body size past which the rendered JSON is certainly over the limit.
        raw_limit: usize,
    },
    /// The app was still running `margin_ms` before the invocation deadline and was interrupted.
    #[error("the application was still running {margin_ms} ms before the invocation deadline and was interrupted")]
    DeadlineExceeded {
        /// WSGI_DEADLINE_MARGIN_MS.
        margin_ms: u128,
    },
}

impl AppError {
    /// The stable `errorType` reported to Lambda when errors are raised as invocation errors.
    pub fn error_type(&self) -> String {
        match self {
            Self::Raised { type_name, .. } => type_name.clone(),
            Self::Protocol(_) => "WSGIProtocolError".to_owned(),
            Self::ResponseTooLarge { .. } => "ResponseTooLarge".to_owned(),
            Self::DeadlineExceeded { .. } => "DeadlineExceeded".to_owned(),
        }
    }
}

/// The runtime could not start: reported to `/runtime/init/error`, then the process exits.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A setting is missing or invalid.
    #[error("{0}")]
    Config(String),
    /// `WSGI_APP` / `_HANDLER` is not `module:attr`.
    #[error("{0}")]
    MalformedHandler(String),
    /// Importing the app module raised.
    #[error("Unable to import module '{module}': {message}")]
    Import {
        /// The module named by the handler.
        module: String,
        /// The exception, `Type: message`.
        message: String,
        /// Formatted traceback lines.
        traceback: Vec<String>,
    },
    /// The module has no such attribute, or it is not callable.
    #[error("{0}")]
    HandlerNotFound(String),
    /// A middleware factory raised when applied to the app.
    #[error("middleware '{spec}' raised when applied at init: {message}")]
    Middleware {
        /// `module:factory`.
        spec: String,
        /// The exception, `Type: message`.
        message: String,
        /// Formatted traceback lines.
        traceback: Vec<String>,
    },
    /// One mount of the table could not start: which mount, and why.
    #[error("the mount {prefix} ({app}): {source}")]
    Mount {
        /// The mount's prefix.
        prefix: String,
        /// Its app, `module:attr`.
        app: String,
        /// What failed.
        source: Box<InitError>,
    },
    /// Loading WSGI_CONFIG_SSM_PATH or WSGI_CONFIG_SECRET_ID failed; the message names which.
    #[error("remote configuration: {0}")]
    RemoteConfig(String),
    /// The interpreter itself failed (sys.path setup, a broken stdlib).
    #[error("Python interpreter setup failed: {message}")]
    Interpreter {
        /// The exception, `Type: message`.
        message: String,
        /// Formatted traceback lines.
        traceback: Vec<String>,
    },
}

impl InitError {
    /// The stable `errorType`; the names of the managed Python runtime where one exists.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Mount { source, .. } => source.error_type(),
            Self::Middleware { .. } => "Runtime.MiddlewareError",
            Self::Config(_) => "Runtime.InvalidConfiguration",
            Self::MalformedHandler(_) => "Runtime.MalformedHandlerName",
            Self::Import { .. } => "Runtime.ImportModuleError",
            Self::HandlerNotFound(_) => "Runtime.HandlerNotFound",
            Self::Interpreter { .. } => "Runtime.InterpreterError",
            Self::RemoteConfig(_) => "Runtime.RemoteConfigError",
        }
    }

    /// The Python traceback, where there is one.
    pub fn traceback(&self) -> &[String] {
        match self {
            Self::Import { traceback, .. }
            | Self::Interpreter { traceback, .. }
            | Self::Middleware { traceback, .. } => traceback,
            Self::Mount { source, .. } => source.traceback(),
            _ => &[],
        }
    }
}
