//! Starts CPython once: sys.path as the managed runtime builds it, then the app import.
//!
//! One of the two files that use pyo3 (the other is `wsgi.rs`). Runs at init only. The rest of
//! the runtime does not know who started the interpreter; only here does it matter ([`Host`]).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::config::{Config, LogFormat};
use crate::error::InitError;
use crate::wsgi::WsgiApp;
use crate::wsgi::errors::{describe, traceback, type_name};

/// Where Lambda layers are extracted.
const LAYER_ROOT: &str = "/opt";

/// Who started Python, and so what the runtime must set up before the app's import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `bootstrap` embeds CPython: it starts the interpreter, builds sys.path as the managed
    /// runtime would and sets up logging.
    Embedded,
    /// The extension's loop (`python -m lambda_wsgi`, started by the exec wrapper): the managed
    /// runtime's own interpreter is running, but the runtime owns the process as `bootstrap`
    /// does (sys.path, logging, the invocation loop).
    Interpreter,
    /// Handler mode: the managed runtime (awslambdaric) owns the process and calls the app
    /// through `lambda_wsgi.handler`; its sys.path and logging stay as they are.
    ManagedRuntime,
}

/// Initializes the interpreter if `host` has not, imports the application and prepares the
/// WSGI machinery. `remote_env`: variables loaded by remote configuration, applied before the
/// app is imported. Called without the GIL.
pub fn start(config: &Config, remote_env: &[(String, String)], host: Host) -> Result<WsgiApp, InitError> {
    if host == Host::Embedded {
        Python::initialize();
    }
    Python::attach(|py| prepare(py, config, remote_env, host, None))
}

/// [`start`] for an application the host already has (`lambda_wsgi.make_handler(app)`): the
/// same preparation, without importing `WSGI_APP`. `remote_env` lands after the app's import
/// here (the host imported it before asking), in time for anything read per request.
pub fn start_with_app(
    config: &Config,
    remote_env: &[(String, String)],
    host: Host,
    app: Bound<'_, PyAny>,
) -> Result<WsgiApp, InitError> {
    prepare(app.py(), config, remote_env, host, Some(app))
}

fn prepare<'py>(
    py: Python<'py>,
    config: &Config,
    remote_env: &[(String, String)],
    host: Host,
    given_app: Option<Bound<'py, PyAny>>,
) -> Result<WsgiApp, InitError> {
    {
        let support = load_support(py).map_err(|err| InitError::Interpreter {
            message: describe(py, &err),
            traceback: stdlib_traceback(py, &err),
        })?;
        let interpreter_error = |err: PyErr| InitError::Interpreter {
            message: describe(py, &err),
            traceback: traceback(&support, &err),
        };
        if host != Host::ManagedRuntime {
            setup_sys_path(py, &support, config).map_err(interpreter_error)?;
            let log_format = match config.log_format {
                LogFormat::Json => "json",
                LogFormat::Text => "text",
            };
            support
                .call_method1("setup_logging", (log_format, config.log_level.as_deref()))
                .map_err(interpreter_error)?;
        }
        // Apps register SnapStart hooks at import, whether or not SnapStart is on.
        support
            .call_method0("install_snapshot_hooks_module")
            .map_err(interpreter_error)?;
        if !remote_env.is_empty() {
            support
                .call_method1("apply_environment", (remote_env.to_vec(),))
                .map_err(interpreter_error)?;
        }
        let (apps, imported_apps) = import_apps(py, &support, config, given_app)?;
        let event_handler = match &config.event_handler {
            Some((module, attr)) => Some(import_callable(py, &support, module, attr, Role::EventHandler)?),
            None => None,
        };
        support.call_method0("after_app_import").map_err(interpreter_error)?;
        // What the imports made lives as long as the process: moved out of the collector's
        // generations, a full collection no longer walks it (nor, in forked workers, writes to
        // its pages).
        py.import("gc")
            .and_then(|gc| gc.call_method0("freeze"))
            .map_err(interpreter_error)?;
        let announce = host != Host::ManagedRuntime;
        WsgiApp::new(
            py,
            apps,
            imported_apps,
            event_handler,
            &support,
            config.deadline_margin,
            announce,
        )
        .map_err(interpreter_error)
    }
}

