//! Compiles `tests/c/peer.c` with the system `cc` against shmring-ffi's static library (built
//! first, in the caller's profile and target directory): shared by the C tests and the C
//! round-trip benchmark (`examples/c_round_trip.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiled C peer, built once per process.
pub fn c_peer() -> &'static Path {
    static PEER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PEER.get_or_init(|| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        // target/<profile>/deps/NAME (tests) or target/<profile>/examples/NAME → target/<profile>.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        // `cargo test` and `cargo run --example` build the library only as an rlib: build the
        // static library the C side links (same profile and target directory, so it is quick).
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args([
                "build",
                "--locked",
                "--lib",
                "-p",
                "shmring-ffi",
                "--target-dir",
            ])
            .arg(profile_dir.parent().unwrap());
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(
            status.success(),
            "cargo build of the static library: {status}"
        );
        let lib = profile_dir.join("libshmring_ffi.a");
        assert!(lib.exists(), "{} missing", lib.display());
        let out = profile_dir.join("shmring-c-peer");
        let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
            .arg(crate_dir.join("../include"))
            .arg(crate_dir.join("tests/c/peer.c"))
            .arg(&lib)
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&out)
            .status()
            .expect("run cc");
        assert!(status.success(), "cc failed: {status}");
        out
    })
}
