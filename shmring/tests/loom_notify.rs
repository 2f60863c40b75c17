//! loom model of the readiness hand-off in `shmring/src/notify.rs` (the eventfd bridge of a
//! ring handle): the waiter registers in the shared waiting flag and re-checks, a helper
//! thread sleeps on the futex for it and signals the "eventfd", and the peer notifies only
//! when the flag is set. The model mirrors the code step by step (command states `Idle`,
//! `Registered`, `Armed(key)`, `Stop`; the futex as "sleep only while the word still holds
//! the key"), with loom's atomics, mutexes and condition variables; a lost wake-up shows as
//! a deadlock. Run with `RUSTFLAGS="--cfg shmring_loom" cargo test --release -p shmring
//! --test loom_notify` (`ci/loom.sh`).
#![cfg(shmring_loom)]

use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Command {
    Idle,
    Registered,
    Armed(u32),
    Stop,
}

/// One direction of a ring, its futex, and a handle's bridge.
struct Model {
    /// Messages published (the ring's tail).
    tail: AtomicU64,
    /// The eventcount's sequence word and the waiting flag (shared memory in the code).
    seq: AtomicU32,
    flag: AtomicU32,
    /// The futex: sleepers wait while `seq` still holds their key.
    futex: Mutex<()>,
    futex_cv: Condvar,
    /// The bridge's command and the eventfd's counter.
    command: Mutex<Command>,
    changed: Condvar,
    eventfd: Mutex<u32>,
    readable: Condvar,
    /// The mpmc form (`WaitWord::Counted`): `flag` is the record's bit, shared with blocking
    /// waiters of the same record in this process; `local` counts them and the bridge, and
    /// `entered` says whether the bridge is counted.
    counted: bool,
    local: Mutex<u32>,
    entered: AtomicBool,
}

/// Runs `f` on a new loom thread with its own handle of the model.
fn on_thread(m: &Arc<Model>, f: impl FnOnce(&Model) + Send + 'static) -> thread::JoinHandle<()> {
    let m = m.clone();
    thread::spawn(move || f(&m))
}

impl Model {
    fn new() -> Arc<Model> {
        Model::with(false)
    }

    fn with(counted: bool) -> Arc<Model> {
        Arc::new(Model {
            tail: AtomicU64::new(0),
            seq: AtomicU32::new(0),
            flag: AtomicU32::new(0),
            futex: Mutex::new(()),
            futex_cv: Condvar::new(),
            command: Mutex::new(Command::Idle),
            changed: Condvar::new(),
            eventfd: Mutex::new(0),
            readable: Condvar::new(),
            counted,
            local: Mutex::new(0),
            entered: AtomicBool::new(false),
        })
    }

    fn futex_wait(&self, key: u32) {
        let guard = self.futex.lock().unwrap();
        if self.seq.load(Ordering::SeqCst) != key {
            return;
        }
        drop(self.futex_cv.wait(guard).unwrap());
    }

    fn futex_wake(&self) {
        let _guard = self.futex.lock().unwrap();
        self.futex_cv.notify_all();
    }

