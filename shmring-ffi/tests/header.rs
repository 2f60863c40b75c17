//! `include/shmring.h` is generated from this crate by cbindgen: this test regenerates it and
//! fails when the checked-in copy differs (run with `SHMRING_BLESS=1` to rewrite it).

use std::path::Path;

#[test]
fn the_checked_in_header_is_the_generated_one() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = crate_dir.join("../include/shmring.h");
    if std::env::var_os("SHMRING_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/shmring.h differs from what cbindgen generates from shmring-ffi; \
         regenerate it with SHMRING_BLESS=1 cargo test -p shmring-ffi --test header"
    );
}
