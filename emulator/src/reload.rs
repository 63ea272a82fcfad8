//! `serve --reload`: restart the runtime when a .py file under the task root changes, as
//! `flask run --debug` does, so the next request runs the new code through the same Lambda path.
//!
//! Polling, not inotify: a task root is a few hundred files, a scan every half second costs
//! nothing measurable, and it behaves the same on every filesystem (bind mounts, editors that
//! replace files).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::child::RuntimeState;

const INTERVAL: Duration = Duration::from_millis(500);
/// Directories that hold no app code, or only generated code.
const SKIPPED_DIRS: &[&str] = &["__pycache__", "node_modules", "site-packages", "target"];

/// Watches `root` until the process ends; on a change, stops the runtime with SIGTERM (Lambda's
/// shutdown signal) and lets the supervisor start a new one.
pub async fn watch(root: PathBuf, state: Arc<RuntimeState>) {
    poll(root, INTERVAL, snapshot, move |changed| {
        crate::say(&format!("{} changed; restarting the runtime", changed.display()));
        if let Some(pid) = state.pid().and_then(|pid| i32::try_from(pid).ok())
            && let Err(err) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
        {
            eprintln!("lambda-wsgi-emulator: could not stop the runtime (pid {pid}) to reload it: {err}");
        }
    })
    .await;
}

/// A file list with modification times, sorted by path.
type Snapshot = Vec<(PathBuf, SystemTime)>;

/// Scans `root` every `interval` and calls `on_change` with the first file that differs. The
/// scans walk the filesystem with blocking calls, so they run on tokio's blocking pool: on the
/// runtime's own thread they would hold up every request the emulator is serving meanwhile.
async fn poll<S>(root: PathBuf, interval: Duration, scan: S, mut on_change: impl FnMut(&Path))
where
    S: Fn(&Path) -> Snapshot + Clone + Send + 'static,
{
    let scan_off_the_runtime = || {
        let (scan, root) = (scan.clone(), root.clone());
        tokio::task::spawn_blocking(move || scan(&root))
    };
    let Ok(mut known) = scan_off_the_runtime().await else {
        eprintln!(
            "lambda-wsgi-emulator: --reload stopped: the first scan of {} failed",
            root.display()
        );
        return;
    };
    loop {
        tokio::time::sleep(interval).await;
        // A scan that panicked is skipped: the next one compares with the last good one.
        let Ok(current) = scan_off_the_runtime().await else {
            continue;
        };
        if let Some(changed) = first_difference(&known, &current) {
            on_change(changed);
            known = current;
        }
    }
}

/// Every .py file under `root` with its modification time, sorted by path.
fn snapshot(root: &Path) -> Snapshot {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                    pending.push(path);
                }
            } else if name.ends_with(".py")
                && let Ok(modified) = entry.metadata().and_then(|m| m.modified())
            {
                files.push((path, modified));
            }
        }
    }
    files.sort();
    files
}

/// A file added, removed or modified between two snapshots.
fn first_difference<'a>(before: &'a [(PathBuf, SystemTime)], after: &'a [(PathBuf, SystemTime)]) -> Option<&'a Path> {
    after
        .iter()
        .find(|entry| !before.contains(entry))
        .or_else(|| before.iter().find(|entry| !after.contains(entry)))
        .map(|(path, _)| path.as_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan blocks until a message comes that only another task on the same (single-thread)
    /// runtime sends, once the scan has begun: it can come only if the scan runs off the
    /// runtime's thread. Bounded: a scan that blocks the runtime gives up after 10 s and reports
    /// that it waited in vain.
    #[tokio::test(flavor = "current_thread")]
    async fn scans_do_not_block_the_async_runtime() {
        let (send, receive) = std::sync::mpsc::channel::<()>();
        let receive = Arc::new(std::sync::Mutex::new(receive));
        let (began, has_begun) = tokio::sync::oneshot::channel::<()>();
        let began = Arc::new(std::sync::Mutex::new(Some(began)));
        let (report, reports) = std::sync::mpsc::channel::<bool>();
        let scan = move |_: &Path| {
            if let Some(began) = began.lock().ok().and_then(|mut began| began.take()) {
                began.send(()).ok();
            }
            let got = receive
                .lock()
                .map(|r| r.recv_timeout(Duration::from_secs(10)).is_ok())
                .unwrap_or(false);
            report.send(got).ok();
            Vec::new()
        };
        let watcher = tokio::spawn(poll(std::env::temp_dir(), Duration::from_secs(3600), scan, |_| {}));
        has_begun.await.expect("the scan began");
        send.send(()).expect("the scan is listening");
        let first = tokio::task::spawn_blocking(move || reports.recv_timeout(Duration::from_secs(20)))
            .await
            .expect("joins");
        watcher.abort();
        assert_eq!(first, Ok(true), "the scan ran on the runtime's thread and blocked it");
    }

    #[test]
    fn a_modified_added_or_removed_py_file_is_a_change() {
        let dir = std::env::temp_dir().join(format!("lambda-wsgi-reload-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("__pycache__")).expect("temp dir");
        std::fs::write(dir.join("app.py"), "a = 1").expect("write");
        std::fs::write(dir.join("notes.txt"), "not code").expect("write");
        std::fs::write(dir.join("__pycache__/app.py"), "generated").expect("write");
        let before = snapshot(&dir);
        assert_eq!(before.len(), 1, "only app.py is watched: {before:?}");
        assert_eq!(first_difference(&before, &snapshot(&dir)), None);

        let file = std::fs::File::options()
            .write(true)
            .open(dir.join("app.py"))
            .expect("open");
        file.set_modified(SystemTime::now() + Duration::from_secs(5))
            .expect("touch");
        let modified = snapshot(&dir);
        assert_eq!(first_difference(&before, &modified), Some(dir.join("app.py").as_path()));

        std::fs::write(dir.join("views.py"), "").expect("write");
        let added = snapshot(&dir);
        assert_eq!(
            first_difference(&modified, &added),
            Some(dir.join("views.py").as_path())
        );
        assert_eq!(
            first_difference(&added, &modified),
            Some(dir.join("views.py").as_path())
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
