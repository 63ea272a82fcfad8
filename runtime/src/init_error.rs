//! Reports an init failure to `/runtime/init/error`, as Lambda requires before the process exits.
//!
//! lambda_runtime only reports its own SnapStart init errors, so the request is built here with
//! its public API client. The body carries the Python traceback as `stackTrace`, like the
//! managed runtime's.

use lambda_runtime_api_client::{PooledClient, body::Body, build_request};

use crate::error::InitError;

/// The Runtime API endpoint for init errors.
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// The JSON body Lambda expects.
pub fn body(err: &InitError) -> serde_json::Value {
    serde_json::json!({
        "errorType": err.error_type(),
        "errorMessage": err.to_string(),
        "stackTrace": err.traceback(),
    })
}

/// Posts `err` to the Runtime API named by AWS_LAMBDA_RUNTIME_API. Failing to report is logged:
/// the process exits non-zero either way, which Lambda also records as an init failure.
pub async fn report(err: &InitError) {
    let request = build_request()
        .method("POST")
        .uri(INIT_ERROR_PATH)
        .header("Lambda-Runtime-Function-Error-Type", err.error_type())
        .body(Body::from(body(err).to_string()));
    let outcome = match request {
        Ok(request) => PooledClient::builder().build().call(request).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = outcome {
        tracing::error!("could not report the init error to the Runtime API: {e}");
    }
}
