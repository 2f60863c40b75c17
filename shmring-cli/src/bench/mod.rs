//! `shmring bench`: round trips and throughput of every shmring ring and shmring-ipc
//! transport next to the raw mechanisms, across real processes pinned to different cores,
//! in one table with ratios to the floor (two processes spinning on one shared cache line,
//! or an unchecked shared-memory ring for streaming) measured in the same run.
//!
//! Each row runs `--reps` times, each run paired with a run of its floor right before or
//! after it (`paired.rs`): its ratio is the median of the per-pair ratios, with their
//! spread, per machine mode (the floor's speed tells which), and its figures are those of
//! the fast mode's median pair.

mod ipc;
mod paired;
mod plot;
mod rings;
#[cfg(feature = "zenoh")]
mod zenoh;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::Failure;

/// `shmring bench` options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A short run (about a minute and a half): fewer round trips, shorter throughput windows, three
    /// repetitions.
    #[arg(long)]
    quick: bool,
    /// Row groups to run, comma-separated: floor, spsc, mpmc, framed, framed-mpsc, broadcast (each
    /// also as NAME-spin or NAME-blocking), pipe, uds, tcp, mq, sysv (raw System V
    /// msgsnd/msgrcv), ipc (or ipc-shm, ipc-uds, ipc-tcp, ipc-fifo, ipc-mq, ipc-sysv), inproc, zenoh (shmring-ipc zenoh: and raw zenoh
    /// publish/subscribe over tcp/127.0.0.1; built with the `zenoh` feature), peers (iceoryx2 publish-subscribe; built with the
    /// `peers` feature), wake (replies slower than a receiver spins:
    /// blocking against async receive), fence (spsc rings made with `fence_every_send`),
    /// tail (a long busy-poll round-trip run for p99.99, beside the machine's own noise).
    /// Default: all. The floor always runs.
    #[arg(long, value_delimiter = ',')]
    rows: Vec<String>,
    /// Message sizes in bytes to run, comma-separated (rows exist at 8, 64, 1024 and 65536).
    /// Default: all.
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Seconds per throughput measurement (default 2, 0.2 with --quick).
    #[arg(long)]
    secs: Option<f64>,
    /// Round trips per latency row for the rings (a tenth of it for sockets, pipes and
    /// queues; default 400 000, 20 000 with --quick).
    #[arg(long)]
    round_trips: Option<u64>,
    /// Runs of each row, each paired with a run of its floor: the median of the per-pair
    /// ratios reported, with the figures of that pair (default 5, 3 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// The two cores to pin this process and its peers to, `A,B` (default 0,1; no pinning
    /// on a machine with one core).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    cores: Vec<usize>,
    /// Also draw the results as an SVG: latency percentile curves (p50 to max, log scales)
    /// of the round-trip rows, and throughput bars with their ratios to the floor.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<std::path::PathBuf>,
}

/// How long each measurement runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    rtt_iters: u64,
    tput: Duration,
}

/// One measured row.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    name: String,
    size: &'static str,
    rtt: Option<[f64; 4]>,
    /// Round trips: the latency curve, `(percentile, µs)` from p50 to the maximum (100).
    curve: Vec<(f64, f64)>,
    tput: Option<f64>,
    bytes: usize,
}

impl Row {
    /// What the median is taken over: p50 round trip, or rate.
    fn key(&self) -> f64 {
        self.rtt.map_or_else(|| self.tput.unwrap_or(0.0), |r| r[0])
    }

    /// The round trip's p99.99 in µs (from its curve).
    fn p9999(&self) -> Option<f64> {
        self.curve
            .iter()
            .find(|(p, _)| *p == 99.99)
            .map(|(_, us)| *us)
    }

    fn is_floor(&self) -> bool {
        self.name.starts_with("floor")
    }
}

type Bench = Box<dyn Fn() -> Row>;

/// The rows to run.
pub(crate) struct Plan {
    cfg: Config,
    rows: Vec<String>,
    sizes: Vec<usize>,
    benches: Vec<Bench>,
    /// Whether each bench is a floor.
    floor: Vec<bool>,
}

