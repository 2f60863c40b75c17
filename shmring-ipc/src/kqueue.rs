//! What the two kernel message-queue transports (`mq:`, `sysv:`) share, written once.
//!
//! A kernel queue has no notion of its peers, so liveness uses two lock files in `/dev/shm`,
//! `STEM.receiver` (the receiver holds an exclusive `flock`, and the file carries its hello:
//! payload type and largest message) and `STEM.senders` (every sender holds a shared one).
//! Locks vanish with their process, so a killed peer is noticed at the next probe. Each
//! sender's first queue message is its hello, which the receiver checks against its own
//! type ([`Senders`]). docs/protocols.md, "Message queues" and "System V message queues".

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::codec::{FrameError, Hello};
use crate::stream::Expect;
use crate::{ConnectError, Endpoint, RecvTimeoutError, Refusal};

/// The two lock files of a queue: `/dev/shm/{stem}.receiver` and `.senders`.
#[derive(Clone, Debug)]
pub(crate) struct LockFiles {
    pub(crate) receiver: PathBuf,
    pub(crate) senders: PathBuf,
}

impl LockFiles {
    pub(crate) fn new(stem: &str) -> LockFiles {
        LockFiles {
            receiver: PathBuf::from(format!("/dev/shm/{stem}.receiver")),
            senders: PathBuf::from(format!("/dev/shm/{stem}.senders")),
        }
    }

    /// Whether a shmring receiver has bound here before: it leaves its hello in the receiver
    /// file, so a queue of the name is one of ours (a dead receiver's, once nobody holds the
    /// lock) only then; anybody else's queue is left alone. Read before taking the lock.
    pub(crate) fn bound_before(&self) -> bool {
        std::fs::metadata(&self.receiver).is_ok_and(|m| m.len() > 0)
    }

    /// Removes the files of a receiver that is gone — and, through `remove_queue`, its queue
    /// when a shmring receiver bound here ([`bound_before`](Self::bound_before): another
    /// program's queue is never touched) — holding the receiver's lock meanwhile, so that no
    /// receiver binds halfway. False when a live receiver holds the lock.
    pub(crate) fn remove_abandoned(&self, remove_queue: impl FnOnce()) -> bool {
        let Ok(file) = File::open(&self.receiver) else {
            // No receiver file: nothing here is ours but a senders file.
            let _ = std::fs::remove_file(&self.senders);
            return true;
        };
        let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            return false;
        };
        if !is_at(&lock, &self.receiver) {
            // Replaced since it was opened: a new receiver's.
            return false;
        }
        if self.bound_before() {
            remove_queue();
        }
        self.remove();
        true
    }

    /// Removes both files (held locks keep working).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(&self.senders);
        let _ = std::fs::remove_file(&self.receiver);
    }

    /// Takes the receiver's exclusive lock and writes its hello into the file:
    /// [`ConnectError::InUse`] while a live receiver holds it.
    ///
    /// The file may be removed between opening and locking it (by a receiver that is leaving,
    /// or `shmring gc`): a lock on a removed file would guard nothing, so it is taken again
    /// until the locked file is the one at the path.
    pub(crate) fn lock_receiver(
        &self,
        endpoint: &Endpoint,
        hello: &Hello,
    ) -> Result<Flock<File>, ConnectError> {
        let mut tries = 0;
        let lock = loop {
            let lock = match Flock::lock(
                open_lock(endpoint, &self.receiver)?,
                FlockArg::LockExclusiveNonblock,
            ) {
                Ok(lock) => lock,
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(ConnectError::InUse {
                        endpoint: endpoint.to_string(),
                    });
                }
                Err((_, e)) => return Err(ConnectError::io(endpoint, "lock", e.into())),
            };
            if is_at(&lock, &self.receiver) {
                break lock;
            }
            tries += 1;
            if tries == 1000 {
                return Err(ConnectError::io(
                    endpoint,
                    "lock",
                    std::io::Error::other("the receiver's lock file kept being removed"),
                ));
            }
        };
        use std::io::{Seek, Write};
        let mut bytes = Vec::new();
        hello.encode(&mut bytes);
        let mut file: &File = &lock;
        file.set_len(0)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| file.write_all(&bytes))
            .map_err(|e| ConnectError::io(endpoint, "write the receiver's hello", e))?;
        Ok(lock)
    }

    /// A sender's shared lock ("a sender is here").
    pub(crate) fn lock_sender(&self, endpoint: &Endpoint) -> Result<Flock<File>, ConnectError> {
        Flock::lock(open_lock(endpoint, &self.senders)?, FlockArg::LockShared)
            .map_err(|(_, e)| ConnectError::io(endpoint, "lock", e.into()))
    }

    /// A probe of the receiver's lock.
    pub(crate) fn receiver_probe(&self, endpoint: &Endpoint) -> Result<Probe, ConnectError> {
        Ok(Probe(Some(open_lock(endpoint, &self.receiver)?)))
    }

    /// A probe of the senders' locks.
    pub(crate) fn senders_probe(&self, endpoint: &Endpoint) -> Result<Probe, ConnectError> {
        Ok(Probe(Some(open_lock(endpoint, &self.senders)?)))
    }

    /// The live receiver's hello, after checking that a typed sender's payload type is the
    /// receiver's ([`ConnectError::IncompatibleLayout`] naming both otherwise).
    pub(crate) fn receiver_hello(
        &self,
        endpoint: &Endpoint,
        expect: &Expect,
    ) -> Result<Hello, ConnectError> {
        let bytes = std::fs::read(&self.receiver)
            .map_err(|e| ConnectError::io(endpoint, "read the receiver's hello", e))?;
        let handshake = |source| ConnectError::Handshake {
            endpoint: endpoint.to_string(),
            source,
        };
        match Hello::decode(&bytes) {
            Ok(Some((peer, _)))
                if expect.fingerprint == 0 || peer.fingerprint == expect.fingerprint =>
            {
                Ok(peer)
            }
            Ok(Some((peer, _))) => Err(ConnectError::IncompatibleLayout {
                endpoint: endpoint.to_string(),
                ours: expect.describe(),
                theirs: crate::stream::describe(peer.fingerprint, &peer.description),
            }),
            Ok(None) => Err(handshake(FrameError::BadHello {
                field: "length",
                value: bytes.len() as u64,
            })),
            Err(source) => Err(handshake(source)),
        }
    }
}

