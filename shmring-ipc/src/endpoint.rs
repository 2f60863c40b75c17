//! Endpoint strings: which transport, and where.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::ConnectError;

/// A parsed endpoint string.
///
/// | string | transport |
/// |---|---|
/// | `shm:NAME` | the many-producer framed ring `/dev/shm/NAME` ([`shmring::framed::mpsc`]) |
/// | `uds:PATH` | a Unix stream socket at `PATH` |
/// | `fifo:PATH` | a named pipe at `PATH` (one sender at a time) |
/// | `pipe` | an anonymous pipe inherited from the parent process ([`crate::pipe`]) |
/// | `mq:/NAME` | a POSIX message queue |
/// | `sysv:KEY`, `sysv:/PATH` | a System V message queue, by key or by `ftok(PATH, 'S')` ([`crate::sysv`]) |
/// | `tcp:HOST:PORT` | a TCP connection |
/// | `auto:NAME` | rendezvous on a Unix socket, then shared memory if both sides can ([`crate::auto`]) |
/// | `zenoh:KEYEXPR` | publish/subscribe on a zenoh key expression, across hosts (feature `zenoh`; [`crate::zenoh_link`]) |
///
/// ```
/// use shmring_ipc::Endpoint;
/// assert_eq!("uds:/tmp/a.sock".parse::<Endpoint>()?, Endpoint::Uds("/tmp/a.sock".into()));
/// assert_eq!("tcp:127.0.0.1:9000".parse::<Endpoint>()?, Endpoint::Tcp("127.0.0.1:9000".into()));
/// assert!("udp:1".parse::<Endpoint>().is_err());
/// # Ok::<(), shmring_ipc::ConnectError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `shm:NAME`.
    Shm(String),
    /// `uds:PATH`.
    Uds(PathBuf),
    /// `fifo:PATH`.
    Fifo(PathBuf),
    /// `pipe`.
    Pipe,
    /// `mq:/NAME` (the name keeps its leading slash).
    Mq(String),
    /// `sysv:KEY` or `sysv:/PATH` (the address as given).
    Sysv(String),
    /// `tcp:HOST:PORT`.
    Tcp(String),
    /// `auto:NAME`.
    Auto(String),
    /// `zenoh:KEYEXPR` (checked as a zenoh key expression when used).
    Zenoh(String),
}

impl Endpoint {
    /// Parses an endpoint string.
    ///
    /// # Errors
    ///
    /// [`ConnectError::BadEndpoint`] naming what is wrong.
    ///
    /// ```
    /// let err = shmring_ipc::Endpoint::parse("mq:queue").unwrap_err();
    /// assert!(err.to_string().contains("must start with '/'"), "{err}");
    /// ```
    pub fn parse(s: &str) -> Result<Endpoint, ConnectError> {
        let bad = |reason: &str| ConnectError::BadEndpoint {
            endpoint: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s == "pipe" {
            return Ok(Endpoint::Pipe);
        }
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(bad(
                "expected SCHEME:ADDRESS with a scheme of shm, uds, fifo, mq, sysv, tcp, auto or zenoh, or `pipe`",
            ));
        };
        if rest.is_empty() {
            return Err(bad("the address after the scheme is empty"));
        }
        match scheme {
            "shm" => {
                if rest.contains('/') || rest.len() > 255 {
                    return Err(bad("a shm name has no '/' and at most 255 bytes"));
                }
                Ok(Endpoint::Shm(rest.to_owned()))
            }
            "uds" => Ok(Endpoint::Uds(rest.into())),
            "fifo" => Ok(Endpoint::Fifo(rest.into())),
            "mq" => {
                if !rest.starts_with('/') || rest[1..].contains('/') || rest.len() < 2 {
                    return Err(bad(
                        "a message queue name must start with '/' and contain no other '/'",
                    ));
                }
                if rest.len() > 255 {
                    return Err(bad("a message queue name has at most 255 bytes"));
                }
                Ok(Endpoint::Mq(rest.to_owned()))
            }
            "sysv" => {
                if !crate::sysv::valid_address(rest) {
                    return Err(bad(
                        "expected sysv:KEY (a non-zero 32-bit number, decimal or 0x hexadecimal) \
                         or sysv:/ABSOLUTE/PATH",
                    ));
                }
                Ok(Endpoint::Sysv(rest.to_owned()))
            }
            "tcp" => {
                let ok = rest
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !ok {
                    return Err(bad("expected tcp:HOST:PORT with a port of 0 to 65535"));
                }
                Ok(Endpoint::Tcp(rest.to_owned()))
            }
            "auto" => {
                if rest.contains('/') || rest.len() > 200 {
                    return Err(bad("an auto name has no '/' and at most 200 bytes"));
                }
                Ok(Endpoint::Auto(rest.to_owned()))
            }
            "zenoh" => {
                let chunk_ok = |c: &str| !c.is_empty() && !c.contains(['#', '?', '$', ' ']);
                if rest.starts_with('/') || rest.ends_with('/') || !rest.split('/').all(chunk_ok) {
                    return Err(bad(
                        "a zenoh key expression is chunks separated by '/', none empty, without \
                         '#', '?', '$' or spaces (e.g. zenoh:market/ticks)",
                    ));
                }
                Ok(Endpoint::Zenoh(rest.to_owned()))
            }
            _ => Err(bad(
                "unknown scheme; expected shm, uds, fifo, mq, sysv, tcp, auto, zenoh, or `pipe`",
            )),
        }
    }
}

impl FromStr for Endpoint {
    type Err = ConnectError;

    fn from_str(s: &str) -> Result<Endpoint, ConnectError> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Shm(name) => write!(f, "shm:{name}"),
            Endpoint::Uds(path) => write!(f, "uds:{}", path.display()),
            Endpoint::Fifo(path) => write!(f, "fifo:{}", path.display()),
            Endpoint::Pipe => f.write_str("pipe"),
            Endpoint::Mq(name) => write!(f, "mq:{name}"),
            Endpoint::Sysv(address) => write!(f, "sysv:{address}"),
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
            Endpoint::Auto(name) => write!(f, "auto:{name}"),
            Endpoint::Zenoh(key) => write!(f, "zenoh:{key}"),
        }
    }
}
