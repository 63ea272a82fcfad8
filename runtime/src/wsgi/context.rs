//! `environ["lambda.context"]`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

use crate::config::FunctionInfo;
use crate::context::InvocationContext;

/// `environ["lambda.context"]`, shaped like the managed Python runtime's context object. The
/// function's settings are shared with every invocation's context, not copied into each.
#[pyclass(module = "lambda_wsgi", frozen)]
pub(super) struct LambdaContext {
    #[pyo3(get)]
    aws_request_id: String,
    #[pyo3(get)]
    invoked_function_arn: String,
    #[pyo3(get)]
    deadline_ms: u64,
    function: Arc<FunctionInfo>,
}

impl From<&InvocationContext> for LambdaContext {
    fn from(c: &InvocationContext) -> Self {
        LambdaContext {
            aws_request_id: c.request_id.clone(),
            invoked_function_arn: c.invoked_function_arn.clone(),
            deadline_ms: c.deadline_ms,
            function: Arc::clone(&c.function),
        }
    }
}

#[pymethods]
impl LambdaContext {
    #[getter]
    fn function_name(&self) -> &str {
        &self.function.name
    }

    #[getter]
    fn function_version(&self) -> &str {
        &self.function.version
    }

    #[getter]
    fn memory_limit_in_mb(&self) -> i32 {
        self.function.memory_mb
    }

    #[getter]
    fn log_group_name(&self) -> &str {
        &self.function.log_group
    }

    #[getter]
    fn log_stream_name(&self) -> &str {
        &self.function.log_stream
    }

    fn get_remaining_time_in_millis(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        i64::try_from(i128::from(self.deadline_ms) - i128::try_from(now).unwrap_or(i128::MAX))
            .unwrap_or(0)
            .max(0)
    }

    #[getter]
    fn identity(&self) -> Option<Py<PyAny>> {
        None
    }

    #[getter]
    fn client_context(&self) -> Option<Py<PyAny>> {
        None
    }

    fn __repr__(&self) -> String {
        format!(
            "LambdaContext(aws_request_id={:?}, function_name={:?})",
            self.aws_request_id, self.function.name
        )
    }
}
