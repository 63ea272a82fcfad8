//! The deadline guard: interrupt the app shortly before Lambda's deadline, so the client gets a
//! 504 and the environment stays warm instead of being killed (a cold start for the next user).
//!
//! A watchdog thread, armed per invocation, takes the GIL when the deadline minus the margin
//! arrives and, if that invocation is still running, sends the app's thread a signal whose
//! Python handler raises `DeadlineExceeded` (support.py). Python code and blocking calls that
//! release the GIL are interrupted; a C extension that holds the GIL past the deadline cannot
//! be, and Lambda's own timeout applies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

pub(super) struct DeadlineGuard {
    margin: Duration,
    /// The generation of the invocation being guarded; 0 when none is.
    armed: Arc<AtomicU64>,
    /// The generation last interrupted.
    fired: Arc<AtomicU64>,
    generations: AtomicU64,
    watchdog: mpsc::Sender<(u64, Instant)>,
}

impl DeadlineGuard {
    /// Installs the signal handler and starts the watchdog; `None` when the margin is zero.
    pub(super) fn start(support: &Bound<'_, PyModule>, margin: Duration) -> PyResult<Option<Self>> {
        if margin.is_zero() {
            return Ok(None);
        }
        let thread_id: u64 = support.call_method0("install_deadline_handler")?.extract()?;
        let interrupt = support.getattr("interrupt")?.unbind();
        let armed = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicU64::new(0));
        let (watchdog, requests) = mpsc::channel::<(u64, Instant)>();
        let (thread_armed, thread_fired) = (armed.clone(), fired.clone());
        std::thread::Builder::new()
            .name("deadline-guard".to_owned())
            .spawn(move || {
                let fire = |generation: u64| {
                    if thread_armed.load(Ordering::SeqCst) != generation {
                        return;
                    }
                    Python::attach(|py| {
                        // Checked again under the GIL: the app's thread disarms while holding it.
                        if thread_armed.load(Ordering::SeqCst) == generation {
                            thread_fired.store(generation, Ordering::SeqCst);
                            if let Err(err) = interrupt.call1(py, (thread_id,)) {
                                tracing::error!("the deadline guard could not interrupt the app: {err}");
                            }
                        }
                    });
                };
                while let Ok(mut current) = requests.recv() {
                    loop {
                        let now = Instant::now();
                        if now >= current.1 {
                            fire(current.0);
                            break;
                        }
                        match requests.recv_timeout(current.1 - now) {
                            Ok(newer) => current = newer,
                            Err(RecvTimeoutError::Timeout) => {
                                fire(current.0);
                                break;
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            })
            .map_err(|err| {
                pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the deadline guard: {err}"))
            })?;
        Ok(Some(DeadlineGuard {
            margin,
            armed,
            fired,
            generations: AtomicU64::new(0),
            watchdog,
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
        self.armed.store(generation, Ordering::SeqCst);
        let fire_at = Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
        if self.watchdog.send((generation, fire_at)).is_err() {
            tracing::error!("the deadline guard has stopped; this invocation is not guarded");
        }
        generation
    }

    /// Ends the guard; true when the invocation was interrupted.
    pub(super) fn disarm(&self, generation: u64) -> bool {
        self.armed.store(0, Ordering::SeqCst);
        generation != 0 && self.fired.load(Ordering::SeqCst) == generation
    }

    /// The margin, for messages.
    pub(super) fn margin(&self) -> Duration {
        self.margin
    }
}
