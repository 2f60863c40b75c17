//! The `shmring` command: inspect, clean up and use shmring rings from the shell.
//!
//! `shmring bench`, `ls`, `top`, `inspect NAME`, `rm NAME`, `gc [--dry-run]`, `send NAME`, `recv NAME`,
//! `bridge FROM TO`, `notify NAME ID…`, `listen NAME`;
//! `--json` anywhere for machine-readable output. Every user error is one line on stderr and
//! a distinct exit code (see [`Failure`] and `shmring --help`).
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[macro_use]
mod out;
mod bench;
mod bridge;
mod cast;
mod event;
mod ops;
mod pipe;
mod signals;
mod top;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, also listed in `shmring --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  I/O error or another failure (each says what to do)
  2  bad command line
  3  no such ring
  4  the ring is of another kind or payload layout
  5  the ring is corrupt
  6  permission denied
  7  the ring already exists (--create)
  8  send: the receiver went away and none came back within --wait SECONDS
  9  a message is larger than the ring's maximum
  10 the ring already has a receiver (recv)
  11 recv: every sender is gone, one or more of them killed or crashed without closing
  12 listen: no event within --timeout
  128+N  recv or listen stopped by signal N (SIGINT, SIGTERM, SIGHUP) after writing out all it took
A closed stdout (e.g. `| head`) ends any subcommand quietly with exit 0.";

#[derive(Debug, Parser)]
#[command(
    name = "shmring",
    version,
    about = "Inspect, clean up and use shmring shared-memory rings",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Machine-readable JSON output (errors too, on stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure round trips and throughput of every ring and transport against the raw
    /// mechanisms, across processes (`--quick`: about a minute and a half).
    #[command(
        after_help = "Examples:\n  shmring bench --quick\n  shmring bench --rows spsc,ipc --sizes 8,64\n  shmring bench --quick --json > bench.json\n  shmring bench --quick --rows spsc,broadcast --plot bench.svg"
    )]
    Bench(bench::BenchArgs),
    /// The other process of a benchmark row (started by `bench`).
    #[command(hide = true)]
    BenchPeer {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List every shmring ring in /dev/shm: kind, payload, capacity, fill, processes.
    #[command(after_help = "Examples:\n  shmring ls\n  shmring ls --json")]
    Ls,
    /// Show a ring's whole header and control block, with a consistency check.
    #[command(after_help = "Examples:\n  shmring inspect ticks\n  shmring inspect ticks --json")]
    Inspect {
        /// The ring's name (as in /dev/shm).
        name: String,
    },
    /// Remove a ring's name (processes that have it open keep working).
    #[command(
        after_help = "Examples:\n  shmring rm ticks\n  shmring rm a b c\n  shmring rm --force stray-file"
    )]
    Rm {
        /// The rings' names. Each is handled and reported; the exit code is the worst.
        #[arg(required = true)]
        names: Vec<String>,
        /// Also remove a name in /dev/shm that is not a shmring ring (or whose header is
        /// unreadable), as `gc` may advise.
        #[arg(long)]
        force: bool,
    },
    /// Remove every ring whose recorded processes are all dead, and every `mq:` and `sysv:`
    /// queue whose receiver died (saying how many queue messages it discards).
    #[command(
        after_help = "Examples:\n  shmring gc --dry-run\n  shmring gc\n  shmring gc --discard-unread"
    )]
    Gc {
        /// Only list what would be removed (with what each ring still holds).
        #[arg(long)]
        dry_run: bool,
        /// Also remove dead rings that still hold unread messages (kept otherwise).
        #[arg(long)]
        discard_unread: bool,
    },
    /// A live view of every ring, refreshed each second: kind, payload, fill, messages/s and
    /// bytes/s, processes and their roles (one line per participant of a many-producer or
    /// many-consumer ring). `q` quits. Reads the rings' files only: it never attaches and adds
    /// nothing to their hot paths. A framed ring counts bytes, so its MSG/S is `-`.
    #[command(
        after_help = "Examples:\n  shmring top\n  shmring top --interval 0.5\n  shmring top --once\n  shmring top --once --json | jq '.[] | {name, rate}'"
    )]
    Top(top::TopArgs),
    /// Print a completion script for a shell.
    #[command(
        after_help = "Examples:\n  shmring completions bash > ~/.local/share/bash-completion/completions/shmring\n  shmring completions zsh > ~/.zfunc/_shmring\n  shmring completions fish > ~/.config/fish/completions/shmring.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Send lines (or frames) from stdin into a framed ring. A line or frame longer than the
    /// ring's largest message (half its capacity, less 8 bytes) is refused (exit 9) as soon as
    /// that is known, without reading the rest.
    #[command(
        after_help = "Examples:\n  echo hello | shmring send logs --create\n  tail -f app.log | shmring send logs --wait 5\n  shmring send frames --create --capacity 4194304 --frames < messages.bin\n  tail -f app.log | shmring send applog --create --broadcast    # every recv gets every line"
    )]
    Send(pipe::SendArgs),
    /// Receive messages from a framed ring as lines (or frames) on stdout. Messages are
    /// consumed only once written: stopped by SIGINT, SIGTERM or SIGHUP, `recv` writes out what
    /// it took and exits 128+N; if its reader goes away or it is killed, what it had not
    /// written stays in the ring for the next receiver.
    #[command(
        after_help = "Examples:\n  shmring recv logs --create --follow > out.txt\n  shmring recv logs --count 10\n  shmring recv logs | head -n 5    # the rest stays in the ring\n  shmring recv applog --from-oldest --follow    # a broadcast ring: its history, then live"
    )]
    Recv(pipe::RecvArgs),
    /// Forward every message of one endpoint to another, the payload type passed through:
    /// a ring to a zenoh key on one host, the key into a ring on another. Ends (exit 0) when
    /// every sender of FROM is gone and everything was forwarded.
    #[command(
        after_help = "Examples:\n  shmring bridge shm:ticks zenoh:market/ticks --zenoh-listen tcp/0.0.0.0:7447    # host A\n  shmring bridge zenoh:market/ticks shm:ticks --zenoh-connect tcp/hostA:7447     # host B\n  shmring bridge uds:/run/app.sock tcp:collector:9000"
    )]
    Bridge(bridge::BridgeArgs),
    /// Notify event ids on an event segment (events without data: every listener's next wait
    /// returns the ids notified since its last one, each once). Never waits for a listener.
    #[command(
        after_help = "Examples:\n  shmring notify config-changed 0 --create\n  shmring notify jobs 17 42\n  shmring notify jobs 3 --json"
    )]
    Notify(event::NotifyArgs),
    /// Wait for events on an event segment and print the ids of each wake-up, one per line
    /// (`--json`: one `{\"ids\": [...]}` line per wake-up), until --count, --timeout or a
    /// signal.
    #[command(
        after_help = "Examples:\n  shmring listen config-changed --create\n  shmring listen jobs --count 1 --timeout 30\n  shmring listen jobs --json | jq -c .ids"
    )]
    Listen(event::ListenArgs),
}

