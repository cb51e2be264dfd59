//! The property list against what runc's v2 systemd driver sends, with
//! the expected numbers worked out by hand in the comments.

use super::*;

const INF: u64 = INFINITY;

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn props(json: &str) -> Vec<Property> {
    resource_properties(&res(json)).unwrap()
}

/// (name, value, since) triples, to compare whole lists.
fn triples(p: &[Property]) -> Vec<(&str, Value, u32)> {
    p.iter().map(|p| (p.name.as_str(), p.value.clone(), p.since)).collect()
}

fn t(n: u64) -> Value {
    Value::U64(n)
}

fn ay(b: &[u8]) -> Value {
    Value::Array("y".into(), b.iter().map(|b| Value::Byte(*b)).collect())
}

#[test]
fn every_resource_as_runc_sends_it() {
    let p = props(
        r#"{
        "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824},
        "cpu": {"shares": 2048, "quota": 12345, "period": 50000, "cpus": "0-3,16", "mems": "1"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
        "unified": {"memory.high": "400000000"}
    }"#,
    );
    assert_eq!(
        triples(&p),
        [
            ("MemoryMax", t(536_870_912), 0),
            ("MemoryLow", t(268_435_456), 0),
            // swap is memory+swap in the spec: 1 GiB - 512 MiB.
            ("MemorySwapMax", t(536_870_912), 0),
            // shares 2048 → weight 174 (runc's formula, as cpu.weight).
            ("CPUWeight", t(174), 0),
            ("CPUQuotaPeriodUSec", t(50_000), 242),
            // 12345 µs per 50 ms = 246900 µs/s, up to the next 10 ms: 250 ms.
            ("CPUQuotaPerSecUSec", t(250_000), 0),
            ("TasksMax", t(100), 0),
            // CPUs 0-3 → byte 0 = 0x0f; CPU 16 → byte 2, bit 0.
            ("AllowedCPUs", ay(&[0x0f, 0x00, 0x01]), 244),
            ("AllowedMemoryNodes", ay(&[0x02]), 244),
            // blkio 500 → 1 + (500-10)*9999/990 = 1 + 4949 = 4950.
            ("IOWeight", t(4950), 0),
            ("MemoryHigh", t(400_000_000), 0),
        ]
    );
    // On the wire: (sv), with t or ay inside.
    for p in &p {
        let d = p.to_dbus();
        assert_eq!(d.signature(), "(sv)");
        let Value::Struct(f) = d else { unreachable!() };
        assert_eq!(f[0], Value::str(&p.name));
        let want = if p.name.starts_with("Allowed") { "ay" } else { "t" };
        assert_eq!(f[1], Value::Variant(Box::new(p.value.clone())));
        assert_eq!(p.value.signature(), want, "{}", p.name);
    }
}

