//! The container's limits as systemd unit properties, for cgroup v2, the
//! way runc's systemd driver maps them (`genV2ResourcesProperties` and
//! `unifiedResToSystemdProps`), so that systemd's view of the unit matches
//! the cgroup and a `systemctl daemon-reload`, which re-applies a unit's
//! properties to its cgroup, keeps the limits. The cgroupfs driver still
//! writes every file afterwards (values systemd has no property for).
//!
//! Where nook differs from runc, on purpose:
//! - `blockIO.weight` → `IOWeight` and `unified` `io.weight` → `IOWeight`
//!   (runc's v2 driver passes neither, so a reload resets io.weight to 100);
//! - swap equal to the memory limit (no swap) → `MemorySwapMax=0` (runc
//!   skips a converted value of 0, and a reload then allows swap again);
//! - devices: no `DevicePolicy`/`DeviceAllow` (see docs/architecture.md).

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::super::{blkio_weight_to_io_weight, cpu_shares_to_weight, memory_swap_to_v2, CgroupError};
use crate::sys::dbus::Value;

/// systemd's `infinity` for a `t` property (USEC_INFINITY, CGROUP_LIMIT_MAX).
pub const INFINITY: u64 = u64::MAX;
/// The kernel's default cpu.max period, in µs (runc's `defCPUQuotaPeriod`).
const DEFAULT_PERIOD: u64 = 100_000;
/// Highest CPU or memory node number accepted in a cpuset list.
const MAX_CPU: u32 = 1 << 16;

/// One unit property, and the systemd version that first knows it (a
/// property systemd does not know fails the whole call).
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Value,
    pub since: u32,
}

impl Property {
    pub fn new(name: &str, value: Value) -> Self {
        Property { name: name.into(), value, since: 0 }
    }

    fn since(mut self, version: u32) -> Self {
        self.since = version;
        self
    }

