//! Interrupts: Ctrl-C (SIGINT) and SIGTERM, handled alike (CI runners and containers stop a job
//! with SIGTERM).
//!
//! The executor handles them itself while it runs ([`graceful`]): a first interrupt stops new
//! changes and waits for those in flight, a second abandons them. Outside it, a command that
//! holds the env's lock stops at once, releases the lock and exits 130.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many executors are running now: an interrupt is theirs to handle.
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

/// Held while the executor runs: interrupts are its to handle.
pub struct Graceful(());

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Mark the executor running until the guard drops.
pub fn graceful() -> Graceful {
    GRACEFUL.fetch_add(1, Ordering::SeqCst);
    Graceful(())
}

/// Whether an executor is running (and handles interrupts itself).
pub fn in_graceful() -> bool {
    GRACEFUL.load(Ordering::SeqCst) > 0
}

/// Receives every SIGINT and SIGTERM delivered after it was made. From then on neither signal
/// ends the process by itself: whoever made one must act on what it receives.
pub struct Listener {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Listener {
    pub fn new() -> std::io::Result<Listener> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Listener {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Listener {})
        }
    }

    /// The next interrupt.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    /// The next interrupt that arrives while no executor is running (an executor handles its
    /// own).
    pub async fn next_outside_executor(&mut self) {
        loop {
            self.next().await;
            if !in_graceful() {
                return;
            }
        }
    }
}