/// A user-facing failure: one line of explanation and an exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see [`EXIT_CODES`]).
    pub code: u8,
    /// The explanation.
    pub message: String,
}

impl Failure {
    /// A failure with exit code `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// The failure an [`shmring::OpenError`] stands for, in the command's terms: the ring,
    /// the cause and what to run about it.
    pub fn open(err: &shmring::OpenError) -> Failure {
        use shmring::OpenError as E;
        let (code, message) = match err {
            E::InvalidName { .. } | E::InvalidConfig { .. } => (2, err.to_string()),
            E::NotFound { name } => (
                3,
                format!(
                    "ring {name} does not exist; create it with --create, wait for it with \
                     --wait SECONDS, or check the name with `shmring ls`"
                ),
            ),
            E::IncompatibleLayout { name, found, .. } => (
                4,
                format!(
                    "ring {name} holds {found}, not byte messages; send and recv need a framed \
                     ring: use another name, or `shmring rm {name}` if nothing uses it"
                ),
            ),
            E::KindMismatch {
                name,
                found,
                expected,
            } => (
                4,
                format!(
                    "ring {name} is of kind {found}; send and recv use {expected} rings: use \
                     another name, or `shmring rm {name}` if nothing uses it"
                ),
            ),
            E::ConfigMismatch { name, .. } | E::VersionMismatch { name, .. } => (
                4,
                format!(
                    "{err}; `shmring inspect {name}` shows the ring, `shmring rm {name}` \
                     removes it"
                ),
            ),
            E::NotASegment { name, why } => (
                5,
                format!(
                    "{name} in /dev/shm is not a shmring ring ({why}); use another name, or \
                     `shmring rm --force {name}` if nothing uses it"
                ),
            ),
            E::Truncated {
                name,
                expected,
                actual,
            } => (
                5,
                format!(
                    "ring {name} has {actual} bytes but its header needs {expected} (something \
                     shrank it); `shmring rm {name}` removes it, then --create makes it again"
                ),
            ),
            E::Corrupted { name, reason } => (
                5,
                format!(
                    "ring {name} has a corrupt header ({reason}); `shmring inspect {name}` \
                     shows it; stop the processes using it, then `shmring rm --force {name}`"
                ),
            ),
            E::InitTimeout {
                name,
                waited,
                creator,
                creator_alive,
            } => {
                let creator = match (creator, creator_alive) {
                    (Some(pid), Some(false)) => format!(" by pid {pid}, which has died"),
                    (Some(pid), _) => format!(" by pid {pid}"),
                    (None, _) => String::new(),
                };
                (
                    1,
                    format!(
                        "ring {name} was still being created{creator} after {:.1} s; if its \
                         creator died, `shmring rm {name}` and run again with --create, \
                         otherwise run again a moment later",
                        waited.as_secs_f64()
                    ),
                )
            }
            E::Closed { name } => (
                3,
                format!(
                    "ring {name} was closed by its owner; `shmring rm {name}`, then --create \
                     makes it again"
                ),
            ),
            E::PermissionDenied { name, source } => (
                6,
                format!(
                    "permission denied for ring {name} ({source}): it belongs to another user \
                     (`shmring ls` shows its owner and mode); run as that user, or have it \
                     created with --mode 660 (the group) or 666 (everyone)"
                ),
            ),
            E::AlreadyExists { name } => (
                7,
                format!("ring {name} already exists; `shmring rm {name}` removes it"),
            ),
            E::RoleTaken { name, role, pid } => (
                10,
                format!(
                    "ring {name} already has a {role} (pid {pid}), and a framed ring has one \
                     receiver at a time; stop that process first (or receive from another \
                     ring)"
                ),
            ),
            E::ParticipantsFull { name, max } => (
                1,
                format!(
                    "ring {name} already has {max} attached processes, all alive (the most a \
                     ring records); stop one of them first"
                ),
            ),
            E::NoSpace {
                name, requested, ..
            } => (
                1,
                format!(
                    "no room for the {requested} bytes of ring {name} in /dev/shm (`df -h \
                     /dev/shm`); free some, or create it with a smaller --capacity"
                ),
            ),
            _ => (1, err.to_string()),
        };
        Failure::new(code, message)
    }