/// Whether `file` is the file at `path` now (not one removed, or replaced, since it was
/// opened).
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The names (what follows `prefix` in `/dev/shm/{prefix}NAME.receiver`) of the queues whose
/// receiver is gone: its file carries a hello (a shmring receiver bound there) and nobody
/// holds its lock. Sorted.
pub(crate) fn abandoned(prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let name = file.strip_prefix(prefix)?.strip_suffix(".receiver")?;
            let files = LockFiles::new(&format!("{prefix}{name}"));
            (files.bound_before() && !held(&files.receiver, true)).then(|| name.to_owned())
        })
        .collect();
    found.sort();
    found
}

fn open_lock(endpoint: &Endpoint, path: &Path) -> Result<File, ConnectError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| ConnectError::io(endpoint, "open the liveness lock file", e))
}

/// Whether a lock file at `path` is held by a live process now (exclusively, when
/// `exclusive`: a receiver's).
pub(crate) fn held(path: &Path, exclusive: bool) -> bool {
    std::fs::File::open(path).is_ok_and(|f| Probe(Some(f)).held(exclusive))
}

/// A lock file kept open to probe whether others hold locks on it.
#[derive(Debug)]
pub(crate) struct Probe(Option<File>);

impl Probe {
    /// Whether someone holds a lock that an exclusive (or shared) lock would conflict with.
    pub(crate) fn held(&mut self, exclusive: bool) -> bool {
        let Some(file) = self.0.take() else {
            return false;
        };
        let arg = if exclusive {
            FlockArg::LockExclusiveNonblock
        } else {
            FlockArg::LockSharedNonblock
        };
        let (file, held) = match Flock::lock(file, arg) {
            Ok(lock) => match lock.unlock() {
                Ok(file) => (file, false),
                Err((lock, _)) => {
                    // Cannot happen (unlocking our own lock); keep the probe usable anyway.
                    drop(lock);
                    return false;
                }
            },
            Err((file, errno)) => (file, errno == Errno::EWOULDBLOCK),
        };
        self.0 = Some(file);
        held
    }
}

