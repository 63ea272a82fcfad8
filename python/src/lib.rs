//! `lambda_wsgi._native`: the runtime as a Python extension module, the native half of the pip
//! package. The pipeline is the runtime library's (runtime/), untouched; this crate is only the
//! second host around it, for a process that CPython started:
//!
//! - [`serve`]: the exec wrapper's loop (`python -m lambda_wsgi`). The managed runtime's own
//!   interpreter runs the Rust invocation loop, exactly as `bootstrap` does, with the GIL
//!   released while it waits.
//! - [`Handler`]: handler mode (`Handler: lambda_wsgi.handler`). The managed runtime
//!   (awslambdaric) runs the loop and calls the handler with the decoded event and its context;
//!   the pipeline maps it to the environ, calls the app and renders the response.

mod event_json;
mod handler;

use pyo3::prelude::*;

use lambda_wsgi::interpreter::Host;
use lambda_wsgi::launch;

/// The runtime's own invocation loop, in the process `python -m lambda_wsgi` started: returns
/// the exit status once Lambda shuts the environment down (or init failed, which is reported to
/// the Runtime API first). Waits without the GIL; the app runs with it, on this (main) thread.
#[pyfunction]
fn serve(py: Python<'_>) -> u8 {
    handler::init_logging();
    py.detach(|| launch::run(|name: &str| std::env::var(name).ok(), Host::Interpreter))
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(serve, module)?)?;
    module.add_class::<handler::Handler>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
