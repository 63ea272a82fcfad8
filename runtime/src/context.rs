//! What the application can know about one invocation (`environ["lambda.context"]`): a leaf
//! type, so that the Runtime API layer can build it and `wsgi/` can read it without either
//! depending on the pipeline in `invoke`.

use std::sync::Arc;

use crate::config::FunctionInfo;

/// One invocation's context, as the Runtime API announced it.
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
    /// The function's name, version, memory and logs: shared, never copied per invocation.
    pub function: Arc<FunctionInfo>,
}
