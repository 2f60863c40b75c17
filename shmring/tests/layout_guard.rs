//! The layout guard across real processes: a segment created with one payload type is opened
//! by another process with the same or a different type.

use shmring_test_support as common;

use common::{Unlink, child, report, result_line, run, unique_name};
use shmring::{RingKind, SegmentOptions, ShmType};

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Tick {
    ts_ns: u64,
    price: f64,
    qty: i32,
    side: u32,
}

/// `Tick` with two fields swapped: same size, same field set, different layout.
mod reordered {
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shmring::ShmType)]
    #[repr(C)]
    pub struct Tick {
        pub price: f64,
        pub ts_ns: u64,
        pub qty: i32,
        pub side: u32,
    }
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Frame {
    seq: u64,
    data: [u8; 16],
}

/// `Frame` with a longer array.
mod longer {
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shmring::ShmType)]
    #[repr(C)]
    pub struct Frame {
        pub seq: u64,
        pub data: [u8; 24],
    }
}

fn opts() -> SegmentOptions {
    SegmentOptions::new(RingKind::Raw).capacity(32)
}

/// Child dispatcher: does nothing unless this binary was re-executed in a role.
#[test]
fn child_entry() {
    let Some((role, name)) = common::child_role() else {
        return;
    };
    let opened = match role.as_str() {
        "tick" => opts().payload::<Tick>().open(name.as_str()),
        "reordered" => opts().payload::<reordered::Tick>().open(name.as_str()),
        "u8" => opts().payload::<u8>().open(name.as_str()),
        "i32" => opts().payload::<i32>().open(name.as_str()),
        "u32" => opts().payload::<u32>().open(name.as_str()),
        "frame" => opts().payload::<Frame>().open(name.as_str()),
        "longer" => opts().payload::<longer::Frame>().open(name.as_str()),
        other => panic!("unknown role {other}"),
    };
    report(opened);
}

/// Creates a segment of `T` here and opens it in a child playing `role`.
fn open_in_child<T: ShmType>(role: &str) -> String {
    let name = unique_name(role);
    let _unlink = Unlink(name.clone());
    let _seg = opts().payload::<T>().create(name.as_str()).expect("create");
    let out = run(child("child_entry", role, &name));
    result_line(&out)
}

fn assert_refused(result: &str, found: &str, expected: &str) {
    assert!(result.starts_with("err IncompatibleLayout: "), "{result}");
    let both = format!("holds {found}; this process expects {expected}");
    assert!(
        result.contains(&both),
        "message should contain {both:?}\n got: {result}"
    );
}

#[test]
fn same_type_is_accepted() {
    let result = open_in_child::<Tick>("tick");
    assert_eq!(
        result,
        "ok Tick { ts_ns: u64 @0, price: f64 @8, qty: i32 @16, side: u32 @20 } (size 24, align 8)"
    );
}

#[test]
fn u8_reader_of_i32_ring_is_refused() {
    let result = open_in_child::<i32>("u8");
    assert_refused(&result, "i32 (size 4, align 4)", "u8 (size 1, align 1)");
    assert!(
        result.contains(r#"ring "shmring-test-u8-"#),
        "names the ring: {result}"
    );
}

#[test]
fn i32_reader_of_u8_ring_is_refused() {
    let result = open_in_child::<u8>("i32");
    assert_refused(&result, "u8 (size 1, align 1)", "i32 (size 4, align 4)");
}

#[test]
fn u32_reader_of_i32_ring_is_refused() {
    let result = open_in_child::<i32>("u32");
    assert_refused(&result, "i32 (size 4, align 4)", "u32 (size 4, align 4)");
}

#[test]
fn reordered_fields_are_refused() {
    let result = open_in_child::<Tick>("reordered");
    assert_refused(
        &result,
        "Tick { ts_ns: u64 @0, price: f64 @8, qty: i32 @16, side: u32 @20 } (size 24, align 8)",
        "Tick { price: f64 @0, ts_ns: u64 @8, qty: i32 @16, side: u32 @20 } (size 24, align 8)",
    );
}

#[test]
fn changed_array_length_is_refused() {
    let result = open_in_child::<Frame>("longer");
    assert_refused(
        &result,
        "Frame { seq: u64 @0, data: [u8; 16] @8 } (size 24, align 8)",
        "Frame { seq: u64 @0, data: [u8; 24] @8 } (size 32, align 8)",
    );
}

#[test]
fn same_array_length_is_accepted() {
    let result = open_in_child::<Frame>("frame");
    assert_eq!(
        result,
        "ok Frame { seq: u64 @0, data: [u8; 16] @8 } (size 24, align 8)"
    );
}

/// The same struct compiled into a different binary (the `two_process` example defines its
/// own identical `Tick`) is accepted, and reads the slots this process wrote.
#[test]
fn same_struct_in_a_second_binary_is_accepted() {
    let example = example_binary("two_process");
    let name = unique_name("second-binary");
    let _unlink = Unlink(name.clone());
    let seg = SegmentOptions::new(RingKind::Raw)
        .payload::<Tick>()
        .capacity(8)
        .create(name.as_str())
        .expect("create");
    let slots = seg.area_ptr().as_ptr().cast::<Tick>();
    for i in 0..8 {
        let tick = Tick {
            ts_ns: 77 + i,
            price: 1.5,
            qty: -3,
            side: 1,
        };
        // SAFETY: the area holds 8 Tick slots and the child starts only after these writes.
        unsafe { slots.add(i as usize).write_volatile(tick) };
    }
    let mut cmd = std::process::Command::new(&example);
    cmd.args(["open", &name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("slot 7: Tick { ts_ns: 84, price: 1.5, qty: -3, side: 1 }"),
        "{stdout}"
    );

    let mut cmd = std::process::Command::new(&example);
    cmd.args(["open-as-u8", &name])
        .stdout(std::process::Stdio::piped());
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("this process expects u8 (size 1, align 1)"),
        "{stdout}"
    );
}

/// The example binary built beside this test binary (`cargo test` builds examples); built on
/// demand when only this test target was compiled.
fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let mut build = std::process::Command::new(env!("CARGO"));
        build.args(["build", "-p", "shmring", "--example", name]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    assert!(path.exists(), "example binary {} not found", path.display());
    path
}
