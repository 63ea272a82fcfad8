//! Starts the runtime as Lambda does (a cleared environment with Lambda's variables), restarts it
//! when it exits, and kills it when the deadline passes or the emulator stops.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::broker::Broker;

/// How the runtime process is started.
pub struct ChildSpec {
    /// The runtime binary.
    pub bootstrap: PathBuf,
    /// Its arguments (Lambda passes none to `bootstrap`; an exec wrapper gets the runtime's).
    pub args: Vec<String>,
    /// The function code directory: LAMBDA_TASK_ROOT and the working directory.
    pub task_root: PathBuf,
    /// `_HANDLER`.
    pub handler: String,
    /// AWS_LAMBDA_FUNCTION_NAME.
    pub function_name: String,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    pub memory_mb: u32,
    /// AWS_LAMBDA_RUNTIME_API.
    pub runtime_api: String,
    /// `--env` pairs, applied last.
    pub extra_env: Vec<(String, String)>,
    /// SnapStart: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start.
    pub snap_start: bool,
    /// Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY when above 1.
    pub max_concurrency: usize,
}

/// Variables passed through from the emulator's own environment; everything else is cleared.
const PASS_THROUGH: &[&str] = &[
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "HOME",
];
const PASS_THROUGH_PREFIXES: &[&str] = &["WSGI_", "AWS_LAMBDA_LOG_"];

