//! Event bytes in, response out: the whole pipeline in one place, and the mapping of every
//! failure to its outcome (a response the client sees, or a Lambda invocation error).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::{Config, ErrorMode, WSGI_MANAGE_COMMANDS};
use crate::context::InvocationContext;
use crate::error::{AppError, EventError};
use crate::event::direct::Direct;
use crate::response::{AppResponse, BodyCap, EventResponse};
use crate::runtime_api::ErrorReport;
use crate::source::Source;
use crate::wsgi::{BodySink, Offer, WsgiApp};
use crate::{environ, event, response};

/// A failure reported to Lambda as an invocation error rather than answered as HTTP.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The event is not an HTTP request this runtime understands.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The app raised and `WSGI_ERROR_MODE=raise`, or the event handler raised.
    #[error(transparent)]
    App(AppError),
    /// A `{"manage": [...]}` invocation without WSGI_MANAGE_COMMANDS=true.
    #[error("management commands are disabled: set {WSGI_MANAGE_COMMANDS}=true to run them by direct invocation")]
    ManageDisabled,
    /// A `{"manage": [...], "mount": "/x"}` invocation naming no mount of the table.
    #[error("the management command's mount {mount:?} is not in the mount table (mounted: {mounted})")]
    UnknownMount {
        /// The mount the event named.
        mount: String,
        /// The table's prefixes.
        mounted: String,
    },
    /// The event handler's answer is not JSON (it cannot be, json.dumps made it).
    #[error("the event handler's result is not JSON: {0}")]
    NotJson(String),
}

impl From<InvokeError> for ErrorReport {
    fn from(err: InvokeError) -> Self {
        let error_type = match &err {
            InvokeError::Event(e) => e.error_type().to_owned(),
            InvokeError::App(e) => e.error_type(),
            InvokeError::ManageDisabled => "Runtime.ManageCommandsDisabled".to_owned(),
            InvokeError::UnknownMount { .. } => "Runtime.UnknownMount".to_owned(),
            InvokeError::NotJson(_) => "Runtime.MarshalError".to_owned(),
        };
        ErrorReport::new(error_type, err.to_string())
    }
}

/// What goes back to Lambda: an HTTP response in the event source's shape, or the JSON a
/// direct invocation (event handler, warm-up, management command) answered.
#[derive(Debug)]
pub enum Answer {
    /// An HTTP request's response.
    Http(EventResponse),
    /// Anything else's result, as JSON text.
    Json(Box<RawValue>),
}

impl Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Http(response) => response.serialize(serializer),
            Answer::Json(raw) => raw.serialize(serializer),
        }
    }
}

/// Runs one invocation through the pipeline: parse, environ, app, render.
pub fn handle(app: &WsgiApp, config: &Config, event: &str, context: &InvocationContext) -> Result<Answer, InvokeError> {
    handle_http(app, config, event, context)
        .or_else(|not_http| direct(app, config, event, context, not_http).map(Answer::Json))
}

/// The HTTP side of [`handle`]; an event that is not an HTTP request comes back as the error.
fn handle_http(app: &WsgiApp, config: &Config, event: &str, context: &InvocationContext) -> Result<Answer, NotHttp> {
    let (source, request) = match parse(event) {
        Parsed::Request(source, request) => (source, request),
        Parsed::BadBody(source) => {
            return Ok(Answer::Http(response::render(
                source,
                bad_body(),
                false,
                &config.text_mime_types,
            )));
        }
        Parsed::Unsupported(err) => return Err(NotHttp::Event(err)),
    };
    let is_head = request.method.eq_ignore_ascii_case("HEAD");
    let method_and_path = || format!("{} {}", request.method, request.path_for_logs());
    let environ = match environ::build(&request, config) {
        Ok(environ) => environ,
        Err(unmounted) => {
            let answer = not_mounted(config, &method_and_path(), &unmounted);
            return Ok(Answer::Http(response::render(
                source,
                answer,
                is_head,
                &config.text_mime_types,
            )));
        }
    };
    let limit = response::response_limit(source, config.max_response_bytes);
    let cap = BodyCap {
        json_limit: limit,
        extra_text_types: &config.text_mime_types,
    };
    let answer = match app.call(environ, event, context, cap, is_head) {
        Ok(answer) => answer,
        Err(AppError::ResponseTooLarge { collected, .. }) => {
            let size = format!("its body passed {collected} bytes (the runtime stopped reading there), so it is");
            return Ok(too_large(source, is_head, config, &method_and_path(), &size, limit));
        }
        Err(err) => {
            log_app_error(&err, &method_and_path());
            error_answer(err, config).map_err(NotHttp::Failed)?
        }
    };
    let rendered = response::render(source, answer, is_head, &config.text_mime_types);
    if let Some(size) = rendered.size_if_over(limit) {
        let size = format!("it is {size} bytes of JSON,");
        return Ok(too_large(source, is_head, config, &method_and_path(), &size, limit));
    }
    Ok(Answer::Http(rendered))
}