    /// A failed write to stdout: a closed stdout (its reader went away, as with `| head`)
    /// ends the command quietly with exit 0; anything else (`/dev/full`) is exit 1.
    pub fn stdout(err: &std::io::Error) -> Failure {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::new(0, "")
        } else {
            Failure::new(1, format!("writing stdout: {err}"))
        }
    }

    /// The failure an [`shmring::inspect::InspectError`] stands for, with what to run
    /// about it.
    pub fn inspect(err: &shmring::inspect::InspectError) -> Failure {
        use shmring::inspect::InspectError as E;
        let file = |path: &std::path::Path| {
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        };
        let (code, message) = match err {
            E::InvalidName { .. } => (2, format!("{err} (`shmring ls` lists the names)")),
            E::NotFound { name } => (
                3,
                format!("no ring named {name} in /dev/shm (`shmring ls` lists them)"),
            ),
            E::Header { path, .. } => (
                5,
                format!(
                    "{err}; `shmring rm --force {}` removes it if nothing uses it",
                    file(path)
                ),
            ),
            E::NotAFile { path, .. } => (5, format!("{err}; `rm {}` removes it", path.display())),
            E::PermissionDenied { path } => (
                6,
                format!(
                    "permission denied reading {}: it belongs to another user (`shmring ls` \
                     shows its owner and mode); run as that user",
                    path.display()
                ),
            ),
            E::Io { .. } => (1, err.to_string()),
        };
        Failure::new(code, message)
    }
}

/// `shmring completions SHELL`: the script on stdout.
fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "shmring", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::stdout(&e))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; a usage error with --json is JSON too.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            // clap's text up to its usage line, as one line.
            let detail = e.to_string();
            let message: Vec<&str> = detail
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            errln!(
                "{}",
                serde_json::json!({
                    "error": message.trim_start_matches("error: "),
                    "exit_code": 2,
                })
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let json = cli.json;
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args, json),
        Command::BenchPeer { args } => bench::peer(&args),
        Command::Ls => ops::ls(json),
        Command::Inspect { name } => ops::inspect(&name, json),
        Command::Rm { names, force } => ops::rm(&names, force, json),
        Command::Gc {
            dry_run,
            discard_unread,
        } => ops::gc(dry_run, discard_unread, json),
        Command::Top(args) => top::run(&args, json),
        Command::Completions { shell } => completions(shell),
        Command::Send(args) => pipe::send(&args, json),
        Command::Recv(args) => pipe::recv(&args, json),
        Command::Bridge(args) => bridge::bridge(&args, json),
        Command::Notify(args) => event::notify(&args, json),
        Command::Listen(args) => event::listen(&args, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        // Reported already (one line per failure).
        Err(f) if f.message.is_empty() => ExitCode::from(f.code),
        Err(f) => {
            if json {
                errln!(
                    "{}",
                    serde_json::json!({ "error": f.message, "exit_code": f.code })
                );
            } else {
                errln!("shmring: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
