//! `environ["lambda.context"]`.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

use crate::context::InvocationContext;

/// `environ["lambda.context"]`, shaped like the managed Python runtime's context object.
#[pyclass(module = "lambda_wsgi", frozen, get_all)]
pub(super) struct LambdaContext {
    aws_request_id: String,
    function_name: String,
    function_version: String,
    invoked_function_arn: String,
    memory_limit_in_mb: i32,
    log_group_name: String,
    log_stream_name: String,
    deadline_ms: u64,
}

impl From<&InvocationContext> for LambdaContext {
    fn from(c: &InvocationContext) -> Self {
        LambdaContext {
            aws_request_id: c.request_id.clone(),
            function_name: c.function.name.clone(),
            function_version: c.function.version.clone(),
            invoked_function_arn: c.invoked_function_arn.clone(),
            memory_limit_in_mb: c.function.memory_mb,
            log_group_name: c.function.log_group.clone(),
            log_stream_name: c.function.log_stream.clone(),
            deadline_ms: c.deadline_ms,
        }
    }
}

#[pymethods]
impl LambdaContext {
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
            self.aws_request_id, self.function_name
        )
    }
}
