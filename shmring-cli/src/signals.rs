//! SIGINT, SIGTERM and SIGHUP as a flag: `recv` and `top` stop cleanly at their next look
//! (writing out what they took, restoring the terminal) instead of dying mid-way.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The signal that asked the command to stop (0: none yet).
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn stop_on(signal: nix::libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(signal, Ordering::Relaxed);
}

/// The signals that stop the command cleanly.
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Installs `handler` for every stop signal. No `SA_RESTART`: a blocked write returns
/// `EINTR` and is retried by its caller, so nothing is cut short.
fn install(handler: SigHandler) {
    let action = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only stores to an atomic (async-signal-safe); the default
        // disposition is always sound.
        let _ = unsafe { sigaction(signal, &action) };
    }
}

/// From now on a stop signal sets the flag [`caught`] reads instead of ending the process.
pub fn catch() {
    install(SigHandler::Handler(stop_on));
}

/// The stop signal caught so far (0: none).
pub fn caught() -> i32 {
    STOP.load(Ordering::Relaxed)
}

/// Back to the default: the next stop signal ends the process at once.
pub fn release() {
    install(SigHandler::SigDfl);
}
