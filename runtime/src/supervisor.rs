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
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How long workers get to run their atexit handlers before they are killed (Lambda allows the
/// runtime about 2 s after SIGTERM, less with extensions).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// A worker that dies this soon after it started is not replaced at once: a crash at start
/// would otherwise spin.
const FAST_FAILURE: Duration = Duration::from_secs(1);

/// Starts a worker in slot `slot` (0-based); returns its pid in the parent. In the worker itself
/// it never returns (the worker serves, then exits).
pub trait Spawn {
    /// Forks and starts one worker.
    fn spawn(&mut self, slot: usize) -> Result<Pid, String>;
}

impl<F: FnMut(usize) -> Result<Pid, String>> Spawn for F {
    fn spawn(&mut self, slot: usize) -> Result<Pid, String> {
        self(slot)
    }
}

/// The signals the supervisor waits for; blocked in it, unblocked in every worker.
fn supervised_signals() -> SigSet {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT] {
        signals.add(signal);
    }
    signals
}

/// In a new worker, first thing: take back the signals the supervisor blocked, and die with it
/// (a worker must not outlive the environment's runtime process).
pub fn enter_worker() {
    if let Err(err) = supervised_signals().thread_unblock() {
        tracing::error!("a worker could not unblock its signals: {err}");
    }
    if let Err(err) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        tracing::warn!("a worker could not ask to die with its supervisor: {err}");
    }
}

/// Runs `count` workers until SIGTERM or SIGINT.
pub fn supervise(count: usize, mut spawn: impl Spawn) -> ExitCode {
    let signals = supervised_signals();
    if let Err(err) = signals.thread_block() {
        tracing::error!("cannot supervise workers: blocking signals failed: {err}");
        return ExitCode::FAILURE;
    }
    let mut workers: HashMap<Pid, (usize, Instant)> = HashMap::new();
    for slot in 0..count {
        match spawn.spawn(slot) {
            Ok(pid) => {
                workers.insert(pid, (slot, Instant::now()));
            }
            Err(err) => {
                tracing::error!("cannot start worker {slot}: {err}");
                stop(&mut workers);
                return ExitCode::FAILURE;
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
                return ExitCode::FAILURE;
            }
        };
        if signal != Signal::SIGCHLD {
            tracing::info!("{signal}: stopping {} workers", workers.len());
            stop(&mut workers);
            return ExitCode::SUCCESS;
        }
        for (slot, started, status) in reap(&mut workers) {
            tracing::error!("worker {slot} {status}; starting a new one, the others keep serving");
            if started.elapsed() < FAST_FAILURE {
                std::thread::sleep(FAST_FAILURE);
            }
            match spawn.spawn(slot) {
                Ok(pid) => {
                    workers.insert(pid, (slot, Instant::now()));
                }
                Err(err) => tracing::error!("cannot start a new worker {slot}: {err}; serving with fewer"),
            }
        }
        if workers.is_empty() {
            tracing::error!("no worker left");
            return ExitCode::FAILURE;
        }
    }
}

fn pids(workers: &HashMap<Pid, (usize, Instant)>) -> Vec<i32> {
    let mut pids: Vec<i32> = workers.keys().map(|pid| pid.as_raw()).collect();
    pids.sort_unstable();
    pids
}

/// Collects every worker that has ended: (slot, when it started, how it ended).
fn reap(workers: &mut HashMap<Pid, (usize, Instant)>) -> Vec<(usize, Instant, String)> {
    let mut ended = Vec::new();
    loop {
        let (pid, how) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, format!("(pid {pid}) exited with status {code}")),
            Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, format!("(pid {pid}) was killed by {signal}")),
            Ok(WaitStatus::StillAlive) | Err(_) => return ended,
            Ok(_) => continue,
        };
        if let Some((slot, started)) = workers.remove(&pid) {
            ended.push((slot, started, how));
        }
    }
}

/// SIGTERM to every worker, then SIGKILL to any still running after the grace period.
fn stop(workers: &mut HashMap<Pid, (usize, Instant)>) {
    for pid in workers.keys() {
        kill(*pid, Signal::SIGTERM).ok();
    }
    let until = Instant::now() + SHUTDOWN_GRACE;
    while !workers.is_empty() && Instant::now() < until {
        reap(workers);
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in workers.keys() {
        tracing::warn!("worker (pid {pid}) did not stop in time; killing it");
        kill(*pid, Signal::SIGKILL).ok();
    }
    workers.clear();
}