    /// The peer's send: publish, fence, and wake only if someone is registered.
    fn publish(&self) {
        self.tail.fetch_add(1, Ordering::Release);
        fence(Ordering::SeqCst);
        if self.flag.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            self.futex_wake();
        }
    }

    /// `Bridge::register`.
    fn register(&self) -> u32 {
        let key = self.seq.load(Ordering::Acquire);
        {
            let mut command = self.command.lock().unwrap();
            if *command != Command::Stop {
                *command = Command::Registered;
            }
            self.enter();
        }
        fence(Ordering::SeqCst);
        key
    }

    /// `Shared::enter`: announce the bridge (idempotent; counted among the record's waiters in
    /// the mpmc form).
    fn enter(&self) {
        if !self.counted {
            self.flag.store(1, Ordering::Relaxed);
        } else if !self.entered.swap(true, Ordering::Relaxed) {
            self.count_in();
        }
    }

    /// `Shared::leave` (idempotent).
    fn leave(&self) {
        if !self.counted {
            self.flag.store(0, Ordering::Relaxed);
        } else if self.entered.swap(false, Ordering::Relaxed) {
            self.count_out();
        }
    }

    /// One more waiter of the record in this process: the first sets the bit
    /// (`wait::Waiting::Mask::enter`).
    fn count_in(&self) {
        let mut n = self.local.lock().unwrap();
        if *n == 0 {
            self.flag.store(1, Ordering::Relaxed);
        }
        *n += 1;
    }

    /// One waiter less: the last clears the bit.
    fn count_out(&self) {
        let mut n = self.local.lock().unwrap();
        *n -= 1;
        if *n == 0 {
            self.flag.store(0, Ordering::Relaxed);
        }
    }

    /// A blocking receive of another thread on the same record (`wait::Waiter::park`): key,
    /// count in, fence, re-check, sleep while the key holds, count out.
    fn blocking_receive(&self, want: u64) {
        while self.tail.load(Ordering::Acquire) < want {
            let key = self.seq.load(Ordering::Acquire);
            self.count_in();
            fence(Ordering::SeqCst);
            if self.tail.load(Ordering::Acquire) < want {
                self.futex_wait(key);
            }
            self.count_out();
        }
    }

    /// `Bridge::cancel`.
    fn cancel(&self) {
        let mut command = self.command.lock().unwrap();
        if *command == Command::Registered {
            *command = Command::Idle;
        }
        self.leave();
    }

    /// `Bridge::arm`.
    fn arm(&self, key: u32) {
        let mut command = self.command.lock().unwrap();
        if *command != Command::Stop {
            *command = Command::Armed(key);
        }
        self.changed.notify_one();
    }

    /// `Bridge::disarm` (a dropped future).
    fn disarm(&self) {
        let armed = {
            let mut command = self.command.lock().unwrap();
            let armed = matches!(*command, Command::Armed(_));
            if matches!(*command, Command::Armed(_) | Command::Registered) {
                *command = Command::Idle;
            }
            self.leave();
            armed
        };
        if armed {
            self.kick();
        }
    }

    fn kick(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        self.futex_wake();
    }

    fn stop(&self) {
        *self.command.lock().unwrap() = Command::Stop;
        self.changed.notify_one();
        self.kick();
    }

    /// The helper thread (`notify::run`).
    fn run(&self) {
        loop {
            let key = {
                let mut command = self.command.lock().unwrap();
                loop {
                    match *command {
                        Command::Idle | Command::Registered => {
                            command = self.changed.wait(command).unwrap();
                        }
                        Command::Armed(key) => break key,
                        Command::Stop => return,
                    }
                }
            };
            self.futex_wait(key);
            let mut command = self.command.lock().unwrap();
            match *command {
                Command::Stop => return,
                Command::Armed(k) if k == key => {
                    self.leave();
                    *command = Command::Idle;
                    drop(command);
                    *self.eventfd.lock().unwrap() += 1;
                    self.readable.notify_all();
                }
                Command::Armed(_) | Command::Registered => {}
                Command::Idle => self.leave(),
            }
        }
    }

    /// Awaiting the eventfd, then reading it back.
    fn await_eventfd(&self) {
        let mut count = self.eventfd.lock().unwrap();
        while *count == 0 {
            count = self.readable.wait(count).unwrap();
        }
        *count = 0;
    }

    /// The async receive: try, register, re-check, arm, await — until `want` messages.
    fn receive(&self, want: u64) {
        loop {
            if self.tail.load(Ordering::Acquire) >= want {
                return;
            }
            let key = self.register();
            if self.tail.load(Ordering::Acquire) >= want {
                self.cancel();
                return;
            }
            self.arm(key);
            self.await_eventfd();
        }
    }
}

/// One message from the peer while the handle registers and waits: it is always noticed.
#[test]
fn a_message_wakes_the_waiter() {
    loom::model(|| {
        let m = Model::new();
        let bridge = on_thread(&m, |m| m.run());
        let peer = on_thread(&m, |m| m.publish());
        m.receive(1);
        peer.join().unwrap();
        m.stop();
        bridge.join().unwrap();
    });
}

/// A wait abandoned (the future dropped: disarm) and started again while the peer
/// publishes: the second wait still sees the message, and once the handle stops waiting the
/// flag is clear, so the peer pays no more wake-ups.
#[test]
fn a_dropped_wait_then_a_new_one() {
    loom::model(|| {
        let m = Model::new();
        let bridge = on_thread(&m, |m| m.run());
        // First wait, abandoned right after arming.
        let key = m.register();
        if m.tail.load(Ordering::Acquire) == 0 {
            m.arm(key);
            m.disarm();
        } else {
            m.cancel();
        }
        let peer = on_thread(&m, |m| m.publish());
        m.receive(1);
        peer.join().unwrap();
        m.stop();
        bridge.join().unwrap();
        assert_eq!(
            m.flag.load(Ordering::Relaxed),
            0,
            "a waiter stayed registered"
        );
    });
}

/// The mpmc form: the bridge of one handle and a blocking receive of another thread share
/// their record's waiting bit through the process-local count. One message wakes both, and
/// once neither waits the bit is clear (the peer pays no more wake-ups).
#[test]
fn a_counted_bit_shared_with_a_blocking_waiter() {
    loom::model(|| {
        let m = Model::with(true);
        let bridge = on_thread(&m, |m| m.run());
        let blocking = on_thread(&m, |m| m.blocking_receive(1));
        let peer = on_thread(&m, |m| m.publish());
        m.receive(1);
        peer.join().unwrap();
        blocking.join().unwrap();
        m.stop();
        bridge.join().unwrap();
        assert_eq!(
            m.flag.load(Ordering::Relaxed),
            0,
            "the record's bit stayed set"
        );
        assert_eq!(*m.local.lock().unwrap(), 0);
    });
}
