//! What nook does with each JSON file it reads, as a function of its bytes:
//! shared by the cargo-fuzz targets (fuzz/fuzz_targets) and the
//! deterministic property test (tests/fuzz_inputs.rs).
//!
//! Each input must be accepted or refused with one line; a panic, a hang
//! or a multi-line error is a bug.
#![allow(dead_code)]

use oci_spec::runtime::{LinuxResources, Process};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// config.json: parsed, validated, and everything `create` checks
    /// before it makes anything (namespaces, seccomp, devices, limits).
    Config,
    /// `nook exec --process`.
    Process,
    /// `nook update --resources`.
    Resources,
    /// `<root>/<id>/state.json`.
    State,
}

pub const KINDS: [Kind; 4] = [Kind::Config, Kind::Process, Kind::Resources, Kind::State];

fn parse<T: serde::de::DeserializeOwned>(data: &[u8]) -> Result<T, String> {
    nook::spec::parse_json::<T>(data).map_err(|(field, msg)| format!("{field}: {msg}"))
}

/// Runs nook's checks of one input. `bundle` is a directory with a
/// `rootfs` in it (for config.json's root.path).
pub fn check(kind: Kind, data: &[u8], bundle: &Path) -> Result<(), String> {
    match kind {
        Kind::Config => {
            let spec: nook::spec::Spec = parse(data)?;
            nook::spec::validate(&spec, bundle).map_err(|e| e.to_string())?;
            let Some(linux) = spec.linux() else { return Ok(()) };
            nook::namespaces::Namespaces::from_spec(linux.namespaces().as_deref().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            if let Some(s) = linux.seccomp() {
                nook::seccomp::compile(s).map_err(|e| e.to_string())?;
            }
            let empty = LinuxResources::default();
            let resources = linux.resources().as_ref().unwrap_or(&empty);
            nook::cgroups::container_rules(
                resources.devices().as_deref().unwrap_or_default(),
                linux.devices().as_deref().unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
            nook::cgroups::check_resources(resources).map_err(|e| e.to_string())?;
            let path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy().into_owned());
            nook::cgroups::resolve(Path::new("/sys/fs/cgroup"), "/", path.as_deref(), "fuzz")
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        Kind::Process => parse::<Process>(data).map(|_| ()),
        Kind::Resources => {
            let r: LinuxResources = parse(data)?;
            nook::cgroups::check_resources(&r).map_err(|e| e.to_string())
        }
        Kind::State => parse::<nook::state::State>(data).map(|_| ()),
    }
}

/// The property: `check` returns, and an error is one non-empty line as
/// nook prints it (control characters quoted from the input escaped).
pub fn one_line(r: &Result<(), String>) -> Result<(), String> {
    let printed = r.as_ref().map_err(|e| nook::logger::one_line(e).into_owned());
    match &printed {
        Err(e) if e.trim().is_empty() => Err("empty error message".into()),
        Err(e) if e.contains('\n') => Err(format!("multi-line error: {e:?}")),
        _ => Ok(()),
    }
}

/// One fuzz input of `kind`, as every cargo-fuzz target runs it: checked
/// against a scratch bundle, and a panic if the outcome is not a clean
/// acceptance or a one-line error.
#[allow(dead_code)] // used by the cargo-fuzz targets, not by tests/fuzz_inputs.rs
pub fn fuzz_one(kind: Kind, data: &[u8]) {
    static BUNDLE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let bundle = BUNDLE.get_or_init(|| {
        let b = std::env::temp_dir().join("nook-fuzz-bundle");
        std::fs::create_dir_all(b.join("rootfs")).expect("fuzz bundle");
        b
    });
    let r = check(kind, data, bundle);
    if let Err(why) = one_line(&r) {
        panic!("{why}");
    }
}
