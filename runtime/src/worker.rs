//! One worker: this process serves invocations one at a time until the Runtime API goes away or
//! Lambda shuts the environment down. The only topology-specific part of serving is who calls
//! this: `main` directly, or each Managed Instances worker after its fork.

use std::sync::Arc;

use crate::config::{Config, InvokeMode, Platform};
use crate::context::InvocationContext;
use crate::invoke;
use crate::runtime_api::{ErrorReport, RuntimeApi};
use crate::serve;
use crate::supervisor::InFlightRecord;
use crate::wsgi::{Offer, WsgiApp};

/// The exit status of a worker that could not serve on.
const FAILED: u8 = 1;

/// Serves until the end; the exit status says how it ended (0: shut down, 1: failed). A
/// Managed Instances worker notes each invocation in `record` for its supervisor.
pub fn run(config: &Config, platform: &Platform, app: &mut WsgiApp, record: Option<&InFlightRecord>) -> u8 {
    if let Err(err) = app.start_serving() {
        tracing::error!("cannot start serving: {err}");
        return FAILED;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("cannot start the I/O runtime: {err}");
            return FAILED;
        }
    };
    let function = Arc::new(platform.function.clone());
    let mut api = RuntimeApi::new(&platform.runtime_api, function.clone());
    let app = &*app;
    runtime.block_on(async {
        let serving = async {
            match config.invoke_mode {
                InvokeMode::Buffered => {
                    serve::serve(&mut api, |event: &str, context: &InvocationContext| {
                        tracked(record, context, || {
                            invoke::handle(app, config, event, context).map_err(ErrorReport::from)
                        })
                    })
                    .await
                }
                InvokeMode::ResponseStream => {
                    serve::serve_streaming(
                        &mut api,
                        &platform.runtime_api,
                        function,
                        config.deadline_margin,
                        |event: &str, context: &InvocationContext, out: &mut dyn FnMut(&[u8]) -> Offer| {
                            tracked(record, context, || {
                                invoke::handle_streaming(app, config, event, context, out).map_err(ErrorReport::from)
                            })
                        },
                    )
                    .await
                }
            }
        };
        tokio::select! {
            outcome = serving => match outcome {
                Ok(()) => 0,
                Err(err) => {
                    tracing::error!("{err}");
                    FAILED
                }
            },
            signal = shutdown_signal() => {
                // Lambda sends SIGTERM before stopping an environment (when extensions are
                // registered); the embedded interpreter is never finalized, so its atexit
                // handlers run only here.
                tracing::info!("{signal}: running the application's atexit handlers");
                app.shutdown();
                0
            }
        }
    })
}

/// Runs one invocation with its request id in `record`, if there is one.
fn tracked<R>(record: Option<&InFlightRecord>, context: &InvocationContext, handle: impl FnOnce() -> R) -> R {
    if let Some(record) = record {
        record.begin(&context.request_id);
    }
    let outcome = handle();
    if let Some(record) = record {
        record.end();
    }
    outcome
}

/// SIGTERM (Lambda's shutdown) or SIGINT (Ctrl-C locally), by name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        },
        _ => {
            tracing::warn!("cannot listen for SIGTERM; atexit handlers will not run at shutdown");
            std::future::pending().await
        }
    }
}
