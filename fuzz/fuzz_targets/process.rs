//! `cargo +nightly fuzz run process`: see fuzz/harness.rs.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static BUNDLE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let bundle = BUNDLE.get_or_init(|| {
        let b = std::env::temp_dir().join("nook-fuzz-bundle");
        std::fs::create_dir_all(b.join("rootfs")).expect("fuzz bundle");
        b
    });
    let r = harness::check(harness::Kind::Process, data, bundle);
    if let Err(why) = harness::one_line(&r) {
        panic!("{why}");
    }
});
