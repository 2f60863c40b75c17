//! Compiles `tests/c/peer.c` with the system `cc` (and `tests/c/cxx.cpp`, the C++ layer's
//! test, with `c++`) against shmring-ffi's static library (built first, in the caller's profile
//! and target directory): shared by the C tests and the C round-trip benchmark
//! (`examples/c_round_trip.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiled C peer (`tests/c/peer.c`, C11), built once per process.
pub fn c_peer() -> &'static Path {
    static PEER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PEER.get_or_init(|| compile("CC", "cc", "-std=c11", "peer.c", "shmring-c-peer"))
}

/// The compiled C++ peer (`tests/c/cxx.cpp` on `include/shmring.hpp`, C++17), built once per
/// process.
#[allow(dead_code)] // the C round-trip example uses only the C peer
pub fn cxx_peer() -> &'static Path {
    static PEER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PEER.get_or_init(|| compile("CXX", "c++", "-std=c++17", "cxx.cpp", "shmring-cxx-peer"))
}

/// The static library (built once per process).
fn static_library() -> &'static Path {
    static LIB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
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
        lib
    })
}

/// Compiles `tests/c/SOURCE` with the compiler `$ENV_VAR` (else `default`) in `std` mode, warnings
/// as errors, against the static library and `include/`, into the profile directory as `out`.
fn compile(env_var: &str, default: &str, std: &str, source: &str, out: &str) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = static_library();
    let out = lib.parent().unwrap().join(out);
    let compiler = std::env::var(env_var).unwrap_or_else(|_| default.into());
    let status = Command::new(&compiler)
        .args([std, "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
        .arg(crate_dir.join("../include"))
        .arg(crate_dir.join("tests/c").join(source))
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(status.success(), "{compiler} {source} failed: {status}");
    out
}
