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
