//! Creates a typed segment in this process and opens it from a second process.
//!
//! ```text
//! cargo run --release -p shmring --example two_process
//! ```
//!
//! The parent creates `/dev/shm/shmring-example-PID` holding 8 `Tick` slots, fills them, and
//! starts itself twice: once opening the segment as `Tick` (accepted; it prints the ticks it
//! reads) and once as `u8` (refused by the layout guard, before any byte is read). Then it
//! streams one million ticks to a third process through an SPSC ring and prints the rate. The
//! child modes can be run by hand: `two_process open NAME`, `two_process open-as-u8 NAME`,
//! `two_process recv NAME`.

use std::process::{Command, ExitCode};

use shmring::{RingKind, SegmentOptions, ShmType, spsc};

/// The payload. The integration tests define the same struct in another binary, and the
/// layout guard accepts it there: fingerprints are structural, not per-binary.
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Tick {
    ts_ns: u64,
    price: f64,
    qty: i32,
    side: u32,
}

const SLOTS: u64 = 8;

fn options() -> SegmentOptions {
    SegmentOptions::new(RingKind::Raw).capacity(SLOTS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        None => parent(),
        Some("open") if args.len() == 3 => open_as_tick(&args[2]),
        Some("open-as-u8") if args.len() == 3 => open_as_u8(&args[2]),
        Some("recv") if args.len() == 3 => receive(&args[2]),
        _ => Err("usage: two_process [open NAME | open-as-u8 NAME | recv NAME]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn parent() -> Result<()> {
    let name = format!("shmring-example-{}", std::process::id());
    let seg = options().payload::<Tick>().create(name.as_str())?;
    let ticks = seg.area_ptr().as_ptr().cast::<Tick>();
    for i in 0..SLOTS as usize {
        let tick = Tick {
            ts_ns: 1_000 * i as u64,
            price: 100.0 + i as f64 / 4.0,
            qty: 10 * i as i32,
            side: (i % 2) as u32,
        };
        // SAFETY: the area holds SLOTS Tick slots (capacity × size, checked at create), it is
        // page aligned, and no other process has the segment yet.
        unsafe { ticks.add(i).write_volatile(tick) };
    }
    println!(
        "created ring {name:?}: {} slots of {}",
        SLOTS,
        seg.info().description
    );

    let me = std::env::current_exe()?;
    let status = Command::new(&me).args(["open", &name]).status()?;
    let refused = Command::new(&me).args(["open-as-u8", &name]).status()?;
    seg.unlink()?;
    if !status.success() || !refused.success() {
        return Err("a child process failed".into());
    }
    println!("both processes behaved as expected; segment removed\n");
    stream(&me)
}

const STREAMED: u64 = 1_000_000;

/// Sends `STREAMED` ticks through an SPSC ring to a child process.
fn stream(me: &std::path::Path) -> Result<()> {
    let name = format!("shmring-example-ring-{}", std::process::id());
    let mut tx = spsc::Sender::<Tick>::create(name.as_str(), 4096)?;
    let mut child = Command::new(me).args(["recv", &name]).spawn()?;
    let start = std::time::Instant::now();
    for i in 0..STREAMED {
        let tick = Tick {
            ts_ns: i,
            price: 100.0,
            qty: 1,
            side: (i % 2) as u32,
        };
        tx.send(tick).map_err(|e| format!("send: {e}"))?;
    }
    drop(tx); // the receiver drains the ring, then sees the sender is gone
    let status = child.wait()?;
    shmring::Segment::unlink_name(&name)?;
    println!(
        "sent {STREAMED} ticks in {:.1} ms through ring {name:?}",
        start.elapsed().as_secs_f64() * 1e3
    );
    if status.success() {
        Ok(())
    } else {
        Err("the receiving process failed".into())
    }
}

/// Receives ticks until the sender is gone, checking their order.
fn receive(name: &str) -> Result<()> {
    let mut rx = spsc::Receiver::<Tick>::open(name)?;
    let start = std::time::Instant::now();
    let mut expected = 0;
    for tick in rx.iter() {
        if tick.ts_ns != expected {
            return Err(format!("tick {expected} arrived as {}", tick.ts_ns).into());
        }
        expected += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "pid {} received {expected} ticks in order ({:.1} M ticks/s), then the sender was gone",
        std::process::id(),
        expected as f64 / secs / 1e6
    );
    Ok(())
}

fn open_as_tick(name: &str) -> Result<()> {
    let seg = options().payload::<Tick>().open(name)?;
    let ticks = seg.area_ptr().as_ptr().cast::<Tick>();
    println!(
        "pid {} opened {name:?} as {}",
        std::process::id(),
        Tick::layout()
    );
    for i in 0..SLOTS as usize {
        // SAFETY: the layout guard confirmed the slots hold `Tick` and the header that the
        // area has SLOTS of them; `Tick` is Pod, so any bytes a peer left are a valid value.
        let tick = unsafe { ticks.add(i).read_volatile() };
        println!("  slot {i}: {tick:?}");
    }
    Ok(())
}

fn open_as_u8(name: &str) -> Result<()> {
    match options().payload::<u8>().open(name) {
        Ok(_) => Err("the layout guard accepted u8 for a Tick ring".into()),
        Err(e) => {
            println!(
                "pid {} was refused, as it should be:\n  {e}",
                std::process::id()
            );
            Ok(())
        }
    }
}
