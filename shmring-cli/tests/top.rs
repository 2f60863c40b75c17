//! `shmring top` end to end: `--once --json` rates from a ring with traffic, and the live
//! view under a pseudo-terminal (tmux), as a person sees it, quit with `q`.

mod common;

use common::*;

/// A typed ring with a sender and a receiver thread moving `u64`s until `stop` is set.
fn busy_spsc(
    name: &str,
    stop: &'static std::sync::atomic::AtomicBool,
) -> Vec<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tx = shmring::spsc::Sender::<u64>::create(name, 1024).unwrap();
    let mut rx = shmring::spsc::Receiver::<u64>::open(name).unwrap();
    vec![
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                if tx.send_timeout(i, Duration::from_millis(10)).is_ok() {
                    i += 1;
                }
            }
        }),
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                let _ = rx.recv_timeout(Duration::from_millis(10));
            }
        }),
    ]
}

#[test]
fn once_json_measures_rates_from_the_positions() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static STOP: AtomicBool = AtomicBool::new(false);
    let name = unique("top-json");
    let _unlink = Unlink(name.clone());
    let idle = unique("top-idle");
    let _unlink2 = Unlink(idle.clone());
    let quiet = shmring::mpmc::Sender::<u32>::create(idle.as_str(), 8).unwrap();
    let threads = busy_spsc(&name, &STOP);
    let (code, out, err) = run(&["top", "--once", "--json", "--interval", "0.3"]);
    STOP.store(true, Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(code, Some(0), "{err}");
    let rings: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let busy = rings.iter().find(|r| r["name"] == name.as_str()).unwrap();
    let messages = busy["rate"]["messages_per_s"].as_f64().unwrap();
    let bytes = busy["rate"]["bytes_per_s"].as_f64().unwrap();
    assert!(messages > 0.0, "{busy}");
    assert!((bytes - 8.0 * messages).abs() < 1e-6 * bytes, "{busy}");
    assert!(busy["fill_percent"].as_f64().unwrap() <= 100.0, "{busy}");
    let idle_ring = rings.iter().find(|r| r["name"] == idle.as_str()).unwrap();
    assert_eq!(idle_ring["rate"]["messages_per_s"], 0.0, "{idle_ring}");
    assert_eq!(idle_ring["kind"], "mpmc", "{idle_ring}");
    drop(quiet);

    // Without a terminal the live view refuses with a pointer to --once; bad intervals are 2.
    let (code, _, err) = run(&["top"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--once"), "{err}");
    for bad in ["0", "-1", "nan", "1e9"] {
        let (code, _, err) = run(&["top", "--once", "--interval", bad]);
        assert_eq!(code, Some(2), "--interval {bad}: {err}");
    }
}

/// Runs `tmux ARGS` on the test's own server socket; its stdout.
fn tmux(socket: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The live view as a person sees it: started in a tmux pane (a pseudo-terminal), it shows
/// the ring with its rate and each participant of a many-participant ring, redraws, and `q`
/// ends it with exit 0.
#[test]
fn live_view_in_a_terminal_quits_on_q() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static STOP: AtomicBool = AtomicBool::new(false);
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (ci/test.sh installs it)");
        return;
    }
    let name = unique("top-live");
    let _unlink = Unlink(name.clone());
    let many = unique("top-many");
    let _unlink2 = Unlink(many.clone());
    let threads = busy_spsc(&name, &STOP);
    // Three participants (two `shmring send`, one `shmring recv`): one line each under the
    // ring's row.
    let mut recv = spawn(
        &["recv", &many, "--create", "--follow"],
        Stdio::null(),
        Stdio::null(),
    );
    wait_for_ring(&many);
    let senders: Vec<Child> = (0..2)
        .map(|_| spawn(&["send", &many], Stdio::piped(), Stdio::null()))
        .collect();
    let socket = unique("tmux");
    let status = std::env::temp_dir().join(format!("{socket}.status"));
    let binary = assert_cmd::cargo::cargo_bin("shmring");
    let script = format!(
        "{} top --interval 0.2; echo $? > {}",
        binary.display(),
        status.display()
    );
    let started = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "40",
            "sh",
            "-c",
            &script,
        ],
    );
    assert!(started.is_some(), "tmux new-session failed");
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = tmux(&self.0, &["kill-server"]);
        }
    }
    let _kill = Kill(socket.clone());
    let deadline = Instant::now() + WATCHDOG;
    let screen = loop {
        let screen = tmux(&socket, &["capture-pane", "-p"]).unwrap_or_default();
        let row = screen.lines().find(|l| l.starts_with(&name));
        // A rate is shown once a second frame is drawn: MSG/S is a number, not `-`.
        if let Some(row) = row {
            let cells: Vec<&str> = row.split_whitespace().collect();
            if cells.len() > 7 && cells[6] != "-" && screen.contains(&many) {
                break screen;
            }
        }
        assert!(
            Instant::now() < deadline,
            "top never showed a rate:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    STOP.store(true, Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(screen.starts_with("shmring top"), "{screen}");
    assert!(
        screen.contains("NAME") && screen.contains("BYTES/S"),
        "{screen}"
    );
    let many_row = screen.lines().position(|l| l.starts_with(&many)).unwrap();
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[many_row].contains("2 senders, 1 receiver"),
        "{screen}"
    );
    for (i, child) in senders.iter().chain([&recv]).enumerate() {
        let pid = child.id().to_string();
        assert!(
            lines[many_row + 1..many_row + 4]
                .iter()
                .any(|l| l.starts_with("    ") && l.contains(&pid) && l.contains("alive")),
            "participant {i} (pid {pid}) has a line:\n{screen}"
        );
    }
    tmux(&socket, &["send-keys", "q"]).unwrap();
    let code = loop {
        if let Ok(code) = std::fs::read_to_string(&status) {
            break code;
        }
        assert!(Instant::now() < deadline, "q did not end top");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = std::fs::remove_file(&status);
    assert_eq!(code.trim(), "0");
    for mut sender in senders {
        drop(sender.stdin.take());
        assert_eq!(finish(sender).0, Some(0));
    }
    let _ = recv.kill();
    finish(recv);
}
