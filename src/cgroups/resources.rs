//! OCI `linux.resources` → cgroup v2 file writes, following runc's
//! `specconv` + `fs2` mapping. Computing the plan validates every value and
//! touches no file; writing happens in `Cgroup::create`/`update`.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::CgroupError;

/// What to do when a file is missing (ENOENT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It is an error.
    Fail,
    /// Skip silently (an optional kernel feature).
    Skip,
    /// Write this (file, value) instead.
    Fallback(String, String),
}

/// One write into a cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub file: String,
    pub value: String,
    pub missing: Missing,
    /// On EINVAL, retry once after every other write (cpu.max.burst vs cpu.max).
    pub retry_last: bool,
}

impl Write {
    fn new(file: impl Into<String>, value: impl Into<String>) -> Self {
        Write { file: file.into(), value: value.into(), missing: Missing::Fail, retry_last: false }
    }
    fn missing(mut self, m: Missing) -> Self {
        self.missing = m;
        self
    }
}

/// Everything an apply needs: the writes in order, the controllers they
/// need, and the memory limits to check against usage first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub writes: Vec<Write>,
    pub controllers: BTreeSet<String>,
    /// `memory.checkBeforeUpdate`: (memory limit, memory+swap limit).
    pub check_memory: Option<(i64, i64)>,
}

impl Plan {
    fn push(&mut self, w: Write) {
        self.writes.push(w);
    }
}

/// The controller a cgroup file belongs to (`None` for core `cgroup.*` files).
pub(crate) fn controller_of(file: &str) -> Option<&str> {
    let (c, _) = file.split_once('.')?;
    (c != "cgroup").then_some(c)
}

fn invalid(field: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::InvalidValue { field: field.into(), reason: reason.into() }
}

/// runc `numToStr` with validation: 0 → unset, -1 → "max", > 0 → itself.
fn limit_str(field: &str, v: Option<i64>) -> Result<Option<String>, CgroupError> {
    match v {
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(n) if n > 0 => Ok(Some(n.to_string())),
        Some(n) => Err(invalid(field, format!("{n} is negative (use -1 for unlimited)"))),
    }
}

/// cgroup v1 cpu.shares [2, 262144] → v2 cpu.weight [1, 10000], with the
/// quadratic-in-log fit runc (opencontainers/cgroups ≥ 0.0.2) and crun use,
/// which maps the defaults onto each other (1024 → 100). 0 means unset.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1 | 2 => 1,
        s if s >= 262_144 => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// cgroup v1 blkio.weight [10, 1000] → v2 io.weight [1, 10000] (runc's
/// linear conversion). 0 means unset.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        0
    } else {
        1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
    }
}

/// OCI memory.swap is memory+swap; v2 memory.swap.max is swap alone.
/// Same cases and errors as runc's `ConvertMemorySwapToCgroupV2Value`.
pub fn memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64, CgroupError> {
    let field = "memory.swap";
    match (swap, memory) {
        (0, -1) => Ok(-1),
        (-1 | 0, _) => Ok(swap),
        (_, -1) => Ok(swap),
        (_, 0) => Err(invalid(field, "unable to set swap limit without memory limit")),
        (_, m) if m < 0 => Err(invalid("memory.limit", format!("invalid memory value: {m}"))),
        (s, m) if s < m => Err(invalid(field, "memory+swap limit should be >= memory limit")),
        (s, m) => Ok(s - m),
    }
}

