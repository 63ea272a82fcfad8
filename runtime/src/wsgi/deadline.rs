//! The deadline guard: interrupt the app shortly before Lambda's deadline, so the client gets a
//! 504 and the environment stays warm instead of being killed (a cold start for the next user).
//!
//! A watchdog thread, armed per invocation, sends the app's thread a signal when the deadline
//! minus the margin arrives, if that invocation is still running. It never takes the GIL: an
//! app that holds it (a C extension, a busy loop in a thread) cannot delay the signal. The
//! Python-level handler raises `DeadlineExceeded` only if the invocation that was signalled is
//! the one still armed (a generation number), so a signal that lands late is ignored instead of
//! failing the next request. Python code and blocking calls that release the GIL are
//! interrupted; a C extension that holds the GIL past the deadline cannot be, and Lambda's own
//! timeout applies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::pthread::{Pthread, pthread_kill, pthread_self};
use nix::sys::signal::Signal;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;

/// The signal sent to the app's thread (rarely used by apps; SIGALRM and SIGUSR1 are).
const DEADLINE_SIGNAL: Signal = Signal::SIGUSR2;

pub(super) struct DeadlineGuard {
    margin: Duration,
    shared: Arc<Shared>,
    generations: AtomicU64,
}

/// What the app's thread, the signal handler and the watchdog share.
struct Shared {
    /// The generation of the invocation being guarded; 0 when none is.
    armed: AtomicU64,
    /// The generation last interrupted.
    fired: AtomicU64,
    watch: Mutex<Watch>,
    wake: Condvar,
}

/// The watchdog's schedule, under `Shared::watch`.
#[derive(Default)]
struct Watch {
    /// When the armed invocation is to be interrupted.
    fire_at: Option<(u64, Instant)>,
    /// When the watchdog will next look at `fire_at` by itself; None while it waits to be told.
    sleeping_until: Option<Instant>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            armed: AtomicU64::new(0),
            fired: AtomicU64::new(0),
            watch: Mutex::new(Watch::default()),
            wake: Condvar::new(),
        }
    }

    fn watch(&self) -> MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True in the signal handler when the invocation that was signalled is still running.
    fn interrupts_current(&self) -> bool {
        let armed = self.armed.load(Ordering::SeqCst);
        armed != 0 && self.fired.load(Ordering::SeqCst) == armed
    }
}

impl DeadlineGuard {
    /// Installs the signal handler and starts the watchdog on the calling thread's behalf (the
    /// thread that runs the app: the main thread, in every worker); `None` when the margin is
    /// zero.
    pub(super) fn start(support: &Bound<'_, PyModule>, margin: Duration) -> PyResult<Option<Self>> {
        if margin.is_zero() {
            return Ok(None);
        }
        let py = support.py();
        let shared = Arc::new(Shared::new());
        let exception = support.getattr("DeadlineExceeded")?.unbind();
        let handler = PyCFunction::new_closure(py, Some(c"on_deadline"), None, {
            let shared = shared.clone();
            move |args, _kwargs| -> PyResult<()> {
                if shared.interrupts_current() {
                    let error = exception
                        .bind(args.py())
                        .call1(("the Lambda invocation deadline is near",))?;
                    return Err(PyErr::from_value(error));
                }
                Ok(())
            }
        })?;
        support.call_method1("install_deadline_handler", (handler, DEADLINE_SIGNAL as i32))?;
        let app_thread = pthread_self();
        let watchdog = shared.clone();
        std::thread::Builder::new()
            .name("deadline-guard".to_owned())
            .spawn(move || watchdog.run(|| signal(app_thread)))
            .map_err(|err| {
                pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the deadline guard: {err}"))
            })?;
        Ok(Some(DeadlineGuard {
            margin,
            shared,
            generations: AtomicU64::new(0),
        }))
    }

    /// Guards the invocation that must answer by `deadline_ms` (epoch ms); 0 when there is no
    /// time left to guard (the margin is larger than what remains).
    pub(super) fn arm(&self, deadline_ms: u64) -> u64 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let margin_ms = self.margin.as_millis();
        let Some(left) = u128::from(deadline_ms)
            .checked_sub(now_ms + margin_ms)
            .filter(|left| *left > 0)
        else {
            return 0;
        };
        let fire_at = Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.arm(generation, fire_at);
        generation
    }

    /// Ends the guard; true when the invocation was interrupted. The watchdog is not told: when
    /// it wakes, the generation it would interrupt is no longer armed.
    pub(super) fn disarm(&self, generation: u64) -> bool {
        self.shared.armed.store(0, Ordering::SeqCst);
        generation != 0 && self.shared.fired.load(Ordering::SeqCst) == generation
    }

    /// The margin, for messages.
    pub(super) fn margin(&self) -> Duration {
        self.margin
    }
}

