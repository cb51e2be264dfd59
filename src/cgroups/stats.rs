//! Statistics in the shape of runc's `types.Stats` (what `runc events
//! --stats` prints as "data"), read from whatever cgroup v2 files exist.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::read_opt;

/// runc `types.Stats`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

/// runc `types.IntelRdt` (always empty here).
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct IntelRdt {}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Nanoseconds.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// runc `types.CPUSet`; the v1-only knobs stay zero on v2, as in runc.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Counts from memory.events.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct MemoryEventCount {
    pub low: u64,
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
    #[serde(rename = "event_count")]
    pub event_count: MemoryEventCount,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct PsiData {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct PsiStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub some: Option<PsiData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full: Option<PsiData>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A cgroup value: a number, or "max" as u64::MAX.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    match s.trim() {
        "max" => Some(u64::MAX),
        t => t.parse().ok(),
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events).
pub(crate) fn parse_flat_keyed(content: &str) -> BTreeMap<String, u64> {
    content
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse_u64(v)?))
        })
        .collect()
}

pub(crate) fn parse_psi(content: &str) -> PsiStats {
    let mut out = PsiStats::default();
    for line in content.lines() {
        let mut it = line.split_whitespace();
        let kind = it.next();
        let mut d = PsiData::default();
        for kv in it {
            match kv.split_once('=') {
                Some(("avg10", v)) => d.avg10 = v.parse().unwrap_or(0.0),
                Some(("avg60", v)) => d.avg60 = v.parse().unwrap_or(0.0),
                Some(("avg300", v)) => d.avg300 = v.parse().unwrap_or(0.0),
                Some(("total", v)) => d.total = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        match kind {
            Some("some") => out.some = Some(d),
            Some("full") => out.full = Some(d),
            _ => {}
        }
    }
    out
}

/// io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
pub(crate) fn parse_io_stat(content: &str) -> Blkio {
    let mut b = Blkio::default();
    for line in content.lines() {
        let mut it = line.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (table, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry { major, minor, op: op.into(), value });
        }
    }
    b
}

/// "0-3,7" → [0, 1, 2, 3, 7].
pub(crate) fn parse_list(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            out.extend(a..=b);
        }
    }
    out
}

/// Counts from `dir/memory.events` (zero when it does not exist).
pub(crate) fn memory_events(dir: &Path) -> MemoryEventCount {
    let ev = read_opt(dir, "memory.events").map(|s| parse_flat_keyed(&s)).unwrap_or_default();
    let e = |k: &str| ev.get(k).copied().unwrap_or(0);
    MemoryEventCount { low: e("low"), high: e("high"), max: e("max"), oom: e("oom"), oom_kill: e("oom_kill") }
}

