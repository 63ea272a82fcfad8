//! Starts CPython once: sys.path as the managed runtime builds it, then the app import.
//!
//! One of the two files that use pyo3 (the other is `wsgi.rs`). Runs at init only.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::config::{Config, LogFormat};
use crate::error::InitError;
use crate::wsgi::WsgiApp;
use crate::wsgi::errors::{describe, traceback, type_name};

/// Where Lambda layers are extracted.
const LAYER_ROOT: &str = "/opt";

/// Initializes the interpreter, imports the application and prepares the WSGI machinery.
/// `remote_env`: variables loaded by remote configuration, applied before the app is imported.
pub fn start(config: &Config, remote_env: &[(String, String)]) -> Result<WsgiApp, InitError> {
    Python::initialize();
    Python::attach(|py| {
        let support = load_support(py).map_err(|err| InitError::Interpreter {
            message: describe(py, &err),
            traceback: stdlib_traceback(py, &err),
        })?;
        let interpreter_error = |err: PyErr| InitError::Interpreter {
            message: describe(py, &err),
            traceback: traceback(&support, &err),
        };
        setup_sys_path(py, &support, config).map_err(interpreter_error)?;
        let log_format = match config.log_format {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        };
        support
            .call_method1("setup_logging", (log_format, config.log_level.as_deref()))
            .map_err(interpreter_error)?;
        // Apps register SnapStart hooks at import, whether or not SnapStart is on.
        support
            .call_method0("install_snapshot_hooks_module")
            .map_err(interpreter_error)?;
        if !remote_env.is_empty() {
            support
                .call_method1("apply_environment", (remote_env.to_vec(),))
                .map_err(interpreter_error)?;
        }
        let app = import_callable(py, &support, &config.app_module, &config.app_attr, "WSGI application")?;
        let event_handler = match &config.event_handler {
            Some((module, attr)) => Some(import_callable(py, &support, module, attr, "WSGI_EVENT_HANDLER")?),
            None => None,
        };
        // What the imports made lives as long as the process: moved out of the collector's
        // generations, a full collection no longer walks it (nor, in forked workers, writes to
        // its pages).
        py.import("gc")
            .and_then(|gc| gc.call_method0("freeze"))
            .map_err(interpreter_error)?;
        WsgiApp::new(py, app, event_handler, &support, config.deadline_margin).map_err(interpreter_error)
    })
}

/// support.py, and the source of support_later.py for it to compile on first use (most cold
/// starts never need it).
fn load_support(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let code = CString::new(include_str!("support.py")).expect("BUG: support.py contains a NUL byte");
    let support = PyModule::from_code(py, &code, c"lambda_wsgi_support.py", c"lambda_wsgi_support")?;
    support.setattr("_LATER_SOURCE", include_str!("support_later.py"))?;
    Ok(support)
}

fn setup_sys_path(py: Python<'_>, support: &Bound<'_, PyModule>, config: &Config) -> PyResult<()> {
    let version = py.version_info();
    let python_dir = format!("python{}.{}", version.major, version.minor);
    let front = [absolute(&config.task_root)];
    let mut site_dirs = vec![
        Path::new(LAYER_ROOT)
            .join("python/lib")
            .join(&python_dir)
            .join("site-packages"),
        Path::new(LAYER_ROOT).join("python"),
    ];
    if let Some(venv) = &config.virtual_env {
        site_dirs.push(venv.join("lib").join(&python_dir).join("site-packages"));
    }
    site_dirs.retain(|dir| dir.is_dir());
    let as_strings = |dirs: &[PathBuf]| {
        dirs.iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    support.call_method1(
        "setup_sys_path",
        (
            PyList::new(py, as_strings(&front))?,
            PyList::new(py, as_strings(&site_dirs))?,
        ),
    )?;
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Imports `module` and follows `attr` (dotted) to a callable: the WSGI app, or the
/// WSGI_EVENT_HANDLER (`role` names which, in messages).
fn import_callable<'py>(
    py: Python<'py>,
    support: &Bound<'py, PyModule>,
    module_name: &str,
    attr: &str,
    role: &str,
) -> Result<Bound<'py, PyAny>, InitError> {
    let is_app = role == "WSGI application";
    let (label, expected) = if is_app {
        (
            "Handler",
            "a WSGI application (a callable taking environ and start_response)",
        )
    } else {
        (role, "a function taking (event, context)")
    };
    let spec = format!("{module_name}:{attr}");
    let module = py.import(module_name).map_err(|err| InitError::Import {
        module: module_name.to_owned(),
        message: describe(py, &err),
        traceback: traceback(support, &err),
    })?;
    let mut found = module.into_any();
    for part in attr.split('.') {
        found = found.getattr(part).map_err(|_| {
            InitError::HandlerNotFound(format!(
                "{label} '{spec}' missing: module '{module_name}' has no attribute '{attr}'"
            ))
        })?;
    }
    if !found.is_callable() {
        let type_name = type_name(&found);
        return Err(InitError::HandlerNotFound(format!(
            "{label} '{spec}' is a {type_name}, not {expected}"
        )));
    }
    Ok(found)
}

/// The traceback of `err` by the standard library alone, for a failure before support.py loaded.
fn stdlib_traceback(py: Python<'_>, err: &PyErr) -> Vec<String> {
    py.import("traceback")
        .and_then(|module| module.call_method1("format_exception", (err.value(py),)))
        .and_then(|lines| lines.extract::<Vec<String>>())
        .map(|lines| lines.concat().lines().map(str::to_owned).collect())
        .unwrap_or_else(|format_err| vec![format!("(traceback unavailable: {format_err})")])
}