impl Plan {
    /// Adds a row of group `group` at `size` bytes, if selected.
    fn add(&mut self, group: &str, size: usize, bench: impl Fn() -> Row + 'static) {
        let family = group
            .trim_end_matches("-spin")
            .trim_end_matches("-blocking");
        let family = if family.starts_with("ipc-") {
            "ipc"
        } else {
            family
        };
        let wanted = group == "floor"
            || self.rows.is_empty()
            || self.rows.iter().any(|r| r == group || r == family);
        if wanted && (self.sizes.is_empty() || self.sizes.contains(&size)) {
            self.benches.push(Box::new(bench));
            self.floor.push(group == "floor");
        }
    }
}

// ---------------------------------------------------------------- helpers for the rows

/// The environment variable that hands the core pair to peer processes.
const CORES_VAR: &str = "SHMRING_BENCH_CORES";

/// Pins this process to `core` (of the machine's cores) when there are two or more.
fn pin(core: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(core).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

/// Pins a peer process (or thread) to the second core of the pair, if there is one.
fn pin_peer() {
    if let Some(core) = std::env::var(CORES_VAR)
        .ok()
        .and_then(|c| c.split(',').nth(1)?.parse().ok())
    {
        pin(core);
    }
}

fn spawn_peer(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .arg("bench-peer")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn peer")
}

fn finish(child: Child) {
    let status = child.wait_with_output().expect("wait peer").status;
    assert!(status.success(), "peer failed: {status}");
}

/// The percentiles a latency curve is drawn through (and the maximum after them).
const CURVE: [f64; 8] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99];

fn rtt_row(name: &str, size: &'static str, hist: &Histogram<u64>) -> Row {
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let max = hist.max() as f64 / 1000.0;
    Row {
        name: name.into(),
        size,
        rtt: Some([us(0.5), us(0.99), us(0.999), max]),
        curve: CURVE
            .iter()
            .map(|&p| (p, us(p / 100.0)))
            .chain([(100.0, max)])
            .collect(),
        tput: None,
        bytes: 0,
    }
}

fn tput_row(name: &str, size: &'static str, bytes: usize, msgs: u64, took: Duration) -> Row {
    Row {
        name: name.into(),
        size,
        rtt: None,
        curve: Vec::new(),
        tput: Some(msgs as f64 / took.as_secs_f64()),
        bytes,
    }
}

/// The machine's own noise: a thread on each benchmark core reads the clock in a tight loop
/// for a throughput slice; the row is the distribution of the gaps between successive
/// readings (both threads merged). Its p99.99 and maximum are what the scheduler, interrupts
/// and the hypervisor take from a spinning thread — the floor under any tail latency.
fn noise_row(cfg: Config) -> Row {
    let spin = move || {
        let mut hist = histogram();
        let start = Instant::now();
        let mut last = start;
        loop {
            let now = Instant::now();
            hist.record((now - last).as_nanos().max(1) as u64).unwrap();
            last = now;
            if now - start >= cfg.tput {
                return hist;
            }
        }
    };
    let other = std::thread::spawn(move || {
        pin_peer();
        spin()
    });
    let mut hist = spin();
    hist.add(other.join().expect("noise thread")).unwrap();
    rtt_row("noise: gaps of a thread spinning on each core", "—", &hist)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram")
}

/// Runs `warm + iters` round trips (`round_trip(i)`, timed whole) and records the last
/// `iters` of them.
fn round_trips(warm: u64, iters: u64, mut round_trip: impl FnMut(u64)) -> Histogram<u64> {
    let mut hist = histogram();
    for i in 0..warm + iters {
        let start = Instant::now();
        round_trip(i);
        if i >= warm {
            hist.record(start.elapsed().as_nanos() as u64).unwrap();
        }
    }
    hist
}

/// [`round_trips`] with an async round trip, on a current-thread tokio runtime.
fn round_trips_async(
    warm: u64,
    iters: u64,
    mut round_trip: impl AsyncFnMut(u64),
) -> Histogram<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut hist = histogram();
        for i in 0..warm + iters {
            let start = Instant::now();
            round_trip(i).await;
            if i >= warm {
                hist.record(start.elapsed().as_nanos() as u64).unwrap();
            }
        }
        hist
    })
}

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmring-bench-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn size_label(size: usize) -> &'static str {
    match size {
        8 => "8 B",
        64 => "64 B",
        1024 => "1 KiB",
        65536 => "64 KiB",
        _ => "other",
    }
}

// ---------------------------------------------------------------- the command