/// Read everything that exists under `dir`. `pid_count` is used for
/// pids.current when the pids controller is not enabled.
pub(crate) fn read(dir: &Path, pid_count: impl FnOnce() -> u64, hugepage_sizes: &[String]) -> Stats {
    let num = |f: &str| read_opt(dir, f).and_then(|s| parse_u64(&s));
    let keyed = |f: &str| read_opt(dir, f).map(|s| parse_flat_keyed(&s)).unwrap_or_default();
    let psi = |f: &str| read_opt(dir, f).map(|s| parse_psi(&s));
    let mut st = Stats::default();

    let cpu = keyed("cpu.stat");
    let c = |k: &str| cpu.get(k).copied().unwrap_or(0);
    st.cpu.usage =
        CpuUsage { total: c("usage_usec") * 1000, kernel: c("system_usec") * 1000, user: c("user_usec") * 1000 };
    st.cpu.throttling = Throttling {
        periods: c("nr_periods"),
        throttled_periods: c("nr_throttled"),
        throttled_time: c("throttled_usec") * 1000,
    };
    st.cpu.psi = psi("cpu.pressure");

    st.cpuset.cpus = read_opt(dir, "cpuset.cpus.effective").map(|s| parse_list(&s)).unwrap_or_default();
    st.cpuset.mems = read_opt(dir, "cpuset.mems.effective").map(|s| parse_list(&s)).unwrap_or_default();

    st.memory.raw = keyed("memory.stat");
    st.memory.cache = st.memory.raw.get("file").copied().unwrap_or(0);
    st.memory.usage = MemoryEntry {
        usage: num("memory.current").unwrap_or(0),
        limit: num("memory.max").unwrap_or(0),
        max: num("memory.peak").unwrap_or(0),
        failcnt: 0,
    };
    // v1 reported mem+swap, and so does runc on v2 (with zero swap when
    // there is no swap accounting).
    let (swap, swap_limit) = match num("memory.swap.current") {
        Some(cur) => (cur, num("memory.swap.max").unwrap_or(u64::MAX)),
        None => (0, 0),
    };
    st.memory.swap = MemoryEntry {
        usage: swap + st.memory.usage.usage,
        limit: if swap_limit == u64::MAX { swap_limit } else { swap_limit.saturating_add(st.memory.usage.limit) },
        max: 0,
        failcnt: 0,
    };
    st.memory.psi = psi("memory.pressure");
    st.memory.event_count = memory_events(dir);

    st.pids.current = num("pids.current").unwrap_or_else(pid_count);
    st.pids.limit = num("pids.max").unwrap_or(0);

    st.blkio = read_opt(dir, "io.stat").map(|s| parse_io_stat(&s)).unwrap_or_default();
    st.blkio.psi = psi("io.pressure");

    for size in hugepage_sizes {
        let Some(usage) = num(&format!("hugetlb.{size}.current")) else {
            continue;
        };
        let events = keyed(&format!("hugetlb.{size}.events"));
        let max = num(&format!("hugetlb.{size}.max")).unwrap_or(0);
        let failcnt = events.get("max").copied().unwrap_or(0);
        st.hugetlb.insert(size.clone(), Hugetlb { usage, max, failcnt });
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("12\n"), Some(12));
        let m = parse_flat_keyed("low 0\nhigh 1\nmax 2\noom 3\noom_kill 4\n");
        assert_eq!(m["oom_kill"], 4);
        let p = parse_psi(
            "some avg10=0.50 avg60=1.00 avg300=0.00 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
        );
        assert_eq!(p.some.as_ref().unwrap().total, 42);
        assert_eq!(p.some.unwrap().avg10, 0.5);
        assert_eq!(p.full.unwrap().total, 7);
        let b = parse_io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_serviced_recursive[1], BlkioEntry { major: 8, minor: 0, op: "Write".into(), value: 2 });
        assert_eq!(parse_list("0-3,7\n"), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse_list(""), Vec::<u16>::new());
    }

    #[test]
    fn reads_a_fake_cgroup_dir_in_runc_shape() {
        let d = std::env::temp_dir().join(format!("nook-stats-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in [
            ("cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 9\n"),
            ("memory.current", "100\n"),
            ("memory.max", "max\n"),
            ("memory.stat", "anon 10\nfile 90\n"),
            ("memory.swap.current", "5\n"),
            ("memory.swap.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("pids.current", "2\n"),
            ("pids.max", "10\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.max", "4194304\n"),
            ("hugetlb.2MB.events", "max 2\n"),
        ] {
            std::fs::write(d.join(f), v).unwrap();
        }
        let st = read(&d, || 0, &["2MB".to_string(), "1GB".to_string()]);
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(st.cpu.usage.total, 5000);
        assert_eq!(st.memory.cache, 90);
        assert_eq!(st.memory.swap.usage, 105);
        assert_eq!(st.memory.swap.limit, u64::MAX);
        assert_eq!(st.memory.event_count.oom_kill, 1);
        assert_eq!(st.pids, Pids { current: 2, limit: 10 });
        assert_eq!(st.hugetlb["2MB"], Hugetlb { usage: 0, max: 4194304, failcnt: 2 });
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 5000);
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 1);
        assert_eq!(v["memory"]["usage"]["usage"], 100);
        assert_eq!(v["memory"]["event_count"]["oom_kill"], 1);
        assert_eq!(v["memory"]["raw"]["file"], 90);
        assert!(v["memory"]["kernelTCP"].is_object());
        assert_eq!(v["hugetlb"]["2MB"]["failcnt"], 2);
        assert!(v["blkio"].as_object().unwrap().is_empty());
        assert!(v["network_interfaces"].is_null());
        assert_eq!(v["cpuset"]["sched_relax_domain_level"], 0);
    }
}