/// The 500 for a response over `limit`, and the log line saying why (`size`: how big it got).
fn too_large(source: Source, is_head: bool, config: &Config, request_line: &str, size: &str, limit: usize) -> Answer {
    tracing::error!(
        "500 for {request_line}: the response is too large: {size} over the {limit}-byte limit for {} \
         (Lambda buffers at most 6 MB, ALB accepts 1 MB; base64 adds a third to binary bodies). \
         Stream it (WSGI_INVOKE_MODE=response_stream with a RESPONSE_STREAM function URL), \
         serve large files from S3 (redirect to a presigned URL), or compress the response.",
        source.name()
    );
    let answer = AppResponse::plain(
        500,
        "Internal Server Error",
        "Internal Server Error: the response is too large\n",
    );
    Answer::Http(response::render(source, answer, is_head, &config.text_mime_types))
}

/// Why [`handle_http`] did not answer.
enum NotHttp {
    /// Not an HTTP request: a direct invocation, perhaps.
    Event(EventError),
    /// An HTTP request whose failure is an invocation error (WSGI_ERROR_MODE=raise).
    Failed(InvokeError),
}

/// A non-HTTP event: a warm-up ping (answered at once), a management command (if enabled), or
/// the WSGI_EVENT_HANDLER's business. Without a handler it is the UnsupportedEvent it was.
fn direct(
    app: &WsgiApp,
    config: &Config,
    event: &str,
    context: &InvocationContext,
    not_http: NotHttp,
) -> Result<Box<RawValue>, InvokeError> {
    let not_http = match not_http {
        NotHttp::Failed(err) => return Err(err),
        NotHttp::Event(err) => err,
    };
    let json = match event::direct::recognise(event) {
        Some(Direct::Warmup) => {
            tracing::debug!("warm-up ping answered without the app");
            r#"{"warmed":true}"#.to_owned()
        }
        Some(Direct::Manage { args, mount }) if config.manage_commands => {
            let index = match mount.as_deref() {
                None => 0,
                Some(prefix) => config.apps.index_of(prefix).ok_or_else(|| {
                    let err = InvokeError::UnknownMount {
                        mount: prefix.to_owned(),
                        mounted: prefixes(config),
                    };
                    tracing::error!("refused management command {args:?}: {err}");
                    err
                })?,
            };
            tracing::info!("running management command {args:?}");
            app.manage(&args, index, context).map_err(InvokeError::App)?
        }
        // Disabled: an event handler may have its own use for a "manage" key; without one, say
        // which setting would run it.
        Some(Direct::Manage { args, .. }) if !app.has_event_handler() => {
            tracing::error!("refused management command {args:?}: {}", InvokeError::ManageDisabled);
            return Err(InvokeError::ManageDisabled);
        }
        Some(Direct::Manage { .. }) | None => match app.handle_event(event, context) {
            Some(result) => result.map_err(|err| {
                log_handler_error(&err);
                InvokeError::App(err)
            })?,
            None => {
                tracing::error!(error_type = not_http.error_type(), "{not_http}");
                return Err(not_http.into());
            }
        },
    };
    RawValue::from_string(json).map_err(|err| InvokeError::NotJson(err.to_string()))
}

fn log_handler_error(err: &AppError) {
    match err {
        AppError::Raised { traceback, .. } => {
            tracing::error!("the event handler raised {err}\n{}", traceback.join("\n"))
        }
        other => tracing::error!("the event handler failed: {other}"),
    }
}

/// The streamed form of [`handle`] (WSGI_INVOKE_MODE=response_stream): `out` receives the
/// prelude, then each body chunk as the app yields it. Errors before the first byte are answered
/// as in buffered mode (a 500 or 504, or an invocation error); an error after it breaks the
/// stream off, and is returned for the caller to report in the stream's error trailers.
pub fn handle_streaming(
    app: &WsgiApp,
    config: &Config,
    event: &str,
    context: &InvocationContext,
    out: &mut dyn FnMut(&[u8]) -> Offer,
) -> Result<(), InvokeError> {
    let request = match parse(event) {
        Parsed::Request(_, request) => request,
        Parsed::BadBody(_) => {
            send_whole(out, bad_body());
            return Ok(());
        }
        // A direct invocation's JSON is the whole stream (no prelude: it is not HTTP).
        Parsed::Unsupported(err) => {
            let json = direct(app, config, event, context, NotHttp::Event(err))?;
            out(json.get().as_bytes()).settle();
            return Ok(());
        }
    };
    let mut sink = StreamSink {
        out,
        is_head: request.method.eq_ignore_ascii_case("HEAD"),
        started: false,
    };
    let environ = match environ::build(&request, config) {
        Ok(environ) => environ,
        Err(unmounted) => {
            let request_line = format!("{} {}", request.method, request.path_for_logs());
            send_whole(sink.out, not_mounted(config, &request_line, &unmounted));
            return Ok(());
        }
    };
    let Err(err) = app.stream(environ, event, context, &mut sink) else {
        return Ok(());
    };
    let request_line = format!("{} {}", request.method, request.path_for_logs());
    if sink.started {
        // The client has its status already: the body just stops short.
        tracing::error!("the response to {request_line} broke off after it began: {err}");
        if let AppError::Raised { traceback, .. } = &err {
            tracing::error!("{}", traceback.join("\n"));
        }
        return Err(InvokeError::App(err));
    }
    log_app_error(&err, &request_line);
    send_whole(sink.out, error_answer(err, config)?);
    Ok(())
}