#[test]
fn unlimited_and_unset() {
    let p = props(r#"{"memory": {"limit": -1, "reservation": -1, "swap": -1}, "pids": {"limit": -1}}"#);
    assert_eq!(
        triples(&p),
        [("MemoryMax", t(INF), 0), ("MemoryLow", t(INF), 0), ("MemorySwapMax", t(INF), 0), ("TasksMax", t(INF), 0)]
    );
    // 0 is "not set" everywhere (runc: PidsLimit > 0 || == -1).
    assert!(props(r#"{"memory": {"limit": 0, "swap": 0}, "pids": {"limit": 0}, "cpu": {"shares": 0}}"#).is_empty());
    assert!(props("{}").is_empty());
    // swap == memory: no swap at all, 0 (runc would skip it; see the module doc).
    let p = props(r#"{"memory": {"limit": 1048576, "swap": 1048576}}"#);
    assert_eq!(triples(&p), [("MemoryMax", t(1_048_576), 0), ("MemorySwapMax", t(0), 0)]);
}

#[test]
fn cpu_quota_and_period_as_runc_add_cpu_quota() {
    // Quota alone: the default period, 50 ms / 100 ms = 500 ms/s, already whole.
    assert_eq!(triples(&props(r#"{"cpu": {"quota": 50000}}"#)), [("CPUQuotaPerSecUSec", t(500_000), 0)]);
    // -1: unlimited.
    assert_eq!(triples(&props(r#"{"cpu": {"quota": -1}}"#)), [("CPUQuotaPerSecUSec", t(INF), 0)]);
    // Period alone: the period, and no quota (infinity).
    assert_eq!(
        triples(&props(r#"{"cpu": {"period": 20000}}"#)),
        [("CPUQuotaPeriodUSec", t(20_000), 242), ("CPUQuotaPerSecUSec", t(INF), 0)]
    );
    // 1001 µs per 1 s = 1001 µs/s → 10000.
    assert_eq!(
        triples(&props(r#"{"cpu": {"quota": 1001, "period": 1000000}}"#))[1],
        ("CPUQuotaPerSecUSec", t(10_000), 0)
    );
    // Idle: CPUWeight=0 (systemd ≥ 252), no weight from shares.
    assert_eq!(triples(&props(r#"{"cpu": {"idle": 1, "shares": 2048}}"#)), [("CPUWeight", t(0), 252)]);
    assert_eq!(triples(&props(r#"{"cpu": {"idle": 0, "shares": 1024}}"#)), [("CPUWeight", t(100), 0)]);
}

#[test]
fn unified_keys_as_unified_res_to_systemd_props() {
    let p = props(
        r#"{"unified": {
        "cpu.max": "max", "cpu.weight": "300", "cpuset.cpus": "1", "cpuset.mems": "0",
        "hugetlb.2MB.max": "0", "io.weight": "8:0 50\ndefault 70", "memory.high": "max",
        "memory.low": "1000", "memory.max": "max", "memory.min": "500", "memory.swap.max": "0",
        "pids.max": "max", "memory.oom.group": "1"
    }}"#,
    );
    assert_eq!(
        triples(&p),
        [
            ("CPUQuotaPeriodUSec", t(100_000), 242),
            ("CPUQuotaPerSecUSec", t(INF), 0),
            ("CPUWeight", t(300), 0),
            ("AllowedCPUs", ay(&[0x02]), 244),
            ("AllowedMemoryNodes", ay(&[0x01]), 244),
            ("IOWeight", t(70), 0),
            ("MemoryHigh", t(INF), 0),
            ("MemoryLow", t(1000), 0),
            ("MemoryMax", t(INF), 0),
            ("MemoryMin", t(500), 0),
            ("MemorySwapMax", t(0), 0),
            ("TasksMax", t(INF), 0),
        ]
    );
    // cpu.max with both fields, whitespace around.
    assert_eq!(
        triples(&props(r#"{"unified": {"cpu.max": " 50000 100000\n"}}"#)),
        [("CPUQuotaPeriodUSec", t(100_000), 242), ("CPUQuotaPerSecUSec", t(500_000), 0)]
    );
    // cpu.idle 1 wins over cpu.weight (runc warns and drops the weight).
    assert_eq!(triples(&props(r#"{"unified": {"cpu.idle": "1", "cpu.weight": "300"}}"#)), [("CPUWeight", t(0), 252)]);
    assert!(props(r#"{"unified": {"cpu.idle": "0", "io.weight": "8:0 50"}}"#).is_empty());
}

#[test]
fn unparsable_values_are_refused_naming_the_field() {
    for (json, field) in [
        (r#"{"unified": {"memory.max": "lots"}}"#, "unified[\"memory.max\"]"),
        (r#"{"unified": {"pids.max": "-1"}}"#, "unified[\"pids.max\"]"),
        (r#"{"unified": {"cpu.max": "1 2 3"}}"#, "unified[\"cpu.max\"]"),
        (r#"{"unified": {"cpu.weight": "heavy"}}"#, "unified[\"cpu.weight\"]"),
        (r#"{"unified": {"cpuset.cpus": "3-1"}}"#, "unified[\"cpuset.cpus\"]"),
        (r#"{"cpu": {"cpus": "0-x"}}"#, "cpu.cpus"),
        (r#"{"cpu": {"mems": "99999999"}}"#, "cpu.mems"),
    ] {
        let e = resource_properties(&res(json)).unwrap_err().to_string();
        assert!(e.contains(field), "{json}: {e}");
    }
}

#[test]
fn cpuset_bitmask_as_runc_range_to_bits() {
    // runc's TestRangeToBits table, little endian (after runc#3611): byte 0
    // holds CPUs 0-7.
    let table: &[(&str, &[u8])] = &[
        ("0", &[1]),
        ("1", &[2]),
        ("0-1", &[3]),
        ("0,1", &[3]),
        (",0,1,", &[3]),
        ("0-3", &[0x0f]),
        ("0,1,2-3", &[0x0f]),
        ("4-7", &[0xf0]),
        ("0-7", &[0xff]),
        ("0-15", &[0xff, 0xff]),
        ("16", &[0, 0, 1]),
        ("0-3,32-33", &[0x0f, 0, 0, 0, 3]),
        ("1, 2, 1-2", &[6]),
        ("    , 1   , 3  ,  5-7,\t", &[0xea]),
        ("128-130,1", &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]),
    ];
    for (list, want) in table {
        assert_eq!(range_to_bits(list).unwrap(), *want, "{list:?}");
    }
    for bad in ["", " , ", "-", "1-", "-3", "54-53", "1 - 2", "a", "70000"] {
        assert!(range_to_bits(bad).is_err(), "{bad:?}");
    }
}
