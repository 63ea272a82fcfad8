//! The Python side of the process lifecycle: SnapStart's hooks and Managed Instances' fork.
//! What runs them, and when, is plain Rust (`snapshot.rs`, `workers.rs`).

use pyo3::prelude::*;

use super::{WsgiApp, raised};
use crate::error::AppError;

/// Which side of a fork this process is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The parent, with the new worker's pid.
    Parent(i32),
    /// The new worker.
    Child,
}

impl WsgiApp {
    /// SnapStart: the app's before-snapshot hooks (`snapshot_restore_py`), last registered first.
    pub fn run_before_snapshot(&self) -> Result<(), AppError> {
        self.call_support("run_before_snapshot")
    }

    /// SnapStart: `random` seeded anew, then the app's after-restore hooks in order.
    pub fn run_after_restore(&self) -> Result<(), AppError> {
        self.call_support("run_after_restore")
    }

    /// Managed Instances: forks a worker that shares the imported app (Python's own `os.fork`,
    /// so the interpreter's state is made right in the child). Its environs say
    /// `wsgi.multiprocess`: the app is served by several processes at once.
    pub fn fork_worker(&self) -> Result<Forked, AppError> {
        Python::attach(|py| {
            let support = self.support.bind(py);
            self.base_environ
                .bind(py)
                .set_item("wsgi.multiprocess", true)
                .map_err(|err| raised(py, support, &err))?;
            let pid: i32 = support
                .call_method0("fork_worker")
                .and_then(|pid| pid.extract())
                .map_err(|err| raised(py, support, &err))?;
            Ok(if pid == 0 { Forked::Child } else { Forked::Parent(pid) })
        })
    }

    fn call_support(&self, name: &str) -> Result<(), AppError> {
        Python::attach(|py| {
            let support = self.support.bind(py);
            support
                .call_method0(name)
                .map(drop)
                .map_err(|err| raised(py, support, &err))
        })
    }
}
