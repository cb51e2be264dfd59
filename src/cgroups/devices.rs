//! Device access control for cgroup v2: OCI device rules compiled into a
//! BPF_PROG_TYPE_CGROUP_DEVICE program, hand-encoded (no clang, no libbpf).
//!
//! Semantics (runc's, per access bit): rules are evaluated in order and the
//! last rule that matches the device and names an access bit decides that
//! bit; an access is allowed when every requested bit is allowed; with no
//! matching rule, access is denied. runc's default devices are appended
//! after the spec's rules, as runc's `specconv.AllowedDevices` are.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// `BPF_DEVCG_DEV_*` and `BPF_DEVCG_ACC_*` from linux/bpf.h.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which device type a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    /// 'a': every device.
    All,
    /// 'c'.
    Char,
    /// 'b'.
    Block,
}

/// One device cgroup rule, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DevKind,
    /// `None` is the wildcard.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u32,
}

impl DeviceRule {
    /// `c major:minor rwm`, allowed.
    const fn allow_char(major: u32, minor: Option<u32>) -> Self {
        DeviceRule { allow: true, kind: DevKind::Char, major: Some(major), minor, access: ACC_ALL }
    }

    /// `c|b *:* m`, allowed.
    const fn mknod_any(kind: DevKind) -> Self {
        DeviceRule { allow: true, kind, major: None, minor: None, access: ACC_MKNOD }
    }

    fn matches_dev(&self, dev_type: u32, major: u32, minor: u32) -> bool {
        let kind_ok = match self.kind {
            DevKind::All => true,
            DevKind::Char => dev_type == DEV_CHAR,
            DevKind::Block => dev_type == DEV_BLOCK,
        };
        kind_ok && self.major.is_none_or(|m| m == major) && self.minor.is_none_or(|m| m == minor)
    }
}

/// runc's default rules: mknod of anything, and /dev/null, random, full,
/// tty, zero, urandom, /dev/pts/*, ptmx and /dev/net/tun. The first item
/// of each pair is the device path runc drops the default for when the
/// spec lists a device at that path.
pub const DEFAULT_RULES: [(Option<&str>, DeviceRule); 11] = [
    (None, DeviceRule::mknod_any(DevKind::Char)),
    (None, DeviceRule::mknod_any(DevKind::Block)),
    (Some("/dev/null"), DeviceRule::allow_char(1, Some(3))),
    (Some("/dev/random"), DeviceRule::allow_char(1, Some(8))),
    (Some("/dev/full"), DeviceRule::allow_char(1, Some(7))),
    (Some("/dev/tty"), DeviceRule::allow_char(5, Some(0))),
    (Some("/dev/zero"), DeviceRule::allow_char(1, Some(5))),
    (Some("/dev/urandom"), DeviceRule::allow_char(1, Some(9))),
    (None, DeviceRule::allow_char(136, None)),
    (None, DeviceRule::allow_char(5, Some(2))),
    (None, DeviceRule::allow_char(10, Some(200))),
];

fn dev_num(field: &str, v: Option<i64>) -> Result<Option<u32>, CgroupError> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| CgroupError::InvalidValue {
            field: field.into(),
            reason: format!("{n} is not a device number or -1"),
        }),
    }
}

/// Convert one OCI `linux.resources.devices[i]` entry.
pub fn rule_from_oci(i: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
    let field = format!("linux.resources.devices[{i}]");
    let bad = |reason: String| CgroupError::InvalidValue { field: field.clone(), reason };
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => DevKind::All,
        LinuxDeviceType::C => DevKind::Char,
        LinuxDeviceType::B => DevKind::Block,
        t => return Err(bad(format!("invalid cgroup device type {:?}", t.as_str()))),
    };
    let access_str = d.access().as_deref().unwrap_or("");
    if access_str.is_empty() {
        return Err(bad("access cannot be empty".into()));
    }
    let mut access = 0;
    for c in access_str.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(bad(format!("unknown device access {c:?}"))),
        };
    }
    Ok(DeviceRule {
        allow: d.allow(),
        kind,
        major: dev_num(&format!("{field}.major"), d.major())?,
        minor: dev_num(&format!("{field}.minor"), d.minor())?,
        access,
    })
}

/// The full rule list for a container: the spec's rules in order, then
/// runc's defaults (minus those whose path `linux.devices` redefines).
pub fn container_rules(
    spec_rules: &[LinuxDeviceCgroup],
    linux_devices: &[LinuxDevice],
) -> Result<Vec<DeviceRule>, CgroupError> {
    let mut out = spec_rules.iter().enumerate().map(|(i, d)| rule_from_oci(i, d)).collect::<Result<Vec<_>, _>>()?;
    out.extend(
        DEFAULT_RULES
            .iter()
            .filter(|(path, _)| path.is_none_or(|p| !linux_devices.iter().any(|d| d.path().as_os_str() == p)))
            .map(|(_, r)| *r),
    );
    Ok(out)
}

