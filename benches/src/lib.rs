//! Shared pieces of the shmring benchmarks: the payload types they move.
//!
//! ```
//! use shmring::ShmType;
//! assert_eq!(shmring_benches::Tick::layout().size(), 24);
//! ```

/// A market-data tick, the payload the benchmarks and examples use.
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable, shmring::ShmType)]
#[repr(C)]
pub struct Tick {
    /// Timestamp, nanoseconds.
    pub ts_ns: u64,
    /// Price.
    pub price: f64,
    /// Quantity.
    pub qty: i32,
    /// 0 = buy, 1 = sell.
    pub side: u32,
}

/// Pins this process to `core` (modulo the machine's cores) when the machine has two or
/// more; does nothing on one core.
///
/// The core count is taken once, before the parent pins itself, and handed to the peer
/// processes it spawns in `SHMRING_BENCH_CORES`: a child inherits its parent's one-core mask,
/// so its own `available_parallelism` would report one core and leave it unpinned — on the
/// parent's core.
///
/// ```
/// shmring_benches::pin(0);
/// ```
pub fn pin(core: usize) {
    const VAR: &str = "SHMRING_BENCH_CORES";
    let cores: usize = match std::env::var(VAR) {
        Ok(n) => n.parse().unwrap_or(1),
        Err(_) => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            // SAFETY: set_var is unsound only while another thread reads the environment;
            // the benchmark binaries pin themselves first thing in `main`, before any thread.
            unsafe { std::env::set_var(VAR, n.to_string()) };
            n
        }
    };
    if cores < 2 {
        return;
    }
    let mut set = nix::sched::CpuSet::new();
    if set.set(core % cores).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}