fn plan_memory(p: &mut Plan, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = limit_str("memory.limit", m.limit())?;
    let reservation = limit_str("memory.reservation", m.reservation())?;
    let raw_swap = m.swap().unwrap_or(0);
    if raw_swap < -1 {
        return Err(invalid("memory.swap", format!("{raw_swap} is negative (use -1 for unlimited)")));
    }
    if limit.is_none() && reservation.is_none() && raw_swap == 0 {
        return Ok(());
    }
    let memory = m.limit().unwrap_or(0);
    let swap = memory_swap_to_v2(raw_swap, memory)?;
    // swap == 0 from memory == memory+swap means "no swap": write 0.
    let swap_str = match swap {
        0 if raw_swap > 0 => Some("0".to_string()),
        0 => None,
        -1 => Some("max".to_string()),
        s => Some(s.to_string()),
    };
    if m.check_before_update() == Some(true) {
        p.check_memory = Some((memory, raw_swap));
    }
    if let Some(s) = swap_str {
        // Without swap accounting the file is missing: fine for "max"/"0".
        let missing = if s == "max" || s == "0" { Missing::Skip } else { Missing::Fail };
        p.push(Write::new("memory.swap.max", s).missing(missing));
    }
    if let Some(l) = limit {
        p.push(Write::new("memory.max", l));
    }
    if let Some(r) = reservation {
        p.push(Write::new("memory.low", r));
    }
    // kernel, kernelTCP, swappiness, disableOOMKiller, useHierarchy: cgroup
    // v1 only; runc's v2 driver ignores them too.
    Ok(())
}

fn plan_cpu(p: &mut Plan, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0 {
        return Err(invalid("cpu.realtimeRuntime", "realtime scheduling is not supported on cgroup v2"));
    }
    let idle = c.idle();
    if let Some(i) = idle {
        if !(0..=1).contains(&i) {
            return Err(invalid("cpu.idle", format!("{i} is not 0 or 1")));
        }
        p.push(Write::new("cpu.idle", i.to_string()));
    }
    let weight = cpu_shares_to_weight(c.shares().unwrap_or(0));
    // An idle cgroup has no weight (the kernel rejects writes to it).
    if weight != 0 && idle != Some(1) {
        p.push(Write::new("cpu.weight", weight.to_string()));
    }
    if let Some(b) = c.burst() {
        p.push(Write { retry_last: c.quota().unwrap_or(0) != 0, ..Write::new("cpu.max.burst", b.to_string()) });
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    if quota < -1 {
        return Err(invalid("cpu.quota", format!("{quota} is negative (use -1 for unlimited)")));
    }
    if quota > 0 && quota < 1000 {
        return Err(invalid("cpu.quota", format!("{quota}µs is below the kernel minimum of 1000µs")));
    }
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(invalid("cpu.period", format!("{period}µs is outside [1000, 1000000]")));
    }
    if quota != 0 || period != 0 {
        let q = if quota > 0 { quota.to_string() } else { "max".into() };
        let per = if period == 0 { 100_000 } else { period };
        p.push(Write::new("cpu.max", format!("{q} {per}")));
    }
    for (file, v) in [("cpuset.cpus", c.cpus()), ("cpuset.mems", c.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            if !v.chars().all(|ch| ch.is_ascii_digit() || ch == ',' || ch == '-') {
                return Err(invalid(file, format!("{v:?} is not a list like \"0-3,7\"")));
            }
            p.push(Write::new(file, v));
        }
    }
    Ok(())
}

fn dev_id(field: &str, major: i64, minor: i64) -> Result<String, CgroupError> {
    if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
        return Err(invalid(field, format!("bad device number {major}:{minor}")));
    }
    Ok(format!("{major}:{minor}"))
}

