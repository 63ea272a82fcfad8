//! The process's phases, whoever started Python: settings, remote configuration, the
//! interpreter and the app import, the SnapStart snapshot if Lambda asks for it, then serving,
//! in this process or in N forked workers on Managed Instances.
//!
//! Two hosts run this: the `bootstrap` binary, which embeds CPython (main.rs), and the Python
//! extension's loop (`python -m lambda_wsgi`, python/), where the managed runtime's own
//! interpreter is already running and calls in with the GIL released. Neither host does anything
//! else before it, so the two serve alike.

use crate::config::{self, Config, Initialization, Platform};
use crate::error::InitError;
use crate::init_error::{self, Phase};
use crate::interpreter::{self, Host};
use crate::runtime_api::{ErrorReport, requests, send_once};
use crate::supervisor::{self, InFlightRecord};
use crate::wsgi::{Forked, WsgiApp};
use crate::{remote_config, snapshot, warmup, worker};

/// The exit status of a runtime whose init failed.
const FAILED: u8 = 1;

/// Runs the runtime until Lambda shuts the environment down (or init fails, which is reported
/// to Lambda first); returns the process's exit status. `lookup` reads the process's environment;
/// `host` says who started Python. Called without the GIL.
pub fn run(lookup: impl Fn(&str) -> Option<String> + Copy, host: Host) -> u8 {
    // Without the Runtime API's address not even an init error can be reported.
    let address = match config::runtime_api_address(lookup) {
        Ok(address) => address,
        Err(err) => {
            tracing::error!(error_type = err.error_type(), "init failed: {err}");
            return FAILED;
        }
    };
    let (config, platform, app) = match init(lookup, host) {
        Ok(started) => started,
        Err(err) => {
            init_error::report(&address, Phase::Init, &init_error::init_report(&err));
            return FAILED;
        }
    };
    tracing::info!("serving WSGI application {}", config.app_spec());

    let shares_init = platform.initialization == Initialization::SnapStart || platform.max_concurrency > 1;
    if let Some(path) = config.warmup_path.as_deref().filter(|_| shares_init) {
        warmup::run(&app, &config, &platform, path);
    }
    if platform.initialization == Initialization::SnapStart
        && let Err(exit) = snapshot::take(&address, &app)
    {
        return exit;
    }
    let mut app = app;
    match platform.max_concurrency {
        1 => worker::run(&config, &platform, &mut app, None),
        workers => supervisor::supervise(
            workers,
            |record: &InFlightRecord| match app.fork_worker() {
                Ok(Forked::Parent(pid)) => Ok(nix::unistd::Pid::from_raw(pid)),
                Ok(Forked::Child) => {
                    supervisor::enter_worker();
                    std::process::exit(i32::from(worker::run(&config, &platform, &mut app, Some(record))))
                }
                Err(err) => Err(err.to_string()),
            },
            |request_id: &str, why: &str| {
                let report = ErrorReport::new("Runtime.WorkerDied", why);
                match send_once(&address, "POST /error", requests::invocation_error(request_id, &report)) {
                    Ok(status) => tracing::error!(requestId = %request_id, "reported as failed ({status}): {why}"),
                    Err(err) => tracing::error!(requestId = %request_id, "could not report the lost invocation: {err}"),
                }
            },
        ),
    }
}

/// Everything before serving: settings, remote configuration, the interpreter, the app import.
fn init(lookup: impl Fn(&str) -> Option<String> + Copy, host: Host) -> Result<(Config, Platform, WsgiApp), InitError> {
    let config = Config::from_lookup(lookup)?;
    let platform = Platform::from_lookup(lookup)?;
    let remote_env = match &config.remote_config {
        Some(helper) => remote_config::load(&remote_config::helper_path(helper.as_deref()))?,
        None => Vec::new(),
    };
    let app = interpreter::start(&config, &remote_env, host)?;
    Ok((config, platform, app))
}