impl ChildSpec {
    /// The environment Lambda gives a runtime, plus what a local run needs.
    pub fn environment(&self) -> Vec<(String, String)> {
        let stream = format!("{}/[$LATEST]{:032x}", "2026/01/01", std::process::id());
        let mut env: Vec<(String, String)> = [
            ("AWS_LAMBDA_RUNTIME_API", self.runtime_api.clone()),
            ("_HANDLER", self.handler.clone()),
            ("LAMBDA_TASK_ROOT", self.task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", self.task_root.display().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", self.memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.function_name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            (
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                if self.snap_start { "snap-start" } else { "on-demand" }.to_owned(),
            ),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            // Fake credentials, as Lambda sets real ones: tests prove they never leak.
            ("AWS_ACCESS_KEY_ID", "ASIAEMULATORFAKEKEY".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "emulator-fake-secret".to_owned()),
            ("AWS_SESSION_TOKEN", "emulator-fake-token".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if self.max_concurrency > 1 {
            env.push((
                "AWS_LAMBDA_MAX_CONCURRENCY".to_owned(),
                self.max_concurrency.to_string(),
            ));
        }
        env.extend(std::env::vars().filter(|(name, _)| {
            PASS_THROUGH.contains(&name.as_str()) || PASS_THROUGH_PREFIXES.iter().any(|p| name.starts_with(p))
        }));
        env.extend(self.extra_env.iter().cloned());
        activate_virtualenv(&mut env);
        env
    }

    fn spawn(&self) -> std::io::Result<Child> {
        // The runtime's stdout and stderr both go to our stderr: our stdout is for the lines
        // tools wait on.
        let stderr = || std::io::stderr().as_fd().try_clone_to_owned().map(Stdio::from);
        Command::new(&self.bootstrap)
            .args(&self.args)
            .env_clear()
            .envs(self.environment())
            .current_dir(&self.task_root)
            .stdin(Stdio::null())
            .stdout(stderr()?)
            .stderr(stderr()?)
            .kill_on_drop(true)
            .spawn()
    }
}

/// With VIRTUAL_ENV set, puts its bin/ first on PATH, as `activate` does. An embedded CPython
/// finds its prefix from the first `python3` on PATH, so this is what makes it start as the
/// venv's interpreter: the venv's site-packages only, not the base installation's (whose .pth
/// files can cost tens of milliseconds of cold start, and whose packages the app did not ask for).
fn activate_virtualenv(env: &mut Vec<(String, String)>) {
    let last = |env: &[(String, String)], key: &str| env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let Some(venv) = last(env, "VIRTUAL_ENV").filter(|v| !v.is_empty()) else {
        return;
    };
    let path = last(env, "PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
    let venv_bin = format!("{}/bin", venv.trim_end_matches('/'));
    if path.split(':').next() != Some(venv_bin.as_str()) {
        env.push(("PATH".to_owned(), format!("{venv_bin}:{path}")));
    }
}

/// What the Runtime API endpoints report to the supervisor about the current runtime.
#[derive(Default)]
pub struct RuntimeState {
    ready: AtomicBool,
    /// The current runtime process, 0 when none runs.
    pid: AtomicU32,
    init_error: Mutex<Option<Bytes>>,
}

impl RuntimeState {
    /// The runtime asked for its first invocation: true the first time per process.
    pub fn mark_ready(&self) -> bool {
        !self.ready.swap(true, Ordering::SeqCst)
    }

    /// The running runtime's process id, if one runs.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|&pid| pid != 0)
    }

    /// The runtime posted `/init/error`.
    pub fn record_init_error(&self, body: Bytes) {
        *self
            .init_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(body);
    }

    fn reset(&self) -> (bool, Option<Bytes>) {
        self.pid.store(0, Ordering::SeqCst);
        let was_ready = self.ready.swap(false, Ordering::SeqCst);
        (
            was_ready,
            self.init_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        )
    }
}

/// After this many failed inits in a row, the next start waits for a request.
const MAX_EAGER_RESTARTS: u32 = 2;

/// Keeps a runtime running until `shutdown` flips to true.
pub async fn supervise(
    spec: ChildSpec,
    broker: Arc<Broker>,
    state: Arc<RuntimeState>,
    mut kill: mpsc::UnboundedReceiver<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failed_inits = 0;
    loop {
        if failed_inits >= MAX_EAGER_RESTARTS {
            tokio::select! {
                () = broker.wait_for_work() => {}
                _ = shutdown.changed() => return,
            }
        }
        while kill.try_recv().is_ok() {} // kill requests for a previous process
        let mut child = match spec.spawn() {
            Ok(child) => child,
            Err(err) => {
                let message = format!("cannot start {}: {err}", spec.bootstrap.display());
                eprintln!("lambda-wsgi-emulator: {message}");
                broker.fail_queued(&init_error_json("Runtime.InvalidEntrypoint", &message));
                failed_inits = MAX_EAGER_RESTARTS;
                continue;
            }
        };
        state.pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        let status = tokio::select! {
            status = child.wait() => status,
            Some(()) = kill.recv() => {
                eprintln!("lambda-wsgi-emulator: the invocation timed out; killing the runtime");
                stop(&mut child).await
            }
            _ = shutdown.changed() => {
                shut_down(&mut child).await;
                return;
            }
        };
        let status = describe(status);
        let (was_ready, init_error) = state.reset();
        broker.fail_in_flight(&format!("the runtime exited ({status})"));
        match (init_error, was_ready) {
            (Some(init_error), _) => {
                broker.fail_queued(&init_error);
                failed_inits += 1;
            }
            (None, false) => {
                let message = format!("the runtime exited ({status}) before asking for an invocation");
                broker.fail_queued(&init_error_json("Runtime.ExitError", &message));
                failed_inits += 1;
            }
            (None, true) => failed_inits = 0,
        }
        eprintln!("lambda-wsgi-emulator: runtime exited ({status}); restarting");
    }
}

/// Lambda's shutdown phase: SIGTERM, then SIGKILL if the runtime is still there after the
/// window Lambda gives a runtime with extensions (2 s).
async fn shut_down(child: &mut Child) {
    const SHUTDOWN_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(nix::unistd::Pid::from_raw);
    if let Some(pid) = pid
        && nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok()
        && let Ok(status) = tokio::time::timeout(SHUTDOWN_WINDOW, child.wait()).await
    {
        eprintln!("lambda-wsgi-emulator: runtime stopped ({})", describe(status));
        return;
    }
    eprintln!("lambda-wsgi-emulator: runtime did not stop within {SHUTDOWN_WINDOW:?} of SIGTERM; killing it");
    stop(child).await.ok();
}

/// SIGKILL, as Lambda does to a runtime that missed its deadline.
async fn stop(child: &mut Child) -> std::io::Result<ExitStatus> {
    child.start_kill().ok();
    child.wait().await
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(err) => format!("status unknown: {err}"),
    }
}

fn init_error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_lambdas_not_ours() {
        let spec = ChildSpec {
            bootstrap: "/bin/true".into(),
            args: Vec::new(),
            task_root: "/var/task".into(),
            handler: "app:app".into(),
            function_name: "fn".into(),
            memory_mb: 256,
            runtime_api: "127.0.0.1:9001".into(),
            extra_env: vec![("WSGI_BASE_PATH".into(), "/api".into())],
            snap_start: true,
            max_concurrency: 4,
        };
        let env = spec.environment();
        let get = |key: &str| env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get("_HANDLER"), Some("app:app"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), Some("/aws/lambda/fn"));
        assert_eq!(get("WSGI_BASE_PATH"), Some("/api"));
        assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), Some("snap-start"));
        assert_eq!(get("AWS_LAMBDA_MAX_CONCURRENCY"), Some("4"));
        assert!(
            env.iter().all(|(k, _)| k != "CARGO" && k != "CARGO_MANIFEST_DIR"),
            "build env leaked"
        );
    }

    #[test]
    fn a_virtualenv_is_activated_for_the_runtime() {
        let mut env = vec![
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ("VIRTUAL_ENV".to_owned(), "/srv/app/.venv/".to_owned()),
        ];
        activate_virtualenv(&mut env);
        let path = env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str());
        assert_eq!(path, Some("/srv/app/.venv/bin:/usr/bin:/bin"));
        let mut without = vec![("PATH".to_owned(), "/usr/bin".to_owned())];
        activate_virtualenv(&mut without);
        assert_eq!(without.len(), 1);
    }
}