fn plan_io(p: &mut Plan, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let check_weight = |field: &str, w: u16| {
        if (10..=1000).contains(&w) {
            Ok(())
        } else {
            Err(invalid(field, format!("{w} is outside [10, 1000]")))
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        check_weight("blockIO.weight", w)?;
        let fallback = Missing::Fallback("io.weight".into(), blkio_weight_to_io_weight(w).to_string());
        p.push(Write::new("io.bfq.weight", w.to_string()).missing(fallback));
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("blockIO.weightDevice[{i}]");
        let dev = dev_id(&field, wd.major(), wd.minor())?;
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            check_weight(&field, w)?;
            let conv = format!("{dev} {}", blkio_weight_to_io_weight(w));
            let fallback = Missing::Fallback("io.weight".into(), conv);
            p.push(Write::new("io.bfq.weight", format!("{dev} {w}")).missing(fallback));
        }
    }
    let throttles = [
        ("throttleReadBpsDevice", "rbps", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", "wbps", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", "riops", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", "wiops", b.throttle_write_iops_device()),
    ];
    for (name, key, list) in throttles {
        for (i, td) in list.iter().flatten().enumerate() {
            let dev = dev_id(&format!("blockIO.{name}[{i}]"), td.major(), td.minor())?;
            // v1 used 0 for "no limit"; io.max spells it "max".
            let rate = if td.rate() == 0 { "max".to_string() } else { td.rate().to_string() };
            p.push(Write::new("io.max", format!("{dev} {key}={rate}")));
        }
    }
    Ok(())
}

/// Validate a `linux.resources.unified` key: a plain file name in the cgroup
/// directory, of the form CONTROLLER.PARAMETER.
pub(crate) fn check_unified_key(key: &str) -> Result<(), CgroupError> {
    let field = format!("unified[{key:?}]");
    if key.is_empty() || key == "." || key == ".." || key.contains('/') || key.contains('\0') {
        return Err(invalid(&field, "must be a plain file name in the cgroup directory"));
    }
    match key.split_once('.') {
        Some((c, rest)) if !c.is_empty() && !rest.is_empty() => Ok(()),
        _ => Err(invalid(&field, "must be of the form CONTROLLER.PARAMETER")),
    }
}

/// Turn `resources` into a validated plan. `hugepage_sizes` are the page
/// sizes the kernel supports, spelled as cgroup files spell them ("2MB").
pub(crate) fn plan(r: &LinuxResources, hugepage_sizes: &[String]) -> Result<Plan, CgroupError> {
    let mut p = Plan::default();
    if let Some(pids) = r.pids() {
        match pids.limit() {
            0 => {}
            -1 => p.push(Write::new("pids.max", "max")),
            n if n > 0 => p.push(Write::new("pids.max", n.to_string())),
            n => return Err(invalid("pids.limit", format!("{n} is negative (use -1 for unlimited)"))),
        }
    }
    if let Some(m) = r.memory() {
        plan_memory(&mut p, m)?;
    }
    if let Some(b) = r.block_io() {
        plan_io(&mut p, b)?;
    }
    if let Some(c) = r.cpu() {
        plan_cpu(&mut p, c)?;
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("hugepageLimits[{i}]");
        if !hugepage_sizes.iter().any(|s| s == h.page_size()) {
            let have = hugepage_sizes.join(", ");
            return Err(invalid(&field, format!("page size {:?} is not one of: {have}", h.page_size())));
        }
        if h.limit() < 0 {
            return Err(invalid(&field, format!("limit {} is negative", h.limit())));
        }
        let prefix = format!("hugetlb.{}", h.page_size());
        p.push(Write::new(format!("{prefix}.max"), h.limit().to_string()));
        // Reservation accounting (kernel ≥ 5.7): set it too when present.
        p.push(Write::new(format!("{prefix}.rsvd.max"), h.limit().to_string()).missing(Missing::Skip));
    }
    let rdma: BTreeMap<_, _> = r.rdma().iter().flatten().collect();
    for (dev, l) in rdma {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(invalid(&format!("rdma[{dev:?}]"), "bad device name"));
        }
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            line += &format!(" hca_object={o}");
        }
        if line != *dev {
            p.push(Write::new("rdma.max", line));
        }
    }
    let unified: BTreeMap<_, _> = r.unified().iter().flatten().collect();
    for (k, v) in unified {
        check_unified_key(k)?;
        // Multi-line values (io.max for several devices) go one line a write.
        for line in v.lines().filter(|l| !l.is_empty()) {
            p.push(Write::new(k.clone(), line));
        }
    }
    p.controllers = p.writes.iter().filter_map(|w| controller_of(&w.file)).map(str::to_owned).collect();
    Ok(p)
}

/// Hugepage sizes from `/sys/kernel/mm/hugepages/hugepages-<N>kB`, spelled
/// as hugetlb cgroup files spell them ("2MB", "1GB", "64KB").
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out: Vec<String> =
        rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter_map(|n| hugepage_dir_to_size(&n)).collect();
    out.sort();
    out
}

