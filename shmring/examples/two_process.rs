//! Creates a typed segment in this process and opens it from a second process.
//!
//! ```text
//! cargo run --release -p shmring --example two_process
//! ```
//!
//! The parent creates `/dev/shm/shmring-example-PID` holding 8 `Tick` slots, fills them, and
//! starts itself twice: once opening the segment as `Tick` (accepted; it prints the ticks it
//! reads) and once as `u8` (refused by the layout guard, before any byte is read). The child
//! modes can be run by hand: `two_process open NAME` and `two_process open-as-u8 NAME`.

use std::process::{Command, ExitCode};

use shmring::{RingKind, SegmentOptions, ShmType};

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
        _ => Err("usage: two_process [open NAME | open-as-u8 NAME]".into()),
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
    println!("both processes behaved as expected; ring removed");
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
