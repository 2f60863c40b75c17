//! `shmring bench`, `completions` and `--help` end to end.

mod common;

use common::*;

/// A tiny `bench` run end to end: peers spawned, rows measured, JSON with ratios to the
/// floor; bad options are command-line errors.
#[test]
fn bench_runs_selected_rows() {
    let plot = std::env::temp_dir().join(format!("shmring-bench-{}.svg", std::process::id()));
    let (code, out, err) = run(&[
        "--json",
        "bench",
        "--plot",
        plot.to_str().unwrap(),
        "--rows",
        "spsc-spin,ipc-uds,ipc-shm,mq",
        "--sizes",
        "8,64",
        "--round-trips",
        "20000",
        "--secs",
        "0.05",
        "--reps",
        "2",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["row"].as_str()).collect();
    for want in [
        "floor (spinning cache line)",
        "shmring spsc (spin)",
        "shmring-ipc uds:",
        "shmring-ipc shm:",
        "raw POSIX mq",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("mpmc")), "{names:?}");
    for r in rows {
        assert!(
            ["8 B", "64 B"].contains(&r["size"].as_str().unwrap()),
            "{r}"
        );
        let measured = r["rtt_us"]["p50"]
            .as_f64()
            .or(r["throughput"]["msgs_per_s"].as_f64());
        assert!(measured.is_some_and(|m| m > 0.0), "{r}");
    }
    // Every row is paired with its floor: the ratio is the median of two pairs, inside their
    // spread.
    let spsc = rows
        .iter()
        .find(|r| r["row"] == "shmring spsc (spin)" && r["size"] == "8 B")
        .unwrap();
    let pairs = &spsc["pairs"];
    assert_eq!(pairs["count"], 2, "{spsc}");
    let ratio = spsc["rtt_us"]["ratio_to_floor"].as_f64().unwrap();
    let (low, high) = (
        pairs["ratio_low"].as_f64().unwrap(),
        pairs["ratio_high"].as_f64().unwrap(),
    );
    assert!(low <= ratio && ratio <= high && low > 0.0, "{spsc}");
    assert!(pairs["mode_changed"].is_boolean(), "{spsc}");
    // Per machine mode: the pairs split between the fast and the slow mode (by the floor's
    // speed), the headline being the fast mode's median when any pair ran in it.
    let count = |mode: &str| pairs[mode]["count"].as_u64().unwrap_or(0);
    assert_eq!(count("fast_mode") + count("slow_mode"), 2, "{spsc}");
    let headline = if count("fast_mode") > 0 {
        "fast_mode"
    } else {
        "slow_mode"
    };
    assert_eq!(pairs[headline]["median"].as_f64(), Some(ratio), "{spsc}");
    let floor = rows
        .iter()
        .find(|r| r["row"] == "floor (spinning cache line)" && r["size"] == "8 B")
        .unwrap();
    assert!(floor["pairs"].is_null(), "{floor}");
    // The picture: an SVG naming the rows it draws.
    let svg = std::fs::read_to_string(&plot).unwrap();
    std::fs::remove_file(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.contains("<svg "),
        "{}",
        &svg[..100]
    );
    for want in [
        "shmring spsc (spin) 8 B",
        "round trip: latency by percentile",
    ] {
        assert!(svg.contains(want), "{want} missing from the plot");
    }
    assert_eq!(floor["rtt_us"]["ratio_to_floor"].as_f64(), Some(1.0));

    for bad in [
        &["bench", "--rows", "nonsense"][..],
        &["bench", "--cores", "0,0"],
        &["bench", "--secs", "-1"],
    ] {
        let (code, _, err) = run(bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
    }
}

/// A benchmark row that cannot run (here: no POSIX queues allowed) ends the run with one
/// line naming the cause and exit 1 — not a panic's backtrace.
#[test]
fn a_failing_bench_row_is_one_line() {
    use std::os::unix::process::CommandExt;
    let mut cmd = shmring();
    cmd.args(["bench", "--rows", "mq", "--sizes", "8", "--secs", "0.05"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_MSGQUEUE, 0, 0)
                .map_err(std::io::Error::from)
        });
    }
    let (code, _, err) = finish(cmd.spawn().unwrap());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("a benchmark row failed: mq_open"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `shmring completions bash|zsh|fish` print a script that names every subcommand (the bash
/// one is valid bash).
#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {err}");
        for sub in ["bench", "inspect", "gc", "send", "recv", "completions"] {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
        if shell == "bash" {
            let mut check = Command::new("bash")
                .args(["-n"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            check
                .stdin
                .take()
                .unwrap()
                .write_all(out.as_bytes())
                .unwrap();
            assert!(
                check.wait().unwrap().success(),
                "bash -n refused the script"
            );
        }
    }
    let (code, _, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2));
}

/// Every subcommand's `--help` ends with examples; `--mode` sets a created ring's permissions
/// exactly (an invalid mode is a usage error).
#[test]
fn help_has_examples_and_create_takes_a_mode() {
    for sub in [
        "bench",
        "ls",
        "inspect",
        "rm",
        "gc",
        "send",
        "recv",
        "completions",
    ] {
        let (code, out, _) = run(&[sub, "--help"]);
        assert_eq!(code, Some(0), "{sub}");
        let examples = out
            .rfind("Examples:")
            .unwrap_or_else(|| panic!("{sub}: {out}"));
        assert!(
            out[examples..].contains(&format!("shmring {sub}"))
                || out[examples..].contains("| shmring"),
            "{sub}: {out}"
        );
    }
    let name = unique("mode");
    let _unlink = Unlink(name.clone());
    let (code, _, err) = run(&["send", &name, "--create", "--mode", "640"]);
    assert_eq!(code, Some(0), "{err}");
    let mode = std::fs::metadata(std::path::Path::new("/dev/shm").join(&name))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o640
    );
    let (code, _, err) = run(&["send", &name, "--create", "--mode", "999"]);
    assert_eq!(code, Some(2), "{err}");
}

/// With the `peers` feature, `bench --rows peers` runs iceoryx2's publish-subscribe across
/// processes next to the floor: a round trip and the one- and two-subscriber throughput, each
/// measured (every round trip's value and every received message checked by the row itself).
#[cfg(feature = "peers")]
#[test]
fn bench_runs_the_iceoryx2_rows() {
    let (code, out, err) = run(&[
        "--json",
        "bench",
        "--rows",
        "peers",
        "--sizes",
        "8",
        "--round-trips",
        "2000",
        "--secs",
        "0.05",
        "--reps",
        "1",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    for want in [
        "iceoryx2 publish-subscribe (busy-poll)",
        "iceoryx2 publish-subscribe (busy-poll, lossy, 1 subscriber)",
        "iceoryx2 publish-subscribe (busy-poll, lossy, 2 subscribers, per subscriber)",
    ] {
        let row = rows
            .iter()
            .find(|r| r["row"] == want)
            .unwrap_or_else(|| panic!("{want} missing from {rows:?}"));
        let measured = row["rtt_us"]["p50"]
            .as_f64()
            .or(row["throughput"]["msgs_per_s"].as_f64());
        assert!(measured.is_some_and(|m| m > 0.0), "{row}");
    }
}
