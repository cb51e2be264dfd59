//! `linux.memoryPolicy`: the NUMA memory policy of the container's
//! processes, set with set_mempolicy(2) by init (and by each `exec`'d
//! process) before exec; children inherit it.

use super::{cpulist, ProcessError};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

fn field(name: &'static str, msg: impl Into<String>) -> ProcessError {
    ProcessError::Field(name, msg.into())
}

/// set_mempolicy's mode argument (mode | flags) and the nodes, checked as
/// the kernel would check them, so a bad policy is named before anything
/// is created.
pub fn mempolicy(p: &LinuxMemoryPolicy) -> Result<(i32, Vec<usize>), ProcessError> {
    use MemoryPolicyModeType::*;
    let mode = p.mode();
    let nodes = cpulist::parse(p.nodes().as_deref().unwrap_or("")).map_err(|e| field("linux.memoryPolicy.nodes", e))?;
    let name = mode.to_string();
    match mode {
        MpolDefault | MpolLocal if !nodes.is_empty() => {
            return Err(field("linux.memoryPolicy.nodes", format!("must be empty for {name}")))
        }
        MpolBind | MpolInterleave | MpolWeightedInterleave | MpolPreferredMany if nodes.is_empty() => {
            return Err(field("linux.memoryPolicy.nodes", format!("{name} needs at least one node")))
        }
        _ => {}
    }
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        };
    }
    const STATIC_OR_RELATIVE: i32 = 3 << 14;
    if flags & STATIC_OR_RELATIVE == STATIC_OR_RELATIVE {
        return Err(field(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    if flags & STATIC_OR_RELATIVE != 0 && nodes.is_empty() {
        return Err(field("linux.memoryPolicy.flags", "MPOL_F_STATIC_NODES/MPOL_F_RELATIVE_NODES need nodes"));
    }
    let mode = match mode {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    Ok((mode | flags, nodes))
}

/// Sets the calling process's memory policy. The kernel's EINVAL is told
/// as what it most likely means: a node this host does not have.
pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), ProcessError> {
    let (mode, nodes) = mempolicy(p)?;
    let Err(e) = crate::sys::set_mempolicy(mode, &cpulist::mask(&nodes)) else { return Ok(()) };
    let online = cpulist::host_list("/sys/devices/system/node/online");
    let missing = cpulist::missing(&nodes, &online);
    Err(match e.raw_os_error() {
        Some(libc::EINVAL) if !missing.is_empty() => field(
            "linux.memoryPolicy.nodes",
            format!("{}: no such NUMA node on this host (online: {online:?})", join(&missing)),
        ),
        Some(libc::ENOSYS) => field("linux.memoryPolicy", "this kernel has no NUMA support (set_mempolicy: ENOSYS)"),
        _ => field("linux.memoryPolicy", format!("set_mempolicy({}): {e}", describe(p))),
    })
}

fn join(ids: &[usize]) -> String {
    ids.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

fn describe(p: &LinuxMemoryPolicy) -> String {
    let mut s = p.mode().to_string();
    for f in p.flags().iter().flatten() {
        s.push('|');
        s.push_str(&f.to_string());
    }
    if let Some(n) = p.nodes().as_deref().filter(|n| !n.is_empty()) {
        s.push_str(&format!(", nodes {n}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> LinuxMemoryPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn modes_and_flags_are_the_kernels_numbers() {
        let (m, n) = mempolicy(&policy(r#"{"mode":"MPOL_BIND","nodes":"0-1,3"}"#)).unwrap();
        assert_eq!((m, n), (2, vec![0, 1, 3]));
        let (m, _) =
            mempolicy(&policy(r#"{"mode":"MPOL_INTERLEAVE","nodes":"0","flags":["MPOL_F_STATIC_NODES"]}"#)).unwrap();
        assert_eq!(m, 3 | 1 << 15);
        assert_eq!(mempolicy(&policy(r#"{"mode":"MPOL_LOCAL"}"#)).unwrap().0, 4);
        assert_eq!(mempolicy(&policy(r#"{"mode":"MPOL_PREFERRED"}"#)).unwrap().0, 1);
    }

    #[test]
    fn bad_policies_name_the_field() {
        let e = |j: &str| mempolicy(&policy(j)).unwrap_err().to_string();
        assert!(e(r#"{"mode":"MPOL_BIND"}"#).starts_with("linux.memoryPolicy.nodes: MPOL_BIND needs"));
        assert!(e(r#"{"mode":"MPOL_DEFAULT","nodes":"0"}"#).contains("must be empty for MPOL_DEFAULT"));
        assert!(e(r#"{"mode":"MPOL_BIND","nodes":"1-0"}"#).starts_with("linux.memoryPolicy.nodes:"));
        let both = r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#;
        assert!(e(both).starts_with("linux.memoryPolicy.flags:"));
    }
}
