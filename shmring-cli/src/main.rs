//! The `shmring` command. Its subcommands (bench, ls, inspect, rm, gc, send, recv) are being
//! built; today it reports its version and the header format it reads.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-V") => {
            println!(
                "shmring {} (segment format version {})",
                env!("CARGO_PKG_VERSION"),
                shmring::header::FORMAT_VERSION
            );
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") | None => {
            println!("usage: shmring --version\n\nNo subcommands are available in this release.");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("shmring: unknown argument {other:?}; try `shmring --help`");
            ExitCode::from(2)
        }
    }
}