pub(crate) fn hugepage_dir_to_size(name: &str) -> Option<String> {
    let kb: u64 = name.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
    Some(if kb >= 1 << 20 {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn writes(json: &str) -> Vec<(String, String)> {
        let sizes = vec!["1GB".to_string(), "2MB".to_string()];
        plan(&res(json), &sizes).unwrap().writes.into_iter().map(|w| (w.file, w.value)).collect()
    }

    fn err(json: &str) -> String {
        plan(&res(json), &["2MB".to_string()]).unwrap_err().to_string()
    }

    fn w(f: &str, v: &str) -> (String, String) {
        (f.to_string(), v.to_string())
    }

    #[test]
    fn cpu_shares_conversion_matches_runc() {
        // opencontainers/cgroups v0.0.5's table, plus points of the formula.
        let table =
            [(0, 0), (1, 1), (2, 1), (3, 2), (1024, 100), (262_143, 10_000), (262_144, 10_000), (262_145, 10_000)];
        for (s, want) in table.into_iter().chain([(100, 17), (512, 59), (2048, 174), (4096, 303), (10_000, 627)]) {
            assert_eq!(cpu_shares_to_weight(s), want, "shares {s}");
        }
        assert_eq!(cpu_shares_to_weight(1), 1);
        assert_eq!(cpu_shares_to_weight(1 << 20), 10_000);
        let mut prev = 0;
        for s in 2..=262_144u64 {
            let v = cpu_shares_to_weight(s);
            assert!((1..=10_000).contains(&v) && v >= prev);
            prev = v;
        }
    }

    #[test]
    fn blkio_weight_conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(memory_swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(memory_swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(memory_swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(memory_swap_to_v2(500, -1).unwrap(), 500);
        assert_eq!(memory_swap_to_v2(300, 100).unwrap(), 200);
        assert_eq!(memory_swap_to_v2(100, 100).unwrap(), 0);
        assert!(memory_swap_to_v2(100, 0).is_err());
        assert!(memory_swap_to_v2(50, 100).is_err());
    }

    #[test]
    fn memory_mapping() {
        assert_eq!(
            writes(r#"{"memory":{"limit":1048576,"reservation":524288,"swap":3145728}}"#),
            vec![w("memory.swap.max", "2097152"), w("memory.max", "1048576"), w("memory.low", "524288")]
        );
        assert_eq!(
            writes(r#"{"memory":{"limit":100,"swap":100}}"#),
            vec![w("memory.swap.max", "0"), w("memory.max", "100")]
        );
        assert_eq!(writes(r#"{"memory":{"limit":-1}}"#), vec![w("memory.swap.max", "max"), w("memory.max", "max")]);
        assert_eq!(writes(r#"{"memory":{"disableOOMKiller":true,"swappiness":10}}"#), vec![]);
        let p = plan(&res(r#"{"memory":{"limit":100,"checkBeforeUpdate":true}}"#), &[]).unwrap();
        assert_eq!(p.check_memory, Some((100, 0)));
        assert_eq!(p.controllers.iter().collect::<Vec<_>>(), ["memory"]);
        assert!(err(r#"{"memory":{"limit":-5}}"#).contains("memory.limit"));
        assert!(err(r#"{"memory":{"reservation":-2}}"#).contains("memory.reservation"));
        assert!(err(r#"{"memory":{"limit":100,"swap":50}}"#).contains("memory.swap"));
        assert!(err(r#"{"memory":{"swap":50}}"#).contains("without memory limit"));
    }

    #[test]
    fn cpu_mapping() {
        assert_eq!(
            writes(r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"burst":10000,"cpus":"0-1","mems":"0"}}"#),
            vec![
                w("cpu.weight", "100"),
                w("cpu.max.burst", "10000"),
                w("cpu.max", "50000 100000"),
                w("cpuset.cpus", "0-1"),
                w("cpuset.mems", "0")
            ]
        );
        assert_eq!(writes(r#"{"cpu":{"quota":-1}}"#), vec![w("cpu.max", "max 100000")]);
        assert_eq!(writes(r#"{"cpu":{"period":50000}}"#), vec![w("cpu.max", "max 50000")]);
        assert_eq!(writes(r#"{"cpu":{"idle":1,"shares":2048}}"#), vec![w("cpu.idle", "1")]);
        assert_eq!(writes(r#"{"cpu":{"idle":0,"shares":2}}"#), vec![w("cpu.idle", "0"), w("cpu.weight", "1")]);
        let p = plan(&res(r#"{"cpu":{"quota":20000,"burst":5}}"#), &[]).unwrap();
        assert!(p.writes[0].retry_last);
        assert!(err(r#"{"cpu":{"quota":-7}}"#).contains("cpu.quota"));
        assert!(err(r#"{"cpu":{"quota":10}}"#).contains("cpu.quota"));
        assert!(err(r#"{"cpu":{"period":10}}"#).contains("cpu.period"));
        assert!(err(r#"{"cpu":{"idle":3}}"#).contains("cpu.idle"));
        assert!(err(r#"{"cpu":{"cpus":"0;1"}}"#).contains("cpuset.cpus"));
        assert!(err(r#"{"cpu":{"realtimeRuntime":100}}"#).contains("realtime"));
    }

    #[test]
    fn pids_mapping() {
        assert_eq!(writes(r#"{"pids":{"limit":5}}"#), vec![w("pids.max", "5")]);
        assert_eq!(writes(r#"{"pids":{"limit":-1}}"#), vec![w("pids.max", "max")]);
        assert_eq!(writes(r#"{"pids":{"limit":0}}"#), vec![]);
        assert!(err(r#"{"pids":{"limit":-2}}"#).contains("pids.limit"));
    }

    #[test]
    fn io_mapping() {
        let p = plan(
            &res(r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}],
                "throttleWriteBpsDevice":[{"major":8,"minor":16,"rate":0}],
                "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":7}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":9}]}}"#),
            &[],
        )
        .unwrap();
        let got: Vec<_> = p.writes.iter().map(|w| (w.file.as_str(), w.value.as_str(), &w.missing)).collect();
        let fb = |v: &str| Missing::Fallback("io.weight".into(), v.into());
        assert_eq!(
            got,
            vec![
                ("io.bfq.weight", "500", &fb("4950")),
                ("io.bfq.weight", "8:0 100", &fb("8:0 910")),
                ("io.max", "8:0 rbps=1000", &Missing::Fail),
                ("io.max", "8:16 wbps=max", &Missing::Fail),
                ("io.max", "8:0 riops=7", &Missing::Fail),
                ("io.max", "8:0 wiops=9", &Missing::Fail),
            ]
        );
        assert!(err(r#"{"blockIO":{"weight":5}}"#).contains("blockIO.weight"));
        assert!(err(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#)
            .contains("blockIO.throttleReadBpsDevice[0]"));
    }

    #[test]
    fn hugetlb_rdma_unified_mapping() {
        let p = plan(
            &res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":5},"none":{}},
                "unified":{"memory.high":"5000","io.max":"8:0 rbps=1\n8:16 wbps=2\n","cgroup.max.depth":"3"}}"#),
            &["2MB".to_string()],
        )
        .unwrap();
        let got: Vec<_> = p.writes.iter().map(|w| (w.file.as_str(), w.value.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304"),
                ("rdma.max", "mlx4_0 hca_handle=2 hca_object=5"),
                ("rdma.max", "mlx5_1 hca_handle=3"),
                ("cgroup.max.depth", "3"),
                ("io.max", "8:0 rbps=1"),
                ("io.max", "8:16 wbps=2"),
                ("memory.high", "5000"),
            ]
        );
        assert_eq!(p.writes[1].missing, Missing::Skip);
        assert_eq!(p.controllers.iter().collect::<Vec<_>>(), ["hugetlb", "io", "memory", "rdma"]);
        assert!(err(r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#).contains("hugepageLimits[0]"));
        assert!(err(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#).contains("negative"));
        for k in ["../memory.max", "a/b", "..", "nodot", ".max", "memory."] {
            let e = err(&format!(r#"{{"unified":{{"{k}":"1"}}}}"#));
            assert!(e.contains("unified["), "{k}: {e}");
        }
    }

    #[test]
    fn hugepage_names() {
        assert_eq!(hugepage_dir_to_size("hugepages-2048kB").as_deref(), Some("2MB"));
        assert_eq!(hugepage_dir_to_size("hugepages-1048576kB").as_deref(), Some("1GB"));
        assert_eq!(hugepage_dir_to_size("hugepages-64kB").as_deref(), Some("64KB"));
        assert_eq!(hugepage_dir_to_size("other"), None);
    }
}
