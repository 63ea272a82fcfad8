//! The invocation loop: `/invocation/next` -> handler -> `/response` or `/error`.
//!
//! Built on lambda_runtime's own client and types, but not on `lambda_runtime::run`: that loop
//! calls `std::env::set_var("_X_AMZN_TRACE_ID", ..)` on every invocation, and glibc's setenv
//! never frees a replaced value, so a warm environment leaked ~165 bytes per invocation (13 MB
//! over 80,000 in `make soak`, i.e. tens of MB an hour at modest traffic). The trace id reaches
//! Python through `os.environ` instead (wsgi/, support.py).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use http_body_util::BodyExt as _;
use lambda_runtime::{Context, Diagnostic};
use lambda_runtime_api_client::{BoxError, PooledClient, body::Body, build_request};
use serde::Serialize;

/// Serves invocations one at a time until the Runtime API connection fails.
pub async fn serve<R, F>(mut handle: F) -> Result<(), BoxError>
where
    R: Serialize,
    F: FnMut(&str, &Context) -> Result<R, Diagnostic>,
{
    let client = PooledClient::builder().build();
    let function = Arc::new(lambda_runtime::Config::from_env());
    loop {
        let next = build_request()
            .method("GET")
            .uri("/2018-06-01/runtime/invocation/next")
            .body(Body::empty())?;
        let (parts, body) = client.call(next).await?.into_parts();
        let event = body.collect().await?.to_bytes();
        let request_id = parts
            .headers
            .get("lambda-runtime-aws-request-id")
            .and_then(|id| id.to_str().ok())
            .ok_or("the Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id")?
            .to_owned();
        let context = Context::new(&request_id, function.clone(), &parts.headers)?;
        let span = tracing::info_span!("invoke", requestId = %request_id);
        let outcome = span.in_scope(|| {
            let event = std::str::from_utf8(&event).unwrap_or_default();
            // A panic becomes an invocation error and the environment stays warm.
            std::panic::catch_unwind(AssertUnwindSafe(|| handle(event, &context))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic with no message".to_owned());
                tracing::error!("the runtime panicked: {message}");
                Err(Diagnostic {
                    error_type: "Runtime.Panic".to_owned(),
                    error_message: message,
                })
            })
        });
        let reply = match &outcome {
            Ok(response) => build_request()
                .method("POST")
                .uri(format!("/2018-06-01/runtime/invocation/{request_id}/response"))
                .body(Body::from(serde_json::to_vec(response)?)),
            Err(diagnostic) => build_request()
                .method("POST")
                .uri(format!("/2018-06-01/runtime/invocation/{request_id}/error"))
                .header("lambda-runtime-function-error-type", diagnostic.error_type.as_str())
                .body(Body::from(serde_json::to_vec(diagnostic)?)),
        }?;
        let status = client.call(reply).await?.status();
        if !status.is_success() {
            // 413 for a payload over Lambda's limit, 400 for an unknown id: Lambda reports the
            // invocation as failed; the environment carries on with the next one.
            tracing::error!(requestId = %request_id, "the Runtime API refused the answer with {status}");
        }
    }
}
