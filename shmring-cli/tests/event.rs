//! `shmring notify` and `shmring listen` from a shell: ids crossing processes (and from a
//! Rust notifier), the errors and exit codes (out of range 2, another kind 4, no event within
//! --timeout 12, a stop signal 128+N), and event segments in `ls`, `inspect` and `top`.

mod common;

use common::*;

/// Waits until the segment `name` has `n` listeners (as `inspect --json` shows them).
fn wait_for_listeners(name: &str, n: usize) {
    let until = Instant::now() + WATCHDOG;
    loop {
        let (_, out, _) = run(&["inspect", name, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if v["participants"].as_array().is_some_and(|p| p.len() == n) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{name} never had {n} listeners: {out}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ids_cross_from_notify_to_listen() {
    let name = unique("event");
    let _u = Unlink(name.clone());
    let (code, _, err) = run(&["notify", &name, "0", "--create", "--max-ids", "100"]);
    assert_eq!(code, Some(0), "{err}");
    let listener = spawn(
        &["listen", &name, "--count", "2", "--timeout", "30"],
        Stdio::null(),
        Stdio::piped(),
    );
    wait_for_listeners(&name, 1);
    let (code, _, err) = run(&["notify", &name, "42", "7", "42"]);
    assert_eq!(code, Some(0), "{err}");
    // A Rust notifier in this process: the same segment, the same ids.
    let n = shmring::event::Notifier::open(name.as_str()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    n.notify(99).unwrap();
    let (code, out, err) = finish(listener);
    assert_eq!(code, Some(0), "{err}");
    let ids: Vec<u32> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // Two wake-ups, ids ascending within each: the notify of 42, 7, 42 may be split across
    // them (42 then seen twice), and 99 comes in the second if the first held 7 and 42.
    assert!(ids.iter().all(|id| [7, 42, 99].contains(id)), "{ids:?}");
    assert!(ids.contains(&7) && ids.contains(&42), "{ids:?}");
}

#[test]
fn listen_json_prints_one_line_per_wake_up() {
    let name = unique("event-json");
    let _u = Unlink(name.clone());
    let listener = spawn(
        &[
            "listen",
            &name,
            "--create",
            "--count",
            "1",
            "--json",
            "--timeout",
            "30",
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    wait_for_ring(&name);
    wait_for_listeners(&name, 1);
    let (code, out, _) = run(&["notify", &name, "5", "3", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["notified"], serde_json::json!([5, 3]));
    assert_eq!(v["listeners"], 1);
    let (code, out, _) = finish(listener);
    assert_eq!(code, Some(0));
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let ids = line["ids"].as_array().unwrap();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| i == 3 || i == 5),
        "{line}"
    );
}

#[test]
fn errors_have_their_exit_codes() {
    let name = unique("event-errors");
    let _u = Unlink(name.clone());
    let (code, _, err) = run(&["notify", &name, "1"]);
    assert_eq!(code, Some(3), "no such segment: {err}");
    let (code, _, err) = run(&["notify", &name, "1", "8", "--create", "--max-ids", "8"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("event id 8 is out of range") && err.contains("0..8"),
        "{err}"
    );
    let (code, _, err) = run(&["notify", &name, "1", "--create", "--max-ids", "0"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = run(&["listen", &name, "--timeout", "0.2"]);
    assert_eq!(code, Some(12), "{err}");
    assert!(err.contains("no event"), "{err}");
    // A framed ring under another name is not an event segment.
    let ring = unique("event-not");
    let _r = Unlink(ring.clone());
    let (code, _, _) = run(&["send", &ring, "--create"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = run(&["notify", &ring, "1"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("event segments"), "{err}");
}

#[test]
fn a_stop_signal_ends_listen_with_128_plus_n() {
    let name = unique("event-stop");
    let _u = Unlink(name.clone());
    let listener = spawn(
        &["listen", &name, "--create"],
        Stdio::null(),
        Stdio::piped(),
    );
    wait_for_ring(&name);
    wait_for_listeners(&name, 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(listener.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, _, err) = finish(listener);
    assert_eq!(code, Some(128 + 15), "{err}");
}

#[test]
fn ls_inspect_and_top_show_event_segments_and_listeners() {
    let name = unique("event-view");
    let _u = Unlink(name.clone());
    let listener = spawn(
        &[
            "listen",
            &name,
            "--create",
            "--max-ids",
            "64",
            "--timeout",
            "30",
            "--count",
            "1",
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    wait_for_ring(&name);
    wait_for_listeners(&name, 1);
    let (code, out, _) = run(&["ls"]);
    assert_eq!(code, Some(0));
    let row = out.lines().find(|l| l.starts_with(&name)).unwrap();
    assert!(
        row.contains("event") && row.contains("events (ids, no data)"),
        "{row}"
    );
    assert!(row.contains("listener"), "{row}");
    let (_, out, _) = run(&["inspect", &name]);
    assert!(out.contains("event ids       0..64"), "{out}");
    assert!(out.contains("participant     listener pid"), "{out}");
    let (_, out, _) = run(&["inspect", &name, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "event");
    assert_eq!(v["participants"][0]["role"], "listener");
    let (_, out, _) = run(&["top", "--once"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&name) && l.contains("listener")),
        "{out}"
    );
    assert!(out.contains("    listener "), "a line per listener: {out}");
    let (code, _, _) = run(&["notify", &name, "1"]);
    assert_eq!(code, Some(0));
    let (code, out, _) = finish(listener);
    assert_eq!((code, String::from_utf8_lossy(&out).trim()), (Some(0), "1"));
}
