//! The regression corpus: every profile on which nook and libseccomp
//! once disagreed (`corpus/*.json`: `{"native": "SCMP_ARCH_…", "profile":
//! {linux.seccomp}}`), compared again.

use super::differential::compare;
use super::random::Rng;
use crate::seccomp::arch::Abi;
use oci_spec::runtime::{Arch, LinuxSeccomp};

#[derive(serde::Deserialize)]
struct Case {
    native: Arch,
    profile: LinuxSeccomp,
}

#[test]
fn regression_corpus_matches_libseccomp() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/seccomp/tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let case: Case = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let native = Abi::from_oci(case.native, Abi::X86_64).unwrap();
        eprintln!("{}", path.display());
        compare(&case.profile, native, &mut Rng(3), 64);
        n += 1;
    }
    assert!(n > 0, "empty corpus");
}
