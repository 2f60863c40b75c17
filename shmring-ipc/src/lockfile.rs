//! Liveness of the peers of a kernel queue (`mq:` and `sysv:`), which has no notion of its
//! peers: two lock files in `/dev/shm`, `PREFIX.receiver` (the receiver holds an exclusive
//! `flock`, and the file carries its hello: payload type and largest message) and
//! `PREFIX.senders` (every sender holds a shared one). Locks vanish with their process, so a
//! killed peer is noticed at the next probe (docs/protocols.md, "mq:" and "sysv:").

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::codec::{FrameError, Hello};
use crate::stream::Expect;
use crate::{ConnectError, Endpoint};

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

    /// Removes both files (held locks keep working).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(&self.senders);
        let _ = std::fs::remove_file(&self.receiver);
    }

    /// Takes the receiver's exclusive lock and writes its hello into the file:
    /// [`ConnectError::InUse`] while a live receiver holds it.
    pub(crate) fn lock_receiver(
        &self,
        endpoint: &Endpoint,
        hello: &Hello,
    ) -> Result<Flock<File>, ConnectError> {
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
