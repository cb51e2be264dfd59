//! `nook update ID`: change a running container's limits, from runc's flags
//! or from a LinuxResources JSON (`--resources FILE`, `-` for stdin).

use super::Cli;
use anyhow::bail;
use clap::Args;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// LinuxResources JSON to apply ("-" reads stdin); excludes the other flags
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Block IO weight, 10 to 1000
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in µs
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in µs per period (-1: unlimited)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight, converted to cpu.weight)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// Realtime period: refused, cgroup v2 has no realtime scheduling limits
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime: refused, cgroup v2 has no realtime scheduling limits
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (e.g. 0-3,7)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed (e.g. 0-1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a unit: 512m, 1g; -1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit (memory.low)
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of processes (-1: unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

pub fn update(cli: &Cli, a: &UpdateArgs) -> anyhow::Result<i32> {
    let r = resources(a)?;
    crate::container::update(&cli.root, &a.id, &r)?;
    Ok(0)
}

/// The resources to apply, from --resources or from the flags.
fn resources(a: &UpdateArgs) -> anyhow::Result<LinuxResources> {
    let flags = from_flags(a)?;
    match (&a.resources, flags) {
        (Some(_), Some(_)) => bail!("--resources cannot be combined with other limit flags"),
        (None, None) => bail!("nothing to update: give --resources FILE or a limit flag (see nook update --help)"),
        (None, Some(v)) => {
            crate::spec::parse_json(&serde_json::to_vec(&v)?).map_err(|(field, msg)| anyhow::anyhow!("{field}: {msg}"))
        }
        (Some(f), None) if f == "-" => {
            let max = crate::spec::MAX_CONFIG_BYTES;
            let mut data = Vec::new();
            std::io::stdin()
                .take(max + 1)
                .read_to_end(&mut data)
                .map_err(|e| anyhow::anyhow!("--resources -: reading stdin: {e}"))?;
            if data.len() as u64 > max {
                bail!("--resources -: more than {max} bytes");
            }
            crate::spec::parse_doc(&data, crate::spec::Doc::Resources)
                .map_err(|(field, msg)| anyhow::anyhow!("--resources (stdin): {field}: {msg}"))
        }
        (Some(f), None) => {
            crate::spec::read_doc(Path::new(f), crate::spec::MAX_CONFIG_BYTES, crate::spec::Doc::Resources)
                .map_err(|e| anyhow::anyhow!("--resources: {e}"))
        }
    }
}

/// The flags as LinuxResources JSON; None if no limit flag was given.
/// Zero means "not set", as in runc.
fn from_flags(a: &UpdateArgs) -> anyhow::Result<Option<Value>> {
    let mut r = json!({});
    let mut any = false;
    let mut set = |path: [&str; 2], v: Value| {
        r[path[0]][path[1]] = v;
        any = true;
    };
    if let Some(w) = a.blkio_weight.filter(|w| *w != 0) {
        set(["blockIO", "weight"], w.into());
    }
    if a.cpu_rt_period.is_some_and(|v| v != 0) || a.cpu_rt_runtime.is_some_and(|v| v != 0) {
        bail!("--cpu-rt-period/--cpu-rt-runtime: realtime scheduling limits do not exist on cgroup v2");
    }
    if let Some(v) = a.cpu_period.filter(|v| *v != 0) {
        set(["cpu", "period"], v.into());
    }
    if let Some(v) = a.cpu_quota.filter(|v| *v != 0) {
        set(["cpu", "quota"], v.into());
    }
    if let Some(v) = a.cpu_shares.filter(|v| *v != 0) {
        set(["cpu", "shares"], v.into());
    }
    if let Some(v) = a.cpuset_cpus.as_deref().filter(|v| !v.is_empty()) {
        set(["cpu", "cpus"], v.into());
    }
    if let Some(v) = a.cpuset_mems.as_deref().filter(|v| !v.is_empty()) {
        set(["cpu", "mems"], v.into());
    }
    for (flag, key, val) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
    ] {
        if let Some(v) = val.as_deref().filter(|v| !v.is_empty()) {
            set(["memory", key], ram_in_bytes(v).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?.into());
        }
    }
    if let Some(v) = a.pids_limit.filter(|v| *v != 0) {
        set(["pids", "limit"], v.into());
    }
    Ok(any.then_some(r))
}

/// A size as runc takes it (docker's `RAMInBytes`: binary units, "512m",
/// "1.5g", "100KiB"), or -1 for unlimited.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    let bad = || format!("invalid size {s:?} (bytes, or e.g. 512m, 1g; -1 for unlimited)");
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let num: f64 = s[..end].parse().map_err(|_| bad())?;
    if s[..end].starts_with('.') || s[..end].ends_with('.') {
        return Err(bad());
    }
    let unit = s[end..].trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').filter(|u| !u.is_empty()).unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = num * (1u64 << shift) as f64;
    if bytes >= i64::MAX as f64 {
        return Err(format!("size {s:?} is too large"));
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_runc() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert_eq!(ram_in_bytes("100KiB").unwrap(), 102400);
        assert_eq!(ram_in_bytes("2 MB").unwrap(), 2 << 20);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        for bad in ["", "abc", "-2", "1x", "m", "1.", "99999999999p"] {
            assert!(ram_in_bytes(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn flags_become_resources() {
        let a = UpdateArgs {
            memory: Some("64m".into()),
            cpu_quota: Some(50000),
            cpu_shares: Some(512),
            pids_limit: Some(10),
            ..Default::default()
        };
        let r = resources(&a).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(50000));
        assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(512));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
        assert!(resources(&UpdateArgs::default()).is_err());
        let rt = UpdateArgs { cpu_rt_runtime: Some(100), ..Default::default() };
        assert!(resources(&rt).unwrap_err().to_string().contains("--cpu-rt-runtime"));
    }
}
