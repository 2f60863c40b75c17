//! Creators that stall or die before publishing the header, and creators that race.

use shmring_test_support as common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Unlink, child, result_line, run, unique_name, wait_for_line, wait_with_watchdog};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shmring::{OpenError, RingKind, SegmentOptions};

fn opts() -> SegmentOptions {
    SegmentOptions::new(RingKind::Raw)
        .payload::<u32>()
        .capacity(1024)
}

/// Runs in the child: announces that the header is written but unpublished, then hangs.
fn stall_before_ready() {
    println!("STALLED {}", std::process::id());
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    common::run_child(|role, name| match role {
        "stalling-creator" => {
            let _ = opts()
                .before_ready_hook(stall_before_ready)
                .create(name.as_str());
            unreachable!("the hook never returns");
        }
        "racer" => {
            let seg = opts()
                .open_or_create(name.as_str())
                .expect("open_or_create");
            println!(
                "RESULT {} {}",
                seg.info().owner.pid,
                seg.info().created_unix_ns
            );
        }
        other => panic!("unknown role {other}"),
    });
}

/// Starts a creator that stops right before publishing `ready`; returns it once it has.
fn stalled_creator(name: &str) -> std::process::Child {
    let mut creator = child("child_entry", "stalling-creator", name)
        .spawn()
        .expect("spawn");
    wait_for_line(&mut creator, "STALLED");
    creator
}

#[test]
fn creator_killed_before_ready_gives_init_timeout() {
    let name = unique_name("killed-creator");
    let _g = Unlink(name.clone());
    let creator = stalled_creator(&name);
    let pid = creator.id();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    wait_with_watchdog(creator);

    let err = opts()
        .init_timeout(Duration::from_secs(30))
        .open(name.as_str())
        .unwrap_err();
    match &err {
        OpenError::InitTimeout {
            creator,
            creator_alive,
            ..
        } => {
            assert_eq!(*creator, Some(pid));
            assert_eq!(*creator_alive, Some(false));
        }
        other => panic!("expected InitTimeout, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("its creator, pid {pid}, has died")),
        "{err}"
    );
}

#[test]
fn stalled_creator_gives_init_timeout_after_the_configured_bound() {
    let name = unique_name("stalled-creator");
    let _g = Unlink(name.clone());
    let creator = stalled_creator(&name);
    let pid = creator.id();

    let bound = Duration::from_millis(300);
    let started = Instant::now();
    let result = opts().init_timeout(bound).open(name.as_str());
    let waited = started.elapsed();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    wait_with_watchdog(creator);

    match result {
        Err(OpenError::InitTimeout {
            creator,
            creator_alive,
            waited: reported,
            ..
        }) => {
            assert_eq!(creator, Some(pid));
            assert_eq!(creator_alive, Some(true));
            assert_eq!(reported, bound);
        }
        other => panic!("expected InitTimeout, got {other:?}"),
    }
    assert!(
        waited >= bound,
        "gave up after {waited:?}, before the {bound:?} bound"
    );
}

#[test]
fn racing_open_or_create_creates_exactly_once() {
    let name = unique_name("race");
    let _g = Unlink(name.clone());
    let racers: Vec<_> = (0..4)
        .map(|_| child("child_entry", "racer", &name).spawn().expect("spawn"))
        .collect();
    let results: Vec<String> = racers
        .into_iter()
        .map(|c| result_line(&wait_with_watchdog(c)))
        .collect();
    assert!(
        results.iter().all(|r| r == &results[0]),
        "racers saw different segments: {results:?}"
    );
    let creator: u32 = results[0].split(' ').next().unwrap().parse().unwrap();
    assert_ne!(creator, std::process::id());
    // The segment is usable afterwards by a fresh opener.
    let again = run(child("child_entry", "racer", &name));
    assert_eq!(result_line(&again), results[0]);
}
