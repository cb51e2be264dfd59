//! `update`: change a live container's cgroup limits, as `runc update`
//! does. nook keeps no copy of the resources, so the cgroup files are the
//! record: a value given alone where runc would combine it with the old
//! config (cpu quota or period; memory+swap without memory) is completed
//! from them. Everything is validated before anything is written, and if
//! the kernel refuses a write, the files already written are put back.

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
    let saved = snapshot(dir, &resources);
    cg.update(&resources).inspect_err(|_| restore(dir, &saved))?;
    Ok(())
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
            let _ = std::fs::OpenOptions::new().write(true).open(dir.join(file)).and_then(|mut f| {
                use std::io::Write;
                f.write_all(value.as_bytes())
            });
        }
    }
}
