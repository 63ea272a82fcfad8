//! Reports a failure before serving began to the Runtime API, as Lambda requires before the
//! process exits: init errors (`/init/error`) and, under SnapStart, failed hooks.

use crate::error::{AppError, InitError};
use crate::runtime_api::{ErrorReport, requests, send_once};

/// The report Lambda gets for a failed init, with the Python traceback as `stackTrace`, like
/// the managed runtime's.
pub fn init_report(err: &InitError) -> ErrorReport {
    ErrorReport {
        error_type: err.error_type().to_owned(),
        error_message: err.to_string(),
        stack_trace: err.traceback().to_vec(),
    }
}

/// The report for a failed SnapStart hook, under `error_type`.
pub fn hook_report(error_type: &str, err: &AppError) -> ErrorReport {
    ErrorReport {
        error_type: error_type.to_owned(),
        error_message: err.to_string(),
        stack_trace: match err {
            AppError::Raised { traceback, .. } => traceback.clone(),
            _ => Vec::new(),
        },
    }
}

/// Which endpoint a failure goes to.
#[derive(Debug, Clone, Copy)]
pub enum Phase {
    /// Init, or before the snapshot: `/init/error`.
    Init,
    /// After a SnapStart restore: `/restore/error`.
    Restore,
}

/// Posts `report` to the Runtime API at `address` and logs it. Failing to report is logged
/// too: the process exits non-zero either way, which Lambda also records as a failure.
pub fn report(address: &str, phase: Phase, report: &ErrorReport) {
    let traceback = report.stack_trace.join("\n");
    tracing::error!(error_type = %report.error_type, "{}\n{traceback}", report.error_message);
    let request = match phase {
        Phase::Init => requests::init_error(report),
        Phase::Restore => requests::restore_error(report),
    };
    match send_once(address, "POST error report", request) {
        Ok(status) if status.is_success() => {}
        Ok(status) => tracing::error!("the Runtime API refused the error report with {status}"),
        Err(err) => tracing::error!("could not report the error to the Runtime API: {err}"),
    }
}
