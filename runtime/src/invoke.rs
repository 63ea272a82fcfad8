//! Event bytes in, response out: the whole pipeline in one place, and the mapping of every
//! failure to its outcome (a response the client sees, or a Lambda invocation error).

use lambda_runtime::Diagnostic;

use crate::config::{Config, ErrorMode};
use crate::error::{AppError, EventError};
use crate::response::{AppResponse, EventResponse};
use crate::wsgi::WsgiApp;
use crate::{environ, event, response};

/// What the application can know about the invocation (`environ["lambda.context"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationContext {
    /// Lambda's request id.
    pub request_id: String,
    /// Epoch milliseconds by which the invocation must answer.
    pub deadline_ms: u64,
    /// ARN the function was invoked by (with alias or version).
    pub invoked_function_arn: String,
    /// X-Ray trace header for this invocation.
    pub trace_id: Option<String>,
    /// Function name.
    pub function_name: String,
    /// Function version (`$LATEST`).
    pub function_version: String,
    /// Configured memory.
    pub memory_limit_in_mb: i32,
    /// CloudWatch log group.
    pub log_group_name: String,
    /// CloudWatch log stream.
    pub log_stream_name: String,
}

impl From<&lambda_runtime::Context> for InvocationContext {
    fn from(context: &lambda_runtime::Context) -> Self {
        let env = &context.env_config;
        InvocationContext {
            request_id: context.request_id.clone(),
            deadline_ms: context.deadline,
            invoked_function_arn: context.invoked_function_arn.clone(),
            trace_id: context.xray_trace_id.clone(),
            function_name: env.function_name.clone(),
            function_version: env.version.clone(),
            memory_limit_in_mb: env.memory,
            log_group_name: env.log_group.clone(),
            log_stream_name: env.log_stream.clone(),
        }
    }
}

/// A failure reported to Lambda as an invocation error rather than answered as HTTP.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The event is not an HTTP request this runtime understands.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The app raised and `WSGI_ERROR_MODE=raise`.
    #[error(transparent)]
    App(AppError),
}

impl From<InvokeError> for Diagnostic {
    fn from(err: InvokeError) -> Self {
        let error_type = match &err {
            InvokeError::Event(e) => e.error_type().to_owned(),
            InvokeError::App(e) => e.error_type(),
        };
        Diagnostic {
            error_type,
            error_message: err.to_string(),
        }
    }
}

/// Runs one invocation through the pipeline: parse, environ, app, render.
pub fn handle(
    app: &WsgiApp,
    config: &Config,
    event: &str,
    context: &InvocationContext,
) -> Result<EventResponse, InvokeError> {
    let (source, request) = match event::parse(event) {
        Ok(parsed) => parsed,
        Err(EventError::BadBody { origin: source, reason }) => {
            tracing::warn!(request_id = %context.request_id, "400: request body is not valid base64: {reason}");
            let answer = AppResponse::plain(
                400,
                "Bad Request",
                "Bad Request: the request body is not valid base64\n",
            );
            return Ok(response::render(source, &answer, false, &config.text_mime_types));
        }
        Err(err) => {
            tracing::error!(request_id = %context.request_id, error_type = err.error_type(), "{err}");
            return Err(err.into());
        }
    };
    let is_head = request.method.eq_ignore_ascii_case("HEAD");
    let method_and_path = || format!("{} {}", request.method, request.path_for_logs());
    let environ = environ::build(&request, config);
    let answer = match app.call(environ, event, context) {
        Ok(answer) => answer,
        Err(err) => {
            log_app_error(&err, context, &method_and_path());
            match err {
                AppError::Raised { .. } if config.error_mode == ErrorMode::Raise => return Err(InvokeError::App(err)),
                // Answered before Lambda kills the environment: the next request finds it warm.
                AppError::DeadlineExceeded { .. } => AppResponse::plain(
                    504,
                    "Gateway Timeout",
                    "Gateway Timeout: the application did not finish in time\n",
                ),
                _ => AppResponse::plain(500, "Internal Server Error", "Internal Server Error\n"),
            }
        }
    };
    let rendered = response::render(source, &answer, is_head, &config.text_mime_types);
    let limit = response::response_limit(source, config.max_response_bytes);
    if let Some(size) = rendered.size_if_over(limit) {
        tracing::error!(
            request_id = %context.request_id,
            "500 for {}: the response is {size} bytes of JSON, over the {limit}-byte limit for {} \
             (Lambda buffers at most 6 MB, ALB accepts 1 MB; base64 adds a third to binary bodies). \
             Serve large files from S3 (redirect to a presigned URL), or compress the response.",
            method_and_path(),
            source.name()
        );
        let answer = AppResponse::plain(
            500,
            "Internal Server Error",
            "Internal Server Error: the response is too large\n",
        );
        return Ok(response::render(source, &answer, is_head, &config.text_mime_types));
    }
    Ok(rendered)
}

/// The traceback goes to the log with the request id; the client only ever sees a short body.
fn log_app_error(err: &AppError, context: &InvocationContext, request: &str) {
    match err {
        AppError::Raised { traceback, .. } => tracing::error!(
            request_id = %context.request_id,
            "500 for {request}: the application raised {err}\n{}",
            traceback.join("\n")
        ),
        AppError::Protocol(_) => tracing::error!(request_id = %context.request_id, "500 for {request}: {err}"),
        AppError::DeadlineExceeded { .. } => {
            tracing::error!(request_id = %context.request_id, "504 for {request}: {err}")
        }
    }
}