/// Sends the deadline signal to the app's thread; needs no GIL.
fn signal(thread: Pthread) {
    if let Err(err) = pthread_kill(thread, DEADLINE_SIGNAL) {
        tracing::error!("the deadline guard could not interrupt the app: {err}");
    }
}

impl Shared {
    /// Schedules `generation` to be interrupted at `fire_at`.
    fn arm(&self, generation: u64, fire_at: Instant) {
        self.armed.store(generation, Ordering::SeqCst);
        let mut watch = self.watch();
        watch.fire_at = Some((generation, fire_at));
        // Waking a thread costs a context switch per invocation. A watchdog already due to look
        // before this deadline (the previous invocation's, as deadlines only move later) will see
        // the new one then, so it is woken only when idle or due too late.
        let must_wake = watch.sleeping_until.is_none_or(|wakes| wakes > fire_at);
        drop(watch);
        if must_wake {
            self.wake.notify_one();
        }
    }

    /// The watchdog: sleeps until the armed deadline, or until told of one when none is armed;
    /// then, if that generation is still armed, records it as fired and calls `signal`.
    fn run(&self, signal: impl Fn()) {
        let mut watch = self.watch();
        loop {
            let now = Instant::now();
            match watch.fire_at {
                Some((generation, at)) if at <= now => {
                    watch.fire_at = None;
                    if self.armed.load(Ordering::SeqCst) == generation {
                        // Recorded before the signal, so the handler sees it; a disarm in between
                        // leaves `armed` at 0 and the handler raises nothing.
                        self.fired.store(generation, Ordering::SeqCst);
                        signal();
                    }
                }
                Some((_, at)) => {
                    watch.sleeping_until = Some(at);
                    watch = self
                        .wake
                        .wait_timeout(watch, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    watch.sleeping_until = None;
                    watch = self.wake.wait(watch).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A watchdog whose signal reports which generation was armed when it fired.
    fn watchdog() -> (Arc<Shared>, mpsc::Receiver<u64>) {
        let shared = Arc::new(Shared::new());
        let (sender, signals) = mpsc::channel();
        let watched = shared.clone();
        std::thread::spawn(move || {
            let fired = watched.clone();
            watched.run(move || {
                sender.send(fired.fired.load(Ordering::SeqCst)).ok();
            });
        });
        (shared, signals)
    }

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn an_armed_invocation_past_its_time_is_signalled_once_with_its_generation() {
        let (shared, signals) = watchdog();
        shared.arm(1, Instant::now());
        assert_eq!(signals.recv_timeout(LONG), Ok(1));
        assert!(shared.interrupts_current(), "the handler must raise for generation 1");
        assert!(
            signals.recv_timeout(Duration::from_millis(100)).is_err(),
            "signalled twice"
        );
    }

    #[test]
    fn a_disarmed_invocation_is_never_signalled_and_a_late_signal_raises_nothing() {
        let (shared, signals) = watchdog();
        shared.arm(1, Instant::now() + LONG);
        shared.armed.store(0, Ordering::SeqCst);
        // The next invocation: due at once. Only it may be signalled.
        shared.arm(2, Instant::now());
        assert_eq!(signals.recv_timeout(LONG), Ok(2));
        // Its signal arrives after it was disarmed and the next one armed: ignored.
        shared.armed.store(3, Ordering::SeqCst);
        assert!(!shared.interrupts_current());
        shared.armed.store(0, Ordering::SeqCst);
        assert!(!shared.interrupts_current());
    }

    #[test]
    fn an_invocation_disarmed_before_its_time_costs_no_signal() {
        let (shared, signals) = watchdog();
        shared.arm(7, Instant::now() + Duration::from_secs(1));
        shared.armed.store(0, Ordering::SeqCst);
        assert!(signals.recv_timeout(Duration::from_millis(1500)).is_err());
        assert_eq!(shared.fired.load(Ordering::SeqCst), 0);
    }
}
