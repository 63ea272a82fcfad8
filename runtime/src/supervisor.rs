//! Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY=N`, N > 1): one environment serves N
//! invocations at once. One interpreter has one GIL, so concurrency means processes; but the app
//! is imported once, before any worker exists, and each worker is a fork that shares the
//! imported app's memory copy-on-write (the collector frozen first, see support.fork_worker).
//! Each worker runs the ordinary one-at-a-time loop on its own Runtime API connection: Lambda
//! accepts N concurrent `/next` long polls.
//!
//! This process only supervises: a worker that dies is replaced (the others keep serving), and
//! SIGTERM or SIGINT is passed on to every worker, each of which runs the app's atexit handlers
//! once, as a single-process runtime does. The supervisor holds no GIL and runs no thread while
//! it waits, so every fork happens from a single-threaded process.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How long workers get to run their atexit handlers before they are killed (Lambda allows the
/// runtime about 2 s after SIGTERM, less with extensions).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// A worker that dies this soon after it started is not replaced at once: a crash at start
/// would otherwise spin.
/// The exit status when the workers could not be kept running.
const FAILED: u8 = 1;

const FAST_FAILURE: Duration = Duration::from_secs(1);

/// Starts a worker that records its invocations in `record`; returns its pid in the parent. In
/// the worker itself it never returns (the worker serves, then exits).
pub trait Spawn {
    /// Forks and starts one worker.
    fn spawn(&mut self, record: &InFlightRecord) -> Result<Pid, String>;
}

impl<F: FnMut(&InFlightRecord) -> Result<Pid, String>> Spawn for F {
    fn spawn(&mut self, record: &InFlightRecord) -> Result<Pid, String> {
        self(record)
    }
}

/// Reports the invocation a dead worker was serving; called in the supervisor.
pub trait ReportLost {
    /// Tells Lambda that invocation `request_id` will never be answered, and why.
    fn report_lost(&mut self, request_id: &str, why: &str);
}

impl<F: FnMut(&str, &str)> ReportLost for F {
    fn report_lost(&mut self, request_id: &str, why: &str) {
        self(request_id, why)
    }
}

/// Which invocation a worker is serving, where its supervisor can read it after the worker
/// died: a small unlinked file shared across the fork, written at fixed offset 0 (one
/// `pwrite` at the start and one at the end of each invocation). Without it, an invocation
/// whose worker died would wait for its timeout, minutes perhaps; with it, the supervisor
/// reports it as failed at once.
pub struct InFlightRecord(File);

/// Lambda's request ids are UUIDs; anything longer is cut (and then not reported).
const RECORD_SIZE: usize = 128;

impl InFlightRecord {
    /// A new, empty record.
    pub fn new() -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!("lambda-wsgi-worker-{}-{:016x}", std::process::id(), rand_id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        file.write_all_at(&[0; RECORD_SIZE], 0)?;
        Ok(InFlightRecord(file))
    }

    /// In the worker: invocation `request_id` begins.
    pub fn begin(&self, request_id: &str) {
        let mut record = [0u8; RECORD_SIZE];
        let id = request_id.as_bytes();
        if id.len() <= RECORD_SIZE {
            record[..id.len()].copy_from_slice(id);
        }
        self.write(&record);
    }

    /// In the worker: the invocation was answered.
    pub fn end(&self) {
        self.write(&[0; RECORD_SIZE]);
    }

    fn write(&self, record: &[u8; RECORD_SIZE]) {
        if let Err(err) = self.0.write_all_at(record, 0) {
            tracing::warn!("cannot record the invocation in flight: {err}");
        }
    }

    /// In the supervisor: the request id being served, if any.
    fn current(&self) -> Option<String> {
        let mut record = [0u8; RECORD_SIZE];
        self.0.read_exact_at(&mut record, 0).ok()?;
        let end = record.iter().position(|&b| b == 0).unwrap_or(RECORD_SIZE);
        std::str::from_utf8(&record[..end])
            .ok()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    }
}

/// A few random bits for a unique file name.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

/// One running worker.
struct Worker {
    slot: usize,
    started: Instant,
    record: InFlightRecord,
}

/// The signals the supervisor waits for; blocked in it, unblocked in every worker.
fn supervised_signals() -> SigSet {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT] {
        signals.add(signal);
    }
    signals
}

/// In a new worker, first thing: take back SIGCHLD, and die with the supervisor (a worker must
/// not outlive the environment's runtime process). SIGTERM and SIGINT stay blocked until the
/// worker listens for them ([`release_shutdown_signals`]): one that arrived in between would
/// otherwise end the worker without the app's atexit handlers; blocked, it waits for them.
pub fn enter_worker() {
    let mut child = SigSet::empty();
    child.add(Signal::SIGCHLD);
    if let Err(err) = child.thread_unblock() {
        tracing::error!("a worker could not unblock SIGCHLD: {err}");
    }
    if let Err(err) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        tracing::warn!("a worker could not ask to die with its supervisor: {err}");
    }
}

