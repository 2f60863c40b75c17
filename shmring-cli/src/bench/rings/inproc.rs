//! In-process baselines: rtrb, crossbeam's ArrayQueue and shmring on the heap.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------- in-process baselines

/// Spinning producer thread on core 1, consumer on core 0; returns messages and time.
pub(super) fn inproc(
    cfg: Config,
    mut push: impl FnMut(u64) -> bool + Send + 'static,
    mut pop: impl FnMut() -> Option<u64>,
) -> (u64, Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let producer = std::thread::spawn(move || {
        super::super::pin_peer();
        let mut i = 0;
        while !stop2.load(Ordering::Relaxed) {
            if push(i) {
                i += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    let mut expected = 0;
    let start = Instant::now();
    while start.elapsed() < cfg.tput {
        for _ in 0..1024 {
            loop {
                if let Some(v) = pop() {
                    assert_eq!(v, expected);
                    expected += 1;
                    break;
                }
                std::hint::spin_loop();
            }
        }
    }
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    while pop().is_some() {}
    producer.join().unwrap();
    (expected, took)
}

pub(super) fn rtrb_tput(cfg: Config) -> Row {
    let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(4096);
    let (n, took) = inproc(cfg, move |v| p.push(v).is_ok(), move || c.pop().ok());
    tput_row("rtrb (in-process, spinning)", "8 B", 8, n, took)
}

pub(super) fn shmring_inproc_tput(cfg: Config) -> Row {
    let (mut tx, mut rx) = shmring::spsc::channel::<u64>(4096).unwrap();
    let (n, took) = inproc(
        cfg,
        move |v| tx.try_send(v).is_ok(),
        move || rx.try_recv().ok(),
    );
    tput_row("shmring spsc (in-process, spinning)", "8 B", 8, n, took)
}

pub(super) fn crossbeam_tput(cfg: Config) -> Row {
    let q = std::sync::Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(4096));
    let q2 = q.clone();
    let (n, took) = inproc(cfg, move |v| q2.push(v).is_ok(), move || q.pop());
    tput_row(
        "crossbeam ArrayQueue (in-process, spinning)",
        "8 B",
        8,
        n,
        took,
    )
}
