//! Writing to stdout and stderr without panicking: `println!` panics when stdout is a closed
//! pipe (`shmring ls | head -1`) or a full device (`> /dev/full`). A closed stdout ends the
//! command quietly, as with other Unix tools; any other write error is one line and exit 1.

use std::fmt;
use std::io::{self, Write};

use crate::Failure;

/// Writes one line to stdout (see [`outln!`](crate::outln)).
///
/// # Errors
///
/// [`Failure::stdout`] for a failed write.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::stdout(&e))
}

/// Writes one line to stderr; a failure to write there has nowhere to be reported.
pub fn err_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `println!` that returns `Result<(), Failure>` instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::line(format_args!("")) };
    ($($t:tt)*) => { $crate::out::line(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::out::err_line(format_args!($($t)*)) };
}