/// Unblocks SIGTERM and SIGINT, once their handlers are in place (a no-op where they were never
/// blocked: a single-process runtime).
pub fn release_shutdown_signals() {
    let mut shutdown = SigSet::empty();
    shutdown.add(Signal::SIGTERM);
    shutdown.add(Signal::SIGINT);
    if let Err(err) = shutdown.thread_unblock() {
        tracing::error!("cannot unblock SIGTERM and SIGINT: {err}");
    }
}

/// Starts a worker for `slot`, with a fresh record.
fn start(spawn: &mut impl Spawn, slot: usize) -> Result<(Pid, Worker), String> {
    let record = InFlightRecord::new().map_err(|err| format!("cannot create its in-flight record: {err}"))?;
    let pid = spawn.spawn(&record)?;
    Ok((
        pid,
        Worker {
            slot,
            started: Instant::now(),
            record,
        },
    ))
}

/// Runs `count` workers until SIGTERM or SIGINT.
pub fn supervise(count: usize, mut spawn: impl Spawn, mut lost: impl ReportLost) -> u8 {
    let signals = supervised_signals();
    if let Err(err) = signals.thread_block() {
        tracing::error!("cannot supervise workers: blocking signals failed: {err}");
        return FAILED;
    }
    let mut workers: HashMap<Pid, Worker> = HashMap::new();
    for slot in 0..count {
        match start(&mut spawn, slot) {
            Ok((pid, worker)) => {
                workers.insert(pid, worker);
            }
            Err(err) => {
                tracing::error!("cannot start worker {slot}: {err}");
                stop(&mut workers);
                return FAILED;
            }
        }
    }
    tracing::info!("Managed Instances: {count} workers serving, pids {:?}", pids(&workers));
    loop {
        let signal = match signals.wait() {
            Ok(signal) => signal,
            Err(err) => {
                tracing::error!("waiting for signals failed: {err}");
                stop(&mut workers);
                return FAILED;
            }
        };
        if signal != Signal::SIGCHLD {
            tracing::info!("{signal}: stopping {} workers", workers.len());
            stop(&mut workers);
            return 0;
        }
        for (worker, status) in reap(&mut workers) {
            let slot = worker.slot;
            tracing::error!("worker {slot} {status}; starting a new one, the others keep serving");
            if let Some(request_id) = worker.record.current() {
                lost.report_lost(&request_id, &format!("the worker serving this invocation {status}"));
            }
            if worker.started.elapsed() < FAST_FAILURE {
                std::thread::sleep(FAST_FAILURE);
            }
            match start(&mut spawn, slot) {
                Ok((pid, worker)) => {
                    workers.insert(pid, worker);
                }
                Err(err) => tracing::error!("cannot start a new worker {slot}: {err}; serving with fewer"),
            }
        }
        if workers.is_empty() {
            tracing::error!("no worker left");
            return FAILED;
        }
    }
}

fn pids(workers: &HashMap<Pid, Worker>) -> Vec<i32> {
    let mut pids: Vec<i32> = workers.keys().map(|pid| pid.as_raw()).collect();
    pids.sort_unstable();
    pids
}

/// Collects every worker that has ended, with how it ended.
fn reap(workers: &mut HashMap<Pid, Worker>) -> Vec<(Worker, String)> {
    let mut ended = Vec::new();
    loop {
        let (pid, how) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, format!("(pid {pid}) exited with status {code}")),
            Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, format!("(pid {pid}) was killed by {signal}")),
            Ok(WaitStatus::StillAlive) | Err(_) => return ended,
            Ok(_) => continue,
        };
        if let Some(worker) = workers.remove(&pid) {
            ended.push((worker, how));
        }
    }
}

/// SIGTERM to every worker, then SIGKILL to any still running after the grace period.
fn stop(workers: &mut HashMap<Pid, Worker>) {
    for pid in workers.keys() {
        if let Err(err) = kill(*pid, Signal::SIGTERM) {
            tracing::warn!("cannot send SIGTERM to worker (pid {pid}): {err}");
        }
    }
    let until = Instant::now() + SHUTDOWN_GRACE;
    while !workers.is_empty() && Instant::now() < until {
        reap(workers);
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in workers.keys() {
        tracing::warn!("worker (pid {pid}) did not stop in time; killing it");
        if let Err(err) = kill(*pid, Signal::SIGKILL) {
            tracing::warn!("cannot kill worker (pid {pid}): {err}");
        }
    }
    workers.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_holds_the_invocation_in_flight_and_nothing_between_invocations() {
        let record = InFlightRecord::new().expect("record");
        assert_eq!(record.current(), None);
        record.begin("8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(
            record.current().as_deref(),
            Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd")
        );
        record.begin("short");
        assert_eq!(record.current().as_deref(), Some("short"));
        record.end();
        assert_eq!(record.current(), None);
        record.begin(&"x".repeat(RECORD_SIZE + 1));
        assert_eq!(record.current(), None, "an id too long to hold is not half-reported");
    }
}
