//! `update`: change a live container's cgroup limits, as `runc update`
//! does. nook keeps no copy of the resources, so the cgroup files are the
//! record: a value given alone where runc would combine it with the old
//! config (cpu quota or period; memory+swap without memory) is completed
//! from them. Everything is validated before anything is written, and if
//! the kernel refuses a write, the files already written are put back.
//! With the systemd driver the new limits are first set as the unit's
//! properties (not put back if a write then fails; runc does the same).

use super::{load, pause::cgroup_of, ContainerError, Result};
use crate::state::Status;
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let c = load(root, id)?;
    if matches!(c.status, Status::Stopped | Status::Creating) {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not running" });
    }
    let cg = cgroup_of(&c)?;
    let dir = cg.path();
    let resources = complete(dir, resources.clone());
    crate::cgroups::Cgroup::validate(&resources)?;
    let saved = snapshot(dir, &resources);
    enable_controllers(dir, &controllers(&resources));
    let update = || {
        if let Some(unit) = &c.state.systemd_unit {
            // As runc: checked, then the unit's properties, then the files.
            cg.check_update(&resources)?;
            super::cgroup::update_unit(unit, &resources)?;
        }
        cg.update(&resources)
    };
    // Controllers enabled above stay enabled on failure, as after a failed
    // create: a sibling may already use them.
    update().inspect_err(|_| restore(dir, &saved))?;
    Ok(())
}

/// The controllers an update of `r` needs (those with a value to write).
fn controllers(r: &LinuxResources) -> Vec<String> {
    let mut out = Vec::new();
    let mut need = |c: &str, yes: bool| {
        if yes && !out.iter().any(|o| o == c) {
            out.push(c.to_owned())
        }
    };
    if let Some(m) = r.memory() {
        need("memory", [m.limit(), m.reservation(), m.swap()].iter().any(|v| v.unwrap_or(0) != 0));
    }
    if let Some(c) = r.cpu() {
        let nz = |v: Option<i64>| v.unwrap_or(0) != 0;
        need(
            "cpu",
            c.shares().unwrap_or(0) != 0
                || nz(c.quota())
                || c.period().unwrap_or(0) != 0
                || c.idle().is_some()
                || c.burst().is_some(),
        );
        need(
            "cpuset",
            c.cpus().as_deref().is_some_and(|v| !v.is_empty()) || c.mems().as_deref().is_some_and(|v| !v.is_empty()),
        );
    }
    need("pids", r.pids().is_some_and(|p| p.limit() != 0));
    need("io", r.block_io().is_some());
    need("hugetlb", r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()));
    need("rdma", r.rdma().as_ref().is_some_and(|h| !h.is_empty()));
    for k in r.unified().iter().flatten().map(|(k, _)| k) {
        if let Some((c, _)) = k.split_once('.').filter(|(c, _)| *c != "cgroup") {
            need(c, true);
        }
    }
    out
}

/// runc's cgroupfs driver enables every controller for a container's
/// cgroup; nook enables those its limits need at create. So that a limit
/// added by an update applies, enable its controller in the ancestors
/// where it is available but off (as create would have). A controller
/// available nowhere is left for `Cgroup::update` to report.
fn enable_controllers(dir: &Path, wanted: &[String]) {
    let have = |d: &Path, c: &str| read(d, "cgroup.controllers").is_some_and(|s| s.split_whitespace().any(|w| w == c));
    for c in wanted {
        if have(dir, c) {
            continue;
        }
        // Ancestors up to the first one that has the controller.
        let mut chain = Vec::new();
        let mut d = dir.parent();
        while let Some(p) = d.filter(|p| p.join("cgroup.controllers").exists()) {
            chain.push(p.to_path_buf());
            if have(p, c) {
                break;
            }
            d = p.parent();
        }
        if !chain.last().is_some_and(|top| have(top, c)) {
            continue;
        }
        for p in chain.iter().rev() {
            let on = read(p, "cgroup.subtree_control").is_some_and(|s| s.split_whitespace().any(|w| w == c));
            if !on && write(p, "cgroup.subtree_control", &format!("+{c}")).is_err() {
                break;
            }
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new().write(true).open(dir.join(file))?.write_all(value.as_bytes())
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim_end().to_owned())
}

/// Fills in what runc would take from the container's old config.
fn complete(dir: &Path, mut r: LinuxResources) -> LinuxResources {
    if let Some(mut cpu) = r.cpu().clone() {
        let (quota, period) = (cpu.quota().unwrap_or(0), cpu.period().unwrap_or(0));
        if (quota == 0) != (period == 0) {
            // runc: one of quota and period alone keeps the other's old value.
            if let Some(cur) = read(dir, "cpu.max") {
                let mut f = cur.split_whitespace();
                let old_q = match f.next() {
                    Some("max") => Some(-1),
                    q => q.and_then(|q| q.parse().ok()),
                };
                let old_p = f.next().and_then(|p| p.parse().ok());
                if quota == 0 {
                    cpu.set_quota(old_q);
                } else {
                    cpu.set_period(old_p);
                }
            }
            r.set_cpu(Some(cpu));
        }
    }
    if let Some(mut m) = *r.memory() {
        if m.swap().unwrap_or(0) > 0 && m.limit().unwrap_or(0) == 0 {
            // memory+swap needs the memory limit it adds to: the current one.
            let old = read(dir, "memory.max").and_then(|v| if v == "max" { Some(-1) } else { v.parse().ok() });
            m.set_limit(old);
            r.set_memory(Some(m));
        }
    }
    r
}

/// The files an update of `r` may write, with their current content.
fn snapshot(dir: &Path, r: &LinuxResources) -> Vec<(String, String)> {
    let mut files: Vec<String> = [
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "cpu.weight",
        "cpu.idle",
        "cpu.max",
        "cpu.max.burst",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "io.bfq.weight",
        "io.weight",
    ]
    .map(String::from)
    .into();
    for h in r.hugepage_limits().iter().flatten() {
        files.push(format!("hugetlb.{}.max", h.page_size()));
        files.push(format!("hugetlb.{}.rsvd.max", h.page_size()));
    }
    files.extend(r.unified().iter().flatten().map(|(k, _)| k.clone()).filter(|k| !k.contains('/')));
    files.into_iter().filter_map(|f| Some((f.clone(), read(dir, &f)?))).collect()
}

/// Writes back every saved file whose content changed (best effort).
fn restore(dir: &Path, saved: &[(String, String)]) {
    for (file, old) in saved {
        if read(dir, file).as_deref() != Some(old) {
            let value = match file.as_str() {
                // Keyed files read "default N": write the default back.
                "io.weight" | "io.bfq.weight" => old.lines().next().unwrap_or_default().to_owned(),
                _ => old.clone(),
            };
            let _ = write(dir, file, &value);
        }
    }
}
