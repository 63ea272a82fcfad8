//! `bootstrap`: read the config, start Python, import the app once, then serve invocations.

use std::process::ExitCode;

use lambda_wsgi::config::{Config, InvokeMode};
use lambda_wsgi::error::InitError;
use lambda_wsgi::invoke::{self, InvocationContext};
use lambda_wsgi::{init_error, interpreter, remote_config, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();

    let started = Config::from_lookup(|name| std::env::var(name).ok()).and_then(|config| {
        let remote_env = match &config.remote_config {
            Some(helper) => remote_config::load(&remote_config::helper_path(helper.as_deref()))?,
            None => Vec::new(),
        };
        interpreter::start(&config, &remote_env).map(|app| (config, app))
    });
    let (config, app) = match started {
        Ok(started) => started,
        Err(err) => return fail_init(&err).await,
    };
    tracing::info!("serving WSGI application {}", config.app_spec());

    let serving = async {
        match config.invoke_mode {
            InvokeMode::Buffered => {
                serve::serve(|event: &str, context: &lambda_runtime::Context| {
                    invoke::handle(&app, &config, event, &InvocationContext::from(context)).map_err(Into::into)
                })
                .await
            }
            InvokeMode::ResponseStream => {
                serve::serve_streaming(
                    |event: &str, context: &lambda_runtime::Context, out: &mut dyn FnMut(&[u8]) -> bool| {
                        invoke::handle_streaming(&app, &config, event, &InvocationContext::from(context), out)
                            .map_err(Into::into)
                    },
                )
                .await
            }
        }
    };
    tokio::select! {
        outcome = serving => match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!("the Runtime API connection failed: {err}");
                ExitCode::FAILURE
            }
        },
        signal = shutdown_signal() => {
            // Lambda sends SIGTERM before stopping an environment (when extensions are registered);
            // the embedded interpreter is never finalized, so its atexit handlers run only here.
            tracing::info!("{signal}: running the application's atexit handlers");
            app.shutdown();
            ExitCode::SUCCESS
        }
    }
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

async fn fail_init(err: &InitError) -> ExitCode {
    let traceback = err.traceback().join("\n");
    tracing::error!(error_type = err.error_type(), "init failed: {err}\n{traceback}");
    init_error::report(err).await;
    ExitCode::FAILURE
}