/// The hidden `bench-peer` subcommand: the other process of a row.
pub fn peer(args: &[String]) -> Result<(), Failure> {
    // A peer whose parent is gone (the bench interrupted) must not spin on forever.
    let parent = nix::unistd::getppid();
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid() != parent {
        return Err(Failure::new(1, "the bench process is gone"));
    }
    pin_peer();
    #[cfg(feature = "zenoh")]
    if zenoh::peer(args) {
        return Ok(());
    }
    if rings::peer(args) || ipc::peer(args) {
        Ok(())
    } else {
        Err(Failure::new(2, format!("unknown bench peer role {args:?}")))
    }
}

pub fn run(args: &BenchArgs, json: bool) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pair = match args.cores.as_slice() {
        [] => (cores >= 2).then_some((0, 1)),
        [a, b] if *a < cores && *b < cores && a != b => Some((*a, *b)),
        other => {
            return Err(Failure::new(
                2,
                format!("--cores wants two different cores below {cores}, got {other:?}"),
            ));
        }
    };
    if let Some(secs) = args.secs {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(Failure::new(2, format!("--secs {secs} is not a duration")));
        }
    }
    let known = [
        "floor",
        "spsc",
        "mpmc",
        "framed",
        "framed-mpsc",
        "broadcast",
        "pipe",
        "uds",
        "tcp",
        "mq",
        "sysv",
        "ipc",
        "inproc",
        "wake",
        "fence",
        "tail",
        "peers",
        "zenoh",
    ];
    if !cfg!(feature = "zenoh") && args.rows.iter().any(|r| r == "zenoh") {
        return Err(Failure::new(
            2,
            "the zenoh rows are built with the `zenoh` feature: cargo build --release -p \
             shmring-cli --features zenoh",
        ));
    }
    if !cfg!(feature = "peers") && args.rows.iter().any(|r| r == "peers") {
        return Err(Failure::new(
            2,
            "the peers rows (iceoryx2) are built with the `peers` feature: cargo build \
             --release -p shmring-cli --features peers",
        ));
    }
    for r in &args.rows {
        let base = r.trim_end_matches("-spin").trim_end_matches("-blocking");
        let ipc_kind = r
            .strip_prefix("ipc-")
            .is_some_and(|k| ipc::KINDS.contains(&k));
        if !known.contains(&base) && !ipc_kind {
            return Err(Failure::new(2, format!("unknown row group {r:?}")));
        }
    }
    if let Some((a, b)) = pair {
        // SAFETY: set_var is unsound only while another thread reads the environment; this
        // runs before the command starts any thread.
        unsafe { std::env::set_var(CORES_VAR, format!("{a},{b}")) };
        pin(a);
    }
    let cfg = Config {
        rtt_iters: args
            .round_trips
            .unwrap_or(if args.quick { 20_000 } else { 400_000 }),
        tput: Duration::from_secs_f64(args.secs.unwrap_or(if args.quick { 0.2 } else { 2.0 })),
    };
    let reps = args.reps.unwrap_or(if args.quick { 3 } else { 5 }).max(1);
    let mut plan = Plan {
        cfg,
        rows: args.rows.clone(),
        sizes: args.sizes.clone(),
        benches: Vec::new(),
        floor: Vec::new(),
    };
    rings::add_rows(&mut plan);
    ipc::add_rows(&mut plan);
    #[cfg(feature = "zenoh")]
    zenoh::add_rows(&mut plan);
    let bar = ProgressBar::new(paired::steps(&plan.floor, reps));
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    // A row that fails (a peer that could not start, a full /dev/shm, a queue limit) ends
    // the run with its message, not a panic's backtrace.
    let failed = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let hook = std::panic::take_hook();
    let message = failed.clone();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                info.payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
            })
            .unwrap_or_default();
        let at = info.location().map_or(String::new(), |l| format!(" ({l})"));
        *message.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{text}{at}"));
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        paired::run(&plan.benches, &plan.floor, reps, &bar)
    }));
    std::panic::set_hook(hook);
    bar.finish_and_clear();
    let rows = match outcome {
        Ok(rows) => rows,
        Err(_) => {
            let why = failed.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Err(Failure::new(
                1,
                format!(
                    "a benchmark row failed: {}",
                    why.unwrap_or_else(|| "unknown".into())
                ),
            ));
        }
    };
    let setup = format!(
        "{} core(s){}, {reps} pair(s) of each row with its floor, {} round trips, {:.1} s per throughput row",
        cores,
        pair.map_or(" (not pinned)".into(), |(a, b)| format!(
            ", pinned to {a} and {b}"
        )),
        cfg.rtt_iters,
        cfg.tput.as_secs_f64()
    );
    if json {
        print_json(&rows, &setup)?;
    } else {
        print_table(&rows, &setup)?;
    }
    if let Some(path) = &args.plot {
        plot::draw(path, &rows, &setup)?;
    }
    Ok(())
}