/// A receiver's view of its senders: whether one ever said hello (before that nothing is
/// disconnected), each hello checked against the receiver's type, and the protocol error
/// that ended the stream.
#[derive(Debug)]
pub(crate) struct Senders {
    expect: Expect,
    ever: bool,
    probe: Probe,
    pub(crate) error: Option<FrameError>,
}

impl Senders {
    pub(crate) fn new(expect: Expect, probe: Probe) -> Senders {
        Senders {
            expect,
            ever: false,
            probe,
            error: None,
        }
    }

    /// A sender's hello (the text of a hello queue message): `None` when it is of this
    /// receiver's type, else the protocol error to return.
    pub(crate) fn hello(&mut self, text: &[u8]) -> Option<RecvTimeoutError> {
        match Hello::decode(text) {
            Ok(Some((hello, _))) if hello.fingerprint == self.expect.fingerprint => {
                self.ever = true;
                None
            }
            Ok(Some((hello, _))) => Some(self.protocol(FrameError::Layout {
                expected: self.expect.describe(),
                found: crate::stream::describe(hello.fingerprint, &hello.description),
            })),
            Ok(None) => Some(self.protocol(FrameError::BadHello {
                field: "length",
                value: text.len() as u64,
            })),
            Err(e) => Some(self.protocol(e)),
        }
    }

    /// Ends the stream with protocol error `e`: the receive returns `Corrupted`.
    pub(crate) fn protocol(&mut self, e: FrameError) -> RecvTimeoutError {
        self.ever = true;
        self.error = Some(e);
        RecvTimeoutError::Corrupted
    }

    /// Whether every sender that said hello is gone (none holds the senders' lock).
    pub(crate) fn gone(&mut self) -> bool {
        self.ever && !self.probe.held(true)
    }
}

/// A sender's view of its receiver: gone once its lock is free, or once the queue failed.
#[derive(Debug)]
pub(crate) struct Receiver {
    probe: Probe,
    broken: bool,
}

impl Receiver {
    pub(crate) fn new(probe: Probe) -> Receiver {
        Receiver {
            probe,
            broken: false,
        }
    }

    /// The queue failed (removed, or an error the sender cannot go on after).
    pub(crate) fn broke(&mut self) -> Refusal {
        self.broken = true;
        Refusal::Disconnected
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the receiver is gone (probing its lock).
    pub(crate) fn is_disconnected(&mut self) -> bool {
        if !self.broken && !self.probe.held(false) {
            self.broken = true;
        }
        self.broken
    }
}

/// The checks of a sender's `connect`: a receiver holds its lock (else `NoReceiver`), and a
/// typed sender's payload type is the receiver's (read from the lock file). The receiver's
/// hello, and a probe of it for later.
pub(crate) fn meet_receiver(
    endpoint: &Endpoint,
    files: &LockFiles,
    expect: &Expect,
) -> Result<(Hello, Receiver), ConnectError> {
    let mut probe = files.receiver_probe(endpoint)?;
    if !probe.held(false) {
        return Err(ConnectError::NoReceiver {
            endpoint: endpoint.to_string(),
            reason: "the queue exists but its receiver is gone".into(),
        });
    }
    let hello = files.receiver_hello(endpoint, expect)?;
    Ok((hello, Receiver::new(probe)))
}

/// A sender's hello as its first queue message carries it (maximum 0: a sender accepts
/// nothing), refused with `Limit` when over `max`, the largest text the queue carries.
pub(crate) fn sender_hello(
    endpoint: &Endpoint,
    expect: &Expect,
    max: usize,
) -> Result<Vec<u8>, ConnectError> {
    let mut hello = Vec::new();
    Hello {
        flags: 0,
        max_frame: 0,
        fingerprint: expect.fingerprint,
        description: expect.description.clone(),
    }
    .encode(&mut hello);
    if hello.len() > max {
        return Err(ConnectError::Limit {
            endpoint: endpoint.to_string(),
            reason: format!(
                "queue messages of at most {max} bytes cannot carry the {}-byte hello",
                hello.len()
            ),
        });
    }
    Ok(hello)
}

/// `TooLarge` for a message over `max`.
pub(crate) fn check_len(len: usize, max: usize) -> Result<(), Refusal> {
    if len > max {
        Err(Refusal::TooLarge { len, max })
    } else {
        Ok(())
    }
}
