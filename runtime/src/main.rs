//! `bootstrap`: read the config, start Python, import the app once, take the SnapStart snapshot
//! if asked, then serve: in this process, or in N forked workers on Managed Instances.

use std::process::ExitCode;

use lambda_wsgi::config::{self, Config, Initialization, Platform};
use lambda_wsgi::error::InitError;
use lambda_wsgi::init_error::{self, Phase};
use lambda_wsgi::runtime_api::{ErrorReport, requests, send_once};
use lambda_wsgi::supervisor::InFlightRecord;
use lambda_wsgi::wsgi::{Forked, WsgiApp};
use lambda_wsgi::{interpreter, remote_config, snapshot, supervisor, worker};

fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let lookup = |name: &str| std::env::var(name).ok();

    // Without the Runtime API's address not even an init error can be reported.
    let address = match config::runtime_api_address(lookup) {
        Ok(address) => address,
        Err(err) => {
            tracing::error!(error_type = err.error_type(), "init failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (config, platform, app) = match init(lookup) {
        Ok(started) => started,
        Err(err) => {
            init_error::report(&address, Phase::Init, &init_error::init_report(&err));
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("serving WSGI application {}", config.app_spec());

    if platform.initialization == Initialization::SnapStart
        && let Err(exit) = snapshot::take(&address, &app)
    {
        return exit;
    }
    let mut app = app;
    match platform.max_concurrency {
        1 => ExitCode::from(worker::run(&config, &platform, &mut app, None)),
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
fn init(lookup: impl Fn(&str) -> Option<String> + Copy) -> Result<(Config, Platform, WsgiApp), InitError> {
    let config = Config::from_lookup(lookup)?;
    let platform = Platform::from_lookup(lookup)?;
    let remote_env = match &config.remote_config {
        Some(helper) => remote_config::load(&remote_config::helper_path(helper.as_deref()))?,
        None => Vec::new(),
    };
    let app = interpreter::start(&config, &remote_env)?;
    Ok((config, platform, app))
}