/// support.py and support_later.py compiled by the build's Pythons (build.rs): per Python, its
/// magic number, the code's length (u32, little-endian) and the marshalled code object; empty
/// when the build could not run Python.
const SUPPORT_BYTECODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/support.pyc-marshal"));
const SUPPORT_LATER_BYTECODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/support_later.pyc-marshal"));

/// The marshalled code in `embedded` that an interpreter with this `magic` number compiled (the
/// same bytecode): a runtime on a Python the build did not compile for compiles the source.
fn matching_bytecode<'a>(mut embedded: &'a [u8], magic: &[u8]) -> Option<&'a [u8]> {
    if magic.len() != 4 {
        return None;
    }
    while let Some((record_magic, rest)) = embedded.split_at_checked(4) {
        let (length, rest) = rest.split_at_checked(4)?;
        let length = usize::try_from(u32::from_le_bytes(length.try_into().ok()?)).ok()?;
        let (code, rest) = rest.split_at_checked(length)?;
        if record_magic == magic && !code.is_empty() {
            return Some(code);
        }
        embedded = rest;
    }
    None
}

/// support.py as a module, from the build's bytecode when this interpreter can use it, else
/// compiled from the source; and support_later.py's bytecode or source for it to compile on
/// first use (most cold starts never need it).
fn load_support(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    // The import system's own module: always loaded at start, unlike importlib.util.
    let magic = py
        .import("_frozen_importlib_external")
        .and_then(|module| module.getattr("MAGIC_NUMBER"))
        .and_then(|magic| Ok(magic.cast::<PyBytes>()?.as_bytes().to_vec()))
        .unwrap_or_default();
    let support = match matching_bytecode(SUPPORT_BYTECODE, &magic) {
        Some(bytecode) => {
            let code = py
                .import("marshal")?
                .call_method1("loads", (PyBytes::new(py, bytecode),))?;
            let module = PyModule::new(py, "lambda_wsgi_support")?;
            module.setattr("__file__", "lambda_wsgi_support.py")?;
            py.import("sys")?
                .getattr("modules")?
                .set_item("lambda_wsgi_support", &module)?;
            py.import("builtins")?.getattr("exec")?.call1((code, module.dict()))?;
            module
        }
        None => {
            let code = CString::new(include_str!("support.py")).expect("BUG: support.py contains a NUL byte");
            PyModule::from_code(py, &code, c"lambda_wsgi_support.py", c"lambda_wsgi_support")?
        }
    };
    support.setattr("_LATER_SOURCE", include_str!("support_later.py"))?;
    if let Some(bytecode) = matching_bytecode(SUPPORT_LATER_BYTECODE, &magic) {
        support.setattr("_LATER_BYTECODE", PyBytes::new(py, bytecode))?;
    }
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

/// Every mount's app, imported in table order and wrapped in its middleware (the mount's own,
/// then WSGI_MIDDLEWARE's), and each as it was imported: what management commands run
/// against (a Flask CLI needs the Flask object, not a ProxyFix around it). `given_app`
/// (make_handler) stands for the one mount at `/`.
fn import_apps<'py>(
    py: Python<'py>,
    support: &Bound<'py, PyModule>,
    config: &Config,
    mut given_app: Option<Bound<'py, PyAny>>,
) -> Result<(Apps<'py>, Apps<'py>), InitError> {
    let is_table = !matches!(config.apps.mounts(), [only] if only.prefix == "/");
    let mut apps = Vec::with_capacity(config.apps.mounts().len());
    let mut imported = Vec::with_capacity(config.apps.mounts().len());
    for mount in config.apps.mounts() {
        let in_mount = |err: InitError| {
            if is_table {
                InitError::Mount {
                    prefix: mount.prefix.clone(),
                    app: mount.app.clone(),
                    source: Box::new(err),
                }
            } else {
                err
            }
        };
        let bare = match given_app.take() {
            Some(app) => app,
            None => {
                let (module, attr) = mount.app.split_once(':').unwrap_or((mount.app.as_str(), ""));
                import_callable(py, support, module, attr, Role::App).map_err(in_mount)?
            }
        };
        let mut app = bare.clone();
        for spec in mount.middleware.iter().chain(&config.middleware) {
            app = wrap(py, support, spec, app).map_err(in_mount)?;
        }
        imported.push(bare);
        apps.push(app);
    }
    Ok((apps, imported))
}