/// Evaluate `rules` directly (the reference the BPF program must agree with).
pub fn evaluate(rules: &[DeviceRule], dev_type: u32, major: u32, minor: u32, access: u32) -> bool {
    if access == 0 {
        return false;
    }
    (0..3).map(|b| 1 << b).filter(|bit| access & bit != 0).all(|bit| {
        rules
            .iter()
            .rev()
            .find(|r| r.access & bit != 0 && r.matches_dev(dev_type, major, minor))
            .is_some_and(|r| r.allow)
    })
}

/// One `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes used (class | op | source).
pub(crate) const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub(crate) const ALU32_AND_K: u8 = 0x54;
pub(crate) const ALU32_RSH_K: u8 = 0x74;
pub(crate) const ALU32_MOV_K: u8 = 0xb4;
pub(crate) const ALU32_MOV_X: u8 = 0xbc;
pub(crate) const JMP32_JEQ_K: u8 = 0x16;
pub(crate) const JMP32_JNE_K: u8 = 0x56;
pub(crate) const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

/// Compile `rules` into a device program. Registers: r2 = device type,
/// r3 = access bits still undecided, r4 = major, r5 = minor, r1 = scratch.
/// Rules are visited last to first: a matching deny that touches an
/// undecided bit denies; a matching allow decides its bits, and allows once
/// none are left. Falling off the end denies.
pub fn compile(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
        insn(ALU32_MOV_X, 3, 2, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),     // r3 = access
        insn(ALU32_AND_K, 2, 0, 0, 0xffff), // r2 = type
        insn(LDX_MEM_W, 4, 1, 4, 0),        // r4 = major
        insn(LDX_MEM_W, 5, 1, 8, 0),        // r5 = minor
    ];
    // The last matching rule wins, bit by bit: walk the rules backwards,
    // keeping in r3 the access bits no rule has decided yet. A rule for
    // every access bit decides at once, with no register state to carry:
    // that keeps the verifier's work (the bulk of BPF_PROG_LOAD's cost)
    // close to the program's length.
    for r in rules.iter().rev() {
        // Build the block with jumps to "next" marked by off = i16::MIN,
        // then patch them to point past the block.
        let mut block = Vec::new();
        let ty = match r.kind {
            DevKind::All => None,
            DevKind::Char => Some(DEV_CHAR),
            DevKind::Block => Some(DEV_BLOCK),
        };
        let mut conditional = false;
        for (reg, v) in [(2, ty), (4, r.major), (5, r.minor)] {
            if let Some(v) = v {
                block.push(insn(JMP32_JNE_K, reg, 0, i16::MIN, v as i32));
                conditional = true;
            }
        }
        let full = r.access & ACC_ALL == ACC_ALL;
        if full {
            // Every bit still undecided is decided here.
        } else if r.allow {
            block.push(insn(ALU32_AND_K, 3, 0, 0, !r.access as i32));
            block.push(insn(JMP32_JNE_K, 3, 0, i16::MIN, 0));
        } else {
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, r.access as i32));
            block.push(insn(JMP32_JEQ_K, 1, 0, i16::MIN, 0));
        }
        block.push(insn(ALU32_MOV_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.off == i16::MIN {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
        if full && !conditional {
            // Nothing after an unconditional rule for every bit is reachable
            // (and the verifier refuses unreachable code).
            return p;
        }
    }
    p.push(insn(ALU32_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// A userspace interpreter for the instructions `compile` emits, run on a
/// `struct bpf_cgroup_dev_ctx`. Panics on anything else.
#[cfg(test)]
pub(crate) fn interpret(prog: &[Insn], ctx: [u32; 3]) -> u64 {
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let k = i.imm as u32;
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the context");
                let off = i.off as usize;
                assert!(off % 4 == 0 && off < 12);
                r[dst] = u64::from(ctx[off / 4]);
            }
            ALU32_AND_K => r[dst] = u64::from(r[dst] as u32 & k),
            ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> k),
            ALU32_MOV_K => r[dst] = u64::from(k),
            ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
            JMP32_JEQ_K | JMP32_JNE_K => {
                let eq = r[dst] as u32 == k;
                if eq == (i.code == JMP32_JEQ_K) {
                    pc = (pc as isize + i.off as isize) as usize;
                }
            }
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: DevKind, major: Option<u32>, minor: Option<u32>, access: u32) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access }
    }

    fn oci(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    /// Compare the program with direct evaluation over many tuples.
    fn check(rules: &[DeviceRule]) {
        let prog = compile(rules);
        let mut nums: Vec<u32> = vec![0, 1, 2, 3, 5, 7, 8, 9, 10, 136, 200, 254, u32::MAX];
        nums.extend(rules.iter().flat_map(|r| [r.major, r.minor]).flatten());
        for ty in [DEV_BLOCK, DEV_CHAR] {
            for &maj in &nums {
                for &min in &nums {
                    for acc in 1..=7 {
                        let want = evaluate(rules, ty, maj, min, acc);
                        let got = interpret(&prog, [ty | (acc << 16), maj, min]);
                        assert_eq!(got, want as u64, "rules {rules:?} dev {ty} {maj}:{min} acc {acc}");
                    }
                }
            }
        }
    }

    #[test]
    fn program_agrees_with_rules() {
        use DevKind::*;
        let sets: Vec<Vec<DeviceRule>> = vec![
            vec![],
            vec![rule(true, All, None, None, ACC_ALL)],
            vec![rule(false, All, None, None, ACC_ALL)],
            vec![rule(false, All, None, None, ACC_ALL), rule(true, Char, Some(1), Some(3), ACC_READ | ACC_WRITE)],
            vec![rule(true, Char, Some(1), Some(3), ACC_ALL), rule(false, Char, Some(1), Some(3), ACC_WRITE)],
            vec![rule(true, Char, Some(1), None, ACC_READ), rule(true, Char, Some(1), Some(5), ACC_WRITE)],
            vec![rule(true, All, None, None, ACC_ALL), rule(false, Block, Some(8), None, ACC_ALL)],
            vec![rule(true, Block, None, Some(0), ACC_MKNOD), rule(false, Char, None, None, ACC_READ)],
            vec![rule(true, Char, Some(u32::MAX), Some(u32::MAX), ACC_ALL)],
            container_rules(
                &oci(r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":4,"minor":7,"access":"rw"}]"#),
                &[],
            )
            .unwrap(),
            DEFAULT_RULES.iter().map(|(_, r)| *r).collect(),
        ];
        for s in &sets {
            check(s);
        }
        // Pseudo-random rule sets.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let rules: Vec<_> = (0..next(6))
                .map(|_| DeviceRule {
                    allow: next(2) == 0,
                    kind: [All, Char, Block][next(3) as usize],
                    major: [None, Some(1), Some(8)][next(3) as usize],
                    minor: [None, Some(3), Some(5)][next(3) as usize],
                    access: 1 + next(7) as u32,
                })
                .collect();
            check(&rules);
        }
    }

    #[test]
    fn semantics_last_match_wins_per_bit() {
        let rules = container_rules(
            &oci(r#"[{"allow":false,"access":"rwm"},
                     {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                     {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#),
            &[],
        )
        .unwrap();
        // /dev/null is re-allowed by the appended defaults.
        assert!(evaluate(&rules, DEV_CHAR, 1, 3, ACC_WRITE));
        let spec_only = &rules[..3];
        assert!(evaluate(spec_only, DEV_CHAR, 1, 3, ACC_READ));
        assert!(!evaluate(spec_only, DEV_CHAR, 1, 3, ACC_WRITE));
        assert!(!evaluate(spec_only, DEV_CHAR, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!evaluate(&rules, DEV_CHAR, 1, 1, ACC_READ), "/dev/mem denied");
        assert!(evaluate(&rules, DEV_BLOCK, 8, 0, ACC_MKNOD), "mknod allowed by default");
        assert!(!evaluate(&rules, DEV_BLOCK, 8, 0, ACC_READ));
        assert!(evaluate(&rules, DEV_CHAR, 136, 42, ACC_READ | ACC_WRITE));
    }

    #[test]
    fn oci_conversion() {
        let r = rule_from_oci(0, &oci(r#"[{"allow":true,"type":"b","major":8,"minor":-1,"access":"rm"}]"#)[0]).unwrap();
        assert_eq!(r, rule(true, DevKind::Block, Some(8), None, ACC_READ | ACC_MKNOD));
        for bad in [
            r#"[{"allow":true,"access":""}]"#,
            r#"[{"allow":true,"access":"rx"}]"#,
            r#"[{"allow":true,"type":"p","access":"r"}]"#,
            r#"[{"allow":true,"major":-3,"access":"r"}]"#,
        ] {
            let e = rule_from_oci(0, &oci(bad)[0]).unwrap_err().to_string();
            assert!(e.contains("linux.resources.devices[0]"), "{e}");
        }
    }

    #[test]
    fn defaults_dropped_for_redefined_paths() {
        let devs: Vec<LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/null","type":"c","major":1,"minor":3}]"#).unwrap();
        let with = container_rules(&[], &[]).unwrap();
        let without = container_rules(&[], &devs).unwrap();
        assert_eq!(with.len(), 11);
        assert_eq!(without.len(), 10);
        assert!(!without.iter().any(|r| r.major == Some(1) && r.minor == Some(3)));
    }
}