/// The prelude, then the body as it comes; HEAD gets headers only.
struct StreamSink<'a> {
    out: &'a mut dyn FnMut(&[u8]) -> Offer,
    is_head: bool,
    started: bool,
}

impl BodySink for StreamSink<'_> {
    fn head(&mut self, status: u16, _reason: &str, headers: Vec<(String, String)>) {
        self.started = true;
        // The first chunk of an empty queue: always taken at once.
        (self.out)(&response::stream_prelude(status, headers)).settle();
    }
    fn data(&mut self, chunk: &[u8]) -> Offer {
        if self.is_head { Offer::Taken } else { (self.out)(chunk) }
    }
}

fn send_whole(out: &mut dyn FnMut(&[u8]) -> Offer, answer: AppResponse) {
    if out(&response::stream_prelude(answer.status, answer.headers)).settle() {
        out(&answer.body).settle();
    }
}

enum Parsed {
    Request(Source, Box<crate::request::Request>),
    /// The body is not valid base64: the client gets a 400.
    BadBody(Source),
    Unsupported(EventError),
}

fn parse(event: &str) -> Parsed {
    match event::parse(event) {
        Ok((source, request)) => Parsed::Request(source, Box::new(request)),
        Err(EventError::BadBody { origin: source, reason }) => {
            tracing::warn!("400: request body is not valid base64: {reason}");
            Parsed::BadBody(source)
        }
        // Logged by `direct` if nothing else takes it.
        Err(err) => Parsed::Unsupported(err),
    }
}

/// The 404 for a path no mount takes: answered here, no Python called. Logged at info: a
/// scanner's probes are not the runtime's errors, but a team moving a mount wants to see them.
fn not_mounted(config: &Config, request_line: &str, unmounted: &environ::Unmounted) -> AppResponse {
    tracing::info!(
        "404 for {request_line}: no mount takes {:?} (mounted: {})",
        unmounted.path,
        prefixes(config)
    );
    AppResponse::plain(404, "Not Found", "Not Found\n")
}

/// The table's prefixes, for messages: `/, /api, /shop`.
fn prefixes(config: &Config) -> String {
    let prefixes: Vec<&str> = config.apps.mounts().iter().map(|mount| mount.prefix.as_str()).collect();
    prefixes.join(", ")
}

fn bad_body() -> AppResponse {
    AppResponse::plain(
        400,
        "Bad Request",
        "Bad Request: the request body is not valid base64\n",
    )
}

/// What the client sees when the app failed before answering.
fn error_answer(err: AppError, config: &Config) -> Result<AppResponse, InvokeError> {
    Ok(match err {
        AppError::Raised { .. } if config.error_mode == ErrorMode::Raise => return Err(InvokeError::App(err)),
        // Answered before Lambda kills the environment: the next request finds it warm.
        AppError::DeadlineExceeded { .. } => AppResponse::plain(
            504,
            "Gateway Timeout",
            "Gateway Timeout: the application did not finish in time\n",
        ),
        _ => AppResponse::plain(500, "Internal Server Error", "Internal Server Error\n"),
    })
}

/// The traceback goes to the log; the client only ever sees a short body. The request id is in
/// every line already, from the invocation's span (serve.rs: `requestId`, the name the managed
/// runtime uses): a field of its own here would repeat it under a second name.
fn log_app_error(err: &AppError, request: &str) {
    match err {
        AppError::Raised { traceback, .. } => tracing::error!(
            "500 for {request}: the application raised {err}\n{}",
            traceback.join("\n")
        ),
        AppError::Protocol(_) | AppError::ResponseTooLarge { .. } => {
            tracing::error!("500 for {request}: {err}")
        }
        AppError::DeadlineExceeded { .. } => {
            tracing::error!("504 for {request}: {err}")
        }
    }
}
