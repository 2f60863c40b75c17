//! A socket subscriber (`uds:`, `tcp:`): the publisher's hello checked, then frames and lag
//! records read from one connection.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::PollFlags;

use super::{Policy, RecvTimeoutError};
use crate::codec::{
    FLAG_OVERWRITE, FLAG_PUBLISHER, FLAG_SUBSCRIBER, Hello, Published, decode_published,
};
use crate::stream::{Conn, wait_fd};
use crate::{ConnectError, Endpoint, Options, transport};

/// Bytes read from the connection at a time.
const CHUNK: usize = 16 * 1024;

/// The subscribing end of a socket.
#[derive(Debug)]
pub(super) struct StreamSubscriber {
    conn: Box<dyn Conn>,
    /// Bytes read and not yet taken, from `start`.
    buf: Vec<u8>,
    start: usize,
    max: u32,
    policy: Policy,
    /// The publisher closed the connection (or it broke).
    eof: bool,
    /// The publisher broke the protocol: every receive is `Corrupted`.
    broken: bool,
}

impl StreamSubscriber {
    /// Connects, sends this side's hello and waits for the publisher's.
    pub(super) fn connect(
        endpoint: &Endpoint,
        options: &Options,
    ) -> Result<StreamSubscriber, ConnectError> {
        let max = options.stream_max();
        let hello = Hello {
            flags: FLAG_SUBSCRIBER,
            max_frame: max,
            fingerprint: 0,
            description: String::new(),
        };
        let conn = match endpoint {
            Endpoint::Uds(path) => transport::uds_connect(endpoint, path, options, &hello)?,
            Endpoint::Tcp(addr) => transport::tcp_connect(endpoint, addr, options, &hello)?,
            _ => unreachable!("only sockets"),
        };
        let mut s = StreamSubscriber {
            conn,
            buf: Vec::new(),
            start: 0,
            max,
            policy: Policy::Lossless,
            eof: false,
            broken: false,
        };
        let publisher = s.await_hello(endpoint, options)?;
        if publisher.max_frame > max {
            return Err(ConnectError::PeerRefused {
                endpoint: endpoint.to_string(),
                reason: format!(
                    "the publisher sends messages of up to {} bytes; this subscriber accepts {max} (Options::max_message)",
                    publisher.max_frame
                ),
            });
        }
        if publisher.flags & FLAG_OVERWRITE != 0 {
            s.policy = Policy::Overwrite;
        }
        Ok(s)
    }

    /// Reads the publisher's hello (what follows it stays in the buffer).
    fn await_hello(
        &mut self,
        endpoint: &Endpoint,
        options: &Options,
    ) -> Result<Hello, ConnectError> {
        let deadline = Instant::now() + options.handshake_timeout;
        let refused = |reason: &str| ConnectError::PeerRefused {
            endpoint: endpoint.to_string(),
            reason: reason.to_owned(),
        };
        loop {
            match Hello::decode_pubsub(&self.buf) {
                Ok(Some((hello, used))) if hello.flags & FLAG_PUBLISHER != 0 => {
                    self.start = used;
                    return Ok(hello);
                }
                Ok(Some(_)) => return Err(refused("another subscriber answered, not a publisher")),
                Ok(None) => {}
                Err(source) => {
                    return Err(if matches!(Hello::decode(&self.buf), Ok(Some(_))) {
                        refused(
                            "it is a receiver (Receiver::bind), not a publisher (Publisher::bind)",
                        )
                    } else {
                        ConnectError::Handshake {
                            endpoint: endpoint.to_string(),
                            source,
                        }
                    });
                }
            }
            match self.read_more(Some(deadline)) {
                Ok(true) => {}
                Ok(false) if self.eof => {
                    return Err(refused(
                        "the publisher closed the connection (it refused this subscriber)",
                    ));
                }
                Ok(false) => {
                    return Err(ConnectError::HandshakeTimeout {
                        endpoint: endpoint.to_string(),
                        seconds: options.handshake_timeout.as_secs().max(1),
                    });
                }
                Err(e) => return Err(ConnectError::io(endpoint, "read the publisher's hello", e)),
            }
        }
    }

    pub(super) fn policy(&self) -> Policy {
        self.policy
    }

    /// The next message into `out`, waiting until `deadline` (`None`: as long as it takes;
    /// a deadline already passed: only what has arrived).
    pub(super) fn recv_into(
        &mut self,
        out: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        loop {
            if self.broken {
                return Err(RecvTimeoutError::Corrupted);
            }
            match decode_published(&self.buf[self.start..], self.max) {
                Ok(Some(Published::Message(payload, used))) => {
                    out.clear();
                    out.extend_from_slice(
                        &self.buf[self.start + payload.start..self.start + payload.end],
                    );
                    self.start += used;
                    return Ok(());
                }
                Ok(Some(Published::Lagged(missed, used))) => {
                    self.start += used;
                    return Err(RecvTimeoutError::Lagged(missed));
                }
                Ok(None) => {}
                Err(_) => {
                    self.broken = true;
                    return Err(RecvTimeoutError::Corrupted);
                }
            }
            if self.eof {
                // A frame cut short by the publisher's end is lost with it.
                return Err(RecvTimeoutError::Disconnected);
            }
            match self.read_more(deadline) {
                Ok(true) => {}
                Ok(false) if self.eof => {}
                Ok(false) => return Err(RecvTimeoutError::Timeout),
                Err(_) => self.eof = true,
            }
        }
    }

    /// Reads what has arrived, waiting for some until `deadline`: `Ok(true)` when bytes came,
    /// `Ok(false)` at the deadline or the end of the stream (`eof` set).
    fn read_more(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; CHUNK];
        loop {
            match self.conn.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(false);
                    }
                    if !wait_fd(&[self.conn.as_fd()], PollFlags::POLLIN, deadline)? {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.eof = true;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
