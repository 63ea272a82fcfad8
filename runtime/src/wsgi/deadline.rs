//! The deadline guard: interrupt the app shortly before Lambda's deadline, so the client gets a
//! 504 and the environment stays warm instead of being killed (a cold start for the next user).
//!
//! A watchdog thread, armed per invocation, takes the GIL when the deadline minus the margin
//! arrives and, if that invocation is still running, sends the app's thread a signal whose
//! Python handler raises `DeadlineExceeded` (support.py). Python code and blocking calls that
//! release the GIL are interrupted; a C extension that holds the GIL past the deadline cannot
//! be, and Lambda's own timeout applies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

pub(super) struct DeadlineGuard {
    margin: Duration,
    shared: Arc<Shared>,
    generations: AtomicU64,
}

/// What the app's thread and the watchdog share.
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
    fn watch(&self) -> MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DeadlineGuard {
    /// Installs the signal handler and starts the watchdog; `None` when the margin is zero.
    pub(super) fn start(support: &Bound<'_, PyModule>, margin: Duration) -> PyResult<Option<Self>> {
        if margin.is_zero() {
            return Ok(None);
        }
        let thread_id: u64 = support.call_method0("install_deadline_handler")?.extract()?;
        let interrupt = support.getattr("interrupt")?.unbind();
        let shared = Arc::new(Shared {
            armed: AtomicU64::new(0),
            fired: AtomicU64::new(0),
            watch: Mutex::new(Watch::default()),
            wake: Condvar::new(),
        });
        let watchdog = shared.clone();
        std::thread::Builder::new()
            .name("deadline-guard".to_owned())
            .spawn(move || watchdog.run(|generation| fire(&watchdog, &interrupt, thread_id, generation)))
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
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.armed.store(generation, Ordering::SeqCst);
        let fire_at = Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
        let mut watch = self.shared.watch();
        watch.fire_at = Some((generation, fire_at));
        // Waking a thread costs a context switch per invocation. A watchdog already due to look
        // before this deadline (the previous invocation's, as deadlines only move later) will see
        // the new one then, so it is woken only when idle or due too late.
        let must_wake = watch.sleeping_until.is_none_or(|wakes| wakes > fire_at);
        drop(watch);
        if must_wake {
            self.shared.wake.notify_one();
        }
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

impl Shared {
    /// The watchdog: sleeps until the armed deadline, or until told of one when none is armed.
    fn run(&self, fire: impl Fn(u64)) {
        let mut watch = self.watch();
        loop {
            let now = Instant::now();
            match watch.fire_at {
                Some((generation, at)) if at <= now => {
                    watch.fire_at = None;
                    drop(watch);
                    // Never hold the schedule while waiting for the GIL: the app's thread
                    // arms (taking the schedule) while holding the GIL.
                    fire(generation);
                    watch = self.watch();
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

/// Interrupts the app if `generation` is still the invocation running.
fn fire(shared: &Shared, interrupt: &Py<PyAny>, thread_id: u64, generation: u64) {
    if shared.armed.load(Ordering::SeqCst) != generation {
        return;
    }
    Python::attach(|py| {
        // Checked again under the GIL: the app's thread disarms while holding it.
        if shared.armed.load(Ordering::SeqCst) == generation {
            shared.fired.store(generation, Ordering::SeqCst);
            if let Err(err) = interrupt.call1(py, (thread_id,)) {
                tracing::error!("the deadline guard could not interrupt the app: {err}");
            }
        }
    });
}