/// A row's ratio cells: the median of its pairs in the fast mode and their spread, and the
/// median of those in the slow mode (with how many); a floor is 1.
fn ratio_cells(m: &paired::Measured) -> [String; 3] {
    let median = |s: paired::Spread| format!("{:.2}×", s.median);
    match m.ratio {
        Some(r) => [
            r.fast.map_or("—".into(), median),
            r.fast
                .map_or(String::new(), |s| format!("{:.2}–{:.2}", s.low, s.high)),
            r.slow
                .map_or(String::new(), |s| format!("{} ({})", median(s), s.pairs)),
        ],
        None if m.row.is_floor() => ["1.00×".into(), String::new(), String::new()],
        None => ["—".into(), String::new(), String::new()],
    }
}

fn print_table(rows: &[paired::Measured], setup: &str) -> Result<(), Failure> {
    outln!("shmring bench: {setup}")?;
    outln!(
        "round trips in µs; throughput one-way; ratio: to the floor of the same size, the \
         median over pairs run back to back (p50 / floor p50, or rate / floor rate), in the \
         machine's fast mode with the spread of those pairs, and in its slow mode (pairs whose \
         floor ran over {}× slower than its fastest run) with their number",
        paired::MODE_JUMP
    )?;
    outln!()?;
    let mut table = vec![[
        "row".to_string(),
        "size".into(),
        "p50".into(),
        "p99".into(),
        "p99.9".into(),
        "p99.99".into(),
        "max".into(),
        "M msgs/s".into(),
        "GB/s".into(),
        "ratio".into(),
        "spread".into(),
        "slow mode".into(),
    ]];
    for m in rows {
        let r = &m.row;
        let [ratio, spread, slow] = ratio_cells(m);
        table.push(match (r.rtt, r.tput) {
            (Some([p50, p99, p999, max]), _) => [
                r.name.clone(),
                r.size.into(),
                format!("{p50:.2}"),
                format!("{p99:.2}"),
                format!("{p999:.2}"),
                r.p9999().map_or(String::new(), |us| format!("{us:.2}")),
                format!("{max:.1}"),
                String::new(),
                String::new(),
                ratio,
                spread,
                slow,
            ],
            (None, Some(rate)) => [
                r.name.clone(),
                r.size.into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("{:.3}", rate / 1e6),
                format!("{:.2}", rate * r.bytes as f64 / 1e9),
                ratio,
                spread,
                slow,
            ],
            (None, None) => continue,
        });
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, row) in table.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        outln!("{}", cells.join("  ").trim_end())?;
        if n == 0 {
            outln!(
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            )?;
        }
    }
    Ok(())
}

fn print_json(rows: &[paired::Measured], setup: &str) -> Result<(), Failure> {
    let rows: Vec<_> = rows
        .iter()
        .map(|m| {
            let r = &m.row;
            let ratio = m
                .ratio
                .map(|x| x.headline().median)
                .or(r.is_floor().then_some(1.0));
            let spread = |s: Option<paired::Spread>| {
                s.map(|s| {
                    json!({
                        "median": s.median, "low": s.low, "high": s.high, "count": s.pairs,
                    })
                })
            };
            json!({
                "row": r.name,
                "size": r.size,
                "rtt_us": r.rtt.map(|[p50, p99, p999, max]| json!({
                    "p50": p50, "p99": p99, "p99_9": p999, "p99_99": r.p9999(), "max": max,
                    "ratio_to_floor": ratio,
                })),
                "throughput": r.tput.map(|rate| json!({
                    "msgs_per_s": rate,
                    "bytes_per_s": rate * r.bytes as f64,
                    "ratio_to_floor": ratio,
                })),
                "pairs": m.ratio.map(|x| json!({
                    "count": x.pairs,
                    "ratio_low": x.low,
                    "ratio_high": x.high,
                    "mode_changed": x.mode_changed,
                    "fast_mode": spread(x.fast),
                    "slow_mode": spread(x.slow),
                })),
            })
        })
        .collect();
    outln!("{}", json!({ "setup": setup, "rows": rows }))?;
    Ok(())
}