/// One callable per mount, in table order.
type Apps<'py> = Vec<Bound<'py, PyAny>>;

/// `factory(app)`: one middleware applied, once, at init.
fn wrap<'py>(
    py: Python<'py>,
    support: &Bound<'py, PyModule>,
    spec: &str,
    app: Bound<'py, PyAny>,
) -> Result<Bound<'py, PyAny>, InitError> {
    let (module, attr) = spec.split_once(':').unwrap_or((spec, ""));
    let factory = import_callable(py, support, module, attr, Role::Middleware)?;
    let wrapped = factory.call1((app,)).map_err(|err| InitError::Middleware {
        spec: spec.to_owned(),
        message: describe(py, &err),
        traceback: traceback(support, &err),
    })?;
    if !wrapped.is_callable() {
        let type_name = type_name(&wrapped);
        return Err(InitError::HandlerNotFound(format!(
            "middleware '{spec}' returned a {type_name}, not a WSGI application: a factory takes the app and returns the wrapped one"
        )));
    }
    Ok(wrapped)
}

/// What [`import_callable`] looks for, for its messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    App,
    EventHandler,
    Middleware,
}

/// Imports `module` and follows `attr` (dotted) to a callable: a WSGI app, the
/// WSGI_EVENT_HANDLER or a middleware factory (`role` names which, in messages).
fn import_callable<'py>(
    py: Python<'py>,
    support: &Bound<'py, PyModule>,
    module_name: &str,
    attr: &str,
    role: Role,
) -> Result<Bound<'py, PyAny>, InitError> {
    let (label, expected) = match role {
        Role::App => (
            "Handler",
            "a WSGI application (a callable taking environ and start_response)",
        ),
        Role::EventHandler => ("WSGI_EVENT_HANDLER", "a function taking (event, context)"),
        Role::Middleware => (
            "Middleware",
            "a middleware factory (a callable taking the WSGI application)",
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8] = b"\xa7\r\r\n";

    #[test]
    fn the_build_compiled_the_helpers() {
        // make and cargo build with a runnable Python (PYO3_PYTHON): the bytecode must be there,
        // or every cold start compiles support.py again.
        assert!(SUPPORT_BYTECODE.len() > 8 && SUPPORT_LATER_BYTECODE.len() > 8);
        assert_eq!(SUPPORT_BYTECODE[2..4], *b"\r\n", "a magic number ends with \\r\\n");
    }

    /// One record: magic, length, code.
    fn record(magic: &[u8], code: &[u8]) -> Vec<u8> {
        let length = u32::try_from(code.len()).expect("BUG: a test record is small");
        [magic, &length.to_le_bytes()[..], code].concat()
    }

    #[test]
    fn bytecode_of_the_same_interpreter_is_used() {
        assert_eq!(matching_bytecode(&record(MAGIC, b"code"), MAGIC), Some(&b"code"[..]));
    }

    #[test]
    fn each_python_finds_its_own_record() {
        let two = [record(b"\xcb\r\r\n", b"other"), record(MAGIC, b"mine")].concat();
        assert_eq!(matching_bytecode(&two, MAGIC), Some(&b"mine"[..]));
        assert_eq!(matching_bytecode(&two, b"\xcb\r\r\n"), Some(&b"other"[..]));
        assert_eq!(matching_bytecode(&two, b"\xf3\r\r\n"), None);
    }

    #[test]
    fn bytecode_of_another_interpreter_or_none_is_not() {
        assert_eq!(matching_bytecode(&record(b"\xcb\r\r\n", b"code"), MAGIC), None);
        assert_eq!(matching_bytecode(b"", MAGIC), None);
        assert_eq!(matching_bytecode(&record(MAGIC, b""), MAGIC), None);
        assert_eq!(matching_bytecode(&record(MAGIC, b"code"), b""), None);
    }

    #[test]
    fn a_truncated_record_is_not_read_past_its_end() {
        let mut truncated = record(MAGIC, b"code");
        truncated.truncate(10);
        assert_eq!(matching_bytecode(&truncated, MAGIC), None);
    }
}
