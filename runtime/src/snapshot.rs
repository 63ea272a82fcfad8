//! SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): between init and serving, the
//! snapshot lifecycle as the managed Python runtime runs it.
//!
//! Before-snapshot hooks (last registered first) -> `GET /restore/next`, which answers only once
//! Lambda has restored a copy of this environment -> a new Runtime API connection (the one open
//! at snapshot time is dead) -> `random` seeded anew (every copy would otherwise draw the same
//! numbers) -> after-restore hooks in order -> serve. A failing before-hook is an init error
//! (`Runtime.BeforeSnapshotError`, exit 64); a failing after-hook goes to `/restore/error`
//! (`Runtime.AfterRestoreError`, exit 65), as the managed runtime does.

use crate::config::RuntimeApiAddress;
use crate::init_error::{self, Phase};
use crate::runtime_api::{ErrorReport, RuntimeApi};
use crate::wsgi::WsgiApp;

/// The managed runtime's exit code for a failed before-snapshot hook or restore wait.
const BEFORE_SNAPSHOT_EXIT: u8 = 64;
/// The managed runtime's exit code for a failed after-restore hook.
const AFTER_RESTORE_EXIT: u8 = 65;

/// Lambda's limit on the restore plus the after-restore hooks.
const RESTORE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the lifecycle; `Err` carries the exit code once the failure has been reported.
pub fn take(address: &RuntimeApiAddress, app: &WsgiApp) -> Result<(), u8> {
    if let Err(err) = app.run_before_snapshot() {
        let report = init_error::hook_report("Runtime.BeforeSnapshotError", &err);
        init_error::report(address, Phase::Init, &report);
        return Err(BEFORE_SNAPSHOT_EXIT);
    }
    tracing::info!("SnapStart: before-snapshot hooks done; waiting for the restore");
    if let Err(err) = wait_for_restore(address) {
        let report = ErrorReport::new(
            "Runtime.BeforeSnapshotError",
            format!("waiting for the restore failed: {err}"),
        );
        init_error::report(address, Phase::Init, &report);
        return Err(BEFORE_SNAPSHOT_EXIT);
    }
    let restored = std::time::Instant::now();
    if let Err(err) = app.run_after_restore() {
        let report = init_error::hook_report("Runtime.AfterRestoreError", &err);
        init_error::report(address, Phase::Restore, &report);
        return Err(AFTER_RESTORE_EXIT);
    }
    let took = restored.elapsed();
    if took > RESTORE_LIMIT {
        tracing::warn!(
            "SnapStart: the after-restore hooks took {} ms; Lambda allows the restore and its hooks {} s in all",
            took.as_millis(),
            RESTORE_LIMIT.as_secs()
        );
    } else {
        tracing::info!(
            "SnapStart: restored; after-restore hooks done in {} ms",
            took.as_millis()
        );
    }
    Ok(())
}

/// `GET /restore/next` on a connection of its own, dropped with its runtime before serving
/// opens a new one: nothing open at snapshot time is used after the restore.
fn wait_for_restore(address: &RuntimeApiAddress) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let mut api = RuntimeApi::new(address, Default::default());
    runtime.block_on(api.restore_next()).map_err(|err| err.to_string())
}
