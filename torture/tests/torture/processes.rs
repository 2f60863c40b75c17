//! Starting, watching and killing child processes, each bounded by a watchdog.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ processes

/// A child process of the test and what it plays.
pub(super) struct Proc {
    pub(super) child: Guard,
    pub(super) producer: bool,
}

/// A child process that is killed (and reaped) if the test fails and drops it while it
/// still runs: a failing test leaves no process behind.
pub(super) struct Guard(pub(super) Child);

impl std::ops::Deref for Guard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(super) fn spawn(
    role: &str,
    kind: Kind,
    name: &str,
    ledger: &Ledger,
    extra: &[(&str, String)],
) -> Guard {
    let mut cmd = common::child("child_entry", role, name);
    cmd.env(KIND_VAR, kind.tag())
        .env(LEDGER_VAR, &ledger.path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Guard(cmd.spawn().unwrap())
}

pub(super) fn kill(child: &mut Child) -> ExitStatus {
    let _ = child.kill();
    child.wait().unwrap()
}

/// Waits for `child` until `deadline`; `None` if it is still running then (it is killed).
pub(super) fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            kill(child);
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A child that ended on its own: only a clean exit is acceptable.
pub(super) fn assert_clean(status: ExitStatus, what: &str) {
    assert!(
        status.success(),
        "{what} ended badly: {status:?} (signal {:?})",
        status.signal()
    );
}
