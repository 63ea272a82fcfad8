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
    let mut known = snapshot(&root);
    loop {
        tokio::time::sleep(INTERVAL).await;
        let current = snapshot(&root);
        if let Some(changed) = first_difference(&known, &current) {
            crate::say(&format!("{} changed; restarting the runtime", changed.display()));
            if let Some(pid) = state.pid().and_then(|pid| i32::try_from(pid).ok()) {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).ok();
            }
            known = current;
        }
    }
}

/// Every .py file under `root` with its modification time, sorted by path.
fn snapshot(root: &Path) -> Vec<(PathBuf, SystemTime)> {
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