    /// The `(sv)` that StartTransientUnit and SetUnitProperties take.
    pub fn to_dbus(&self) -> Value {
        Value::prop(&self.name, self.value.clone())
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::InvalidValue { field: field.into(), reason: reason.into() }
}

/// A spec limit (0 unset, -1 unlimited, else itself) as a `t`.
fn limit(v: Option<i64>) -> Option<u64> {
    match v {
        None | Some(0) => None,
        Some(-1) => Some(INFINITY),
        Some(n) => u64::try_from(n).ok(),
    }
}

/// The properties for `r`, in runc's order: memory, CPU weight, CPU quota,
/// tasks, cpuset, then (nook) IO weight, then the `unified` keys that have
/// a property. Values are checked as the cgroupfs plan checks them.
pub fn resource_properties(r: &LinuxResources) -> Result<Vec<Property>, CgroupError> {
    let mut p = Vec::new();
    if let Some(m) = r.memory() {
        memory(&mut p, m)?;
    }
    let unified: BTreeMap<&String, &String> = r.unified().iter().flatten().collect();
    let unified_idle = r.unified().as_ref().and_then(|u| u.get("cpu.idle")).is_some_and(|v| v.trim() == "1");
    if let Some(c) = r.cpu() {
        cpu(&mut p, c);
    }
    if let Some(n) = limit(r.pids().as_ref().map(|p| p.limit())) {
        p.push(Property::new("TasksMax", Value::U64(n)));
    }
    if let Some(c) = r.cpu() {
        for (name, list) in [("AllowedCPUs", c.cpus()), ("AllowedMemoryNodes", c.mems())] {
            if let Some(list) = list.as_deref().filter(|l| !l.is_empty()) {
                let field = if name == "AllowedCPUs" { "cpu.cpus" } else { "cpu.mems" };
                let bits = range_to_bits(list).map_err(|e| invalid(field, e))?;
                p.push(Property::new(name, bytes(bits)).since(244));
            }
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0) {
        p.push(Property::new("IOWeight", Value::U64(blkio_weight_to_io_weight(w))));
    }
    for (k, v) in unified {
        unified_property(&mut p, k, v.trim(), unified_idle)?;
    }
    Ok(p)
}

fn memory(p: &mut Vec<Property>, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(n) = limit(m.limit()) {
        p.push(Property::new("MemoryMax", Value::U64(n)));
    }
    if let Some(n) = limit(m.reservation()) {
        p.push(Property::new("MemoryLow", Value::U64(n)));
    }
    let raw = m.swap().unwrap_or(0);
    match memory_swap_to_v2(raw, m.limit().unwrap_or(0))? {
        -1 => p.push(Property::new("MemorySwapMax", Value::U64(INFINITY))),
        0 if raw > 0 => p.push(Property::new("MemorySwapMax", Value::U64(0))),
        s if s > 0 => p.push(Property::new("MemorySwapMax", Value::U64(s as u64))),
        _ => {}
    }
    Ok(())
}

fn cpu(p: &mut Vec<Property>, c: &LinuxCpu) {
    if c.idle() == Some(1) {
        // CPUWeight=0 is systemd's "idle" (cpu.idle=1), since v252; an
        // idle cgroup has no weight.
        p.push(Property::new("CPUWeight", Value::U64(0)).since(252));
    } else {
        let w = cpu_shares_to_weight(c.shares().unwrap_or(0));
        if w != 0 {
            p.push(Property::new("CPUWeight", Value::U64(w)));
        }
    }
    cpu_quota(p, c.quota().unwrap_or(0), c.period().unwrap_or(0));
}

/// runc's `addCpuQuota`: the period as `CPUQuotaPeriodUSec` (v242), the
/// quota as `CPUQuotaPerSecUSec` (µs of CPU time per second), which
/// systemd keeps in whole percent: rounded up to a multiple of 10 ms.
fn cpu_quota(p: &mut Vec<Property>, quota: i64, period: u64) {
    if period != 0 {
        p.push(Property::new("CPUQuotaPeriodUSec", Value::U64(period)).since(242));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let per_sec = match u64::try_from(quota) {
        Ok(q) if q > 0 => {
            let period = if period == 0 { DEFAULT_PERIOD } else { period };
            let v = (u128::from(q) * 1_000_000 / u128::from(period)).min(u128::from(INFINITY - 10_000)) as u64;
            v.div_ceil(10_000) * 10_000
        }
        _ => INFINITY,
    };
    p.push(Property::new("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// `max` or a number, as memory.* and pids.max files take them.
fn max_or_u64(field: &str, v: &str) -> Result<u64, CgroupError> {
    if v == "max" {
        return Ok(INFINITY);
    }
    v.parse().map_err(|_| invalid(field, format!("{v:?} is not \"max\" or a number")))
}

/// runc's `unifiedResToSystemdProps` (plus io.weight): `unified` keys
/// that have a unit property. Others only go to cgroupfs.
fn unified_property(p: &mut Vec<Property>, key: &str, v: &str, idle: bool) -> Result<(), CgroupError> {
    let field = format!("unified[{key:?}]");
    let u64_of = |s: &str| s.parse::<u64>().map_err(|_| invalid(&field, format!("{v:?} is not a number")));
    match key {
        "cpu.idle" if v == "1" => p.push(Property::new("CPUWeight", Value::U64(0)).since(252)),
        "cpu.weight" if !idle => p.push(Property::new("CPUWeight", Value::U64(u64_of(v)?))),
        "cpu.max" => {
            let f: Vec<&str> = v.split_whitespace().collect();
            if f.is_empty() || f.len() > 2 {
                return Err(invalid(&field, format!("{v:?} is not \"QUOTA [PERIOD]\"")));
            }
            let quota = match f[0] {
                "max" => 0,
                q => q.parse::<i64>().map_err(|_| invalid(&field, format!("quota {q:?} is not a number")))?,
            };
            let period = f.get(1).copied().map(u64_of).transpose()?.unwrap_or(DEFAULT_PERIOD);
            cpu_quota(p, quota, period);
        }
        "cpuset.cpus" | "cpuset.mems" => {
            let name = if key == "cpuset.cpus" { "AllowedCPUs" } else { "AllowedMemoryNodes" };
            let bits = range_to_bits(v).map_err(|e| invalid(&field, e))?;
            p.push(Property::new(name, bytes(bits)).since(244));
        }
        "memory.high" | "memory.low" | "memory.min" | "memory.max" | "memory.swap.max" => {
            let name = match key {
                "memory.high" => "MemoryHigh",
                "memory.low" => "MemoryLow",
                "memory.min" => "MemoryMin",
                "memory.max" => "MemoryMax",
                _ => "MemorySwapMax",
            };
            p.push(Property::new(name, Value::U64(max_or_u64(&field, v)?)));
        }
        "pids.max" => p.push(Property::new("TasksMax", Value::U64(max_or_u64(&field, v)?))),
        // The default weight ("N" or "default N"); per-device lines need
        // IODeviceWeight= with a device path, so they go to cgroupfs only.
        "io.weight" => {
            let default = v.lines().map(str::trim).find_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                [n] | ["default", n] => Some(n),
                _ => None,
            });
            if let Some(n) = default {
                p.push(Property::new("IOWeight", Value::U64(u64_of(n)?)));
            }
        }
        _ => crate::logger::debug(|| format!("unified {key:?}: no systemd property, written to cgroupfs only")),
    }
    Ok(())
}

/// An `ay`.
fn bytes(b: Vec<u8>) -> Value {
    Value::Array("y".into(), b.into_iter().map(Value::Byte).collect())
}

/// A cpuset list ("0-3,7") as the bitmask systemd takes for AllowedCPUs
/// and AllowedMemoryNodes: byte 0 holds CPUs 0–7 (bit 0 = CPU 0), byte 1
/// CPUs 8–15, and so on, trailing zero bytes dropped. (runc's RangeToBits
/// since its byte-order fix; spaces around elements and empty elements are
/// allowed, an empty set is not.)
pub fn range_to_bits(list: &str) -> Result<Vec<u8>, String> {
    let num = |s: &str| match s.parse::<u32>() {
        Ok(n) if n <= MAX_CPU => Ok(n),
        Ok(n) => Err(format!("{n} is above {MAX_CPU}")),
        Err(_) => Err(format!("{list:?} is not a list like \"0-3,7\"")),
    };
    let mut bits: Vec<u8> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(item)?, num(item)?),
        };
        if lo > hi {
            return Err(format!("invalid range {item:?}"));
        }
        let need = hi as usize / 8 + 1;
        if bits.len() < need {
            bits.resize(need, 0);
        }
        for i in lo..=hi {
            bits[i as usize / 8] |= 1 << (i % 8);
        }
    }
    if bits.is_empty() {
        return Err(format!("{list:?} is an empty set"));
    }
    Ok(bits)
}

#[cfg(test)]
#[path = "props_tests.rs"]
mod tests;
