//! The reference: what runc 1.1 does with a `linux.seccomp` section, built
//! on the real libseccomp (Debian's 2.5.4, through the `libseccomp` crate):
//! the filter libseccomp exports (`seccomp_export_bpf`, plain or with the
//! binary tree of `SCMP_FLTATR_CTL_OPTIMIZE` = 2) behind runc's -ENOSYS stub
//! (libcontainer/seccomp/patchbpf), which is evaluated here directly rather
//! than assembled.
//!
//! Written from runc's and libseccomp's documented behaviour, independently
//! of nook's compiler: the tests compare the two.

use super::interp::{ambiguous_jumps, run_with, Data};
use crate::seccomp::SockFilter;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as O};
use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};

const ENOSYS: u32 = 0x0005_0026;

/// One reference filter: libseccomp's program and runc's stub thresholds.
pub(crate) struct Reference {
    pub(crate) program: Vec<SockFilter>,
    /// Jumps of `program` that may compare a stale accumulator.
    ambiguous: Vec<bool>,
    /// (audit arch, x32 mode, highest syscall named) per listed arch.
    stub: Vec<(u32, Option<bool>, u32)>,
}

impl Reference {
    /// The verdict of runc's filter for `d`, and whether libseccomp's
    /// program compared a stale accumulator on the way: libseccomp 2.5
    /// can jump from a sub-level that loaded one argument word to a node
    /// that compares without reloading its own (see docs/conformance.md).
    pub(crate) fn eval(&self, d: &Data) -> (u32, bool) {
        if let Some(v) = self.stub_verdict(d) {
            return (v, false);
        }
        // Also stale: comparing the arch word again once it matched (the
        // syscall number was never loaded).
        let (mut stale, mut load, mut matched) = (false, u32::MAX, false);
        let v = run_with(&self.program, d, |pc| {
            let ins = self.program[pc];
            if ins.code & 0x07 == 0x05 && ins.code != 0x05 {
                stale |= self.ambiguous[pc] || (load == 4 && matched);
                matched |= load == 4 && ins.code == 0x15 && ins.k == d.arch;
            }
            if ins.code == 0x20 {
                load = ins.k;
            }
        })
        .0;
        (v, stale)
    }

    /// runc's stub: per listed arch, a syscall numbered above the highest
    /// one the profile names gets ENOSYS before libseccomp's filter runs.
    fn stub_verdict(&self, d: &Data) -> Option<u32> {
        let mine: Vec<_> = self.stub.iter().filter(|(arch, ..)| *arch == d.arch).collect();
        if mine.is_empty() {
            return None;
        }
        let x32 = d.nr & 0x4000_0000 != 0;
        // s390 and s390x: syscall 0 multiplexes the others; runc refuses it
        // (only when the arch is alone on its audit arch, as always here).
        if mine.len() == 1 && matches!(d.arch, 0x8000_0016 | 0x0000_0016) && d.nr == 0 {
            return Some(ENOSYS);
        }
        // On x86_64 the x32 bit picks the mode; the other mode (if not
        // listed) goes to libseccomp's filter.
        let last = mine.iter().find(|(_, mode, _)| mode.is_none_or(|m| m == x32))?.2;
        (d.nr > last).then_some(ENOSYS)
    }
}

fn action(a: A, errno: Option<u32>) -> ScmpAction {
    // runc: errnoRet is converted with int16(), libseccomp keeps 16 bits.
    let errno = errno.map_or(1, |e| e as u16 as i32);
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno),
        A::ScmpActTrace => ScmpAction::Trace(errno as u16),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

/// libseccomp's arch for an OCI name; `None` for those it does not know.
pub(crate) fn scmp_arch(a: Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::ScmpArchNative => ScmpArch::native(),
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 | Arch::ScmpArchM68k | Arch::ScmpArchSh | Arch::ScmpArchSheb => return None,
    })
}

/// The audit arch value (AUDIT_ARCH_*, linux/audit.h) of a libseccomp arch.
pub(crate) fn audit_arch(a: ScmpArch) -> u32 {
    let a = if a == ScmpArch::Native { ScmpArch::native() } else { a };
    match a {
        ScmpArch::X8664 | ScmpArch::X32 => 0xc000_003e,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Aarch64 => 0xc000_00b7,
        ScmpArch::Mips => 0x0000_0008,
        ScmpArch::Mips64 => 0x8000_0008,
        ScmpArch::Mips64N32 => 0xa000_0008,
        ScmpArch::Mipsel => 0x4000_0008,
        ScmpArch::Mipsel64 => 0xc000_0008,
        ScmpArch::Mipsel64N32 => 0xe000_0008,
        ScmpArch::Ppc => 0x0000_0014,
        ScmpArch::Ppc64 => 0x8000_0015,
        ScmpArch::Ppc64Le => 0xc000_0015,
        ScmpArch::S390 => 0x0000_0016,
        ScmpArch::S390X => 0x8000_0016,
        ScmpArch::Parisc => 0x0000_000f,
        ScmpArch::Parisc64 => 0x8000_000f,
        ScmpArch::Riscv64 => 0xc000_00f3,
        other => panic!("{other:?}: not an arch of libseccomp 2.5"),
    }
}

fn op(o: O, v: u64) -> ScmpCompareOp {
    match o {
        O::ScmpCmpNe => ScmpCompareOp::NotEqual,
        O::ScmpCmpLt => ScmpCompareOp::Less,
        O::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        O::ScmpCmpEq => ScmpCompareOp::Equal,
        O::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        O::ScmpCmpGt => ScmpCompareOp::Greater,
        O::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(v),
    }
}

/// Builds runc's filter for `spec` with `native` as the filter's native
/// arch (libseccomp's own native arch replaced, so that foreign arches
/// can be tested as runc on them would build them). `optimize` is
/// `SCMP_FLTATR_CTL_OPTIMIZE` (1 = libseccomp's default, 2 = binary tree).
/// An error is a profile runc refuses.
pub(crate) fn build(spec: &LinuxSeccomp, native: ScmpArch, optimize: u32) -> Result<Reference, String> {
    let default = action(spec.default_action(), spec.default_errno_ret());
    if default == ScmpAction::Notify {
        return Err("SCMP_ACT_NOTIFY cannot be used as default action".into());
    }
    let err = |what: &str, e: libseccomp::error::SeccompError| format!("{what}: {e}");
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err("new filter", e))?;
    if native != ScmpArch::native() {
        // Removed first: one filter cannot hold both byte orders.
        ctx.remove_arch(ScmpArch::native()).map_err(|e| err("remove native", e))?;
        ctx.add_arch(native).map_err(|e| err("add native", e))?;
    }
    let mut listed = Vec::new();
    for a in spec.architectures().iter().flatten() {
        let a = match a {
            Arch::ScmpArchNative => native,
            a => scmp_arch(*a).ok_or_else(|| format!("{a:?}: unknown to libseccomp"))?,
        };
        ctx.add_arch(a).map_err(|e| err(&format!("add arch {a:?}"), e))?;
        if !listed.contains(&a) {
            listed.push(a);
        }
    }
    ctx.set_ctl_optimize(optimize).map_err(|e| err("optimize", e))?;

    // runc's specconv: one rule per name, in order.
    let calls: Vec<_> =
        spec.syscalls().iter().flatten().flat_map(|c| c.names().iter().map(move |n| (n.as_str(), c))).collect();
    for (name, call) in &calls {
        let act = action(call.action(), call.errno_ret());
        if act == ScmpAction::Notify && *name == "write" {
            return Err("SCMP_ACT_NOTIFY cannot be used for the write syscall".into());
        }
        if name.is_empty() {
            return Err("empty string is not a valid syscall".into());
        }
        if act == default {
            continue;
        }
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            continue; // unknown: runc ignores it
        };
        let args = call.args().clone().unwrap_or_default();
        let mut conds = Vec::new();
        for a in &args {
            if a.index() > 5 {
                return Err(format!("syscalls only have up to 6 arguments ({} given)", a.index()));
            }
            let (v, two) = (a.value(), a.value_two().unwrap_or(0));
            conds.push(match a.op() {
                O::ScmpCmpMaskedEq => ScmpArgCompare::new(a.index() as u32, op(a.op(), v), two),
                o => ScmpArgCompare::new(a.index() as u32, op(o, 0), v),
            });
        }
        let shared = (0..6).any(|i| args.iter().filter(|a| a.index() == i).count() > 1);
        let groups: Vec<Vec<ScmpArgCompare>> =
            if shared { conds.iter().map(|c| vec![*c]).collect() } else { vec![conds] };
        for g in groups {
            let r = if g.is_empty() { ctx.add_rule(act, nr) } else { ctx.add_rule_conditional(act, nr, &g) };
            r.map_err(|e| err(&format!("rule for {name}"), e))?;
        }
    }

    // runc's stub: skipped for permissive defaults.
    let permissive = matches!(spec.default_action(), A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace);
    let mut stub = Vec::new();
    for a in listed.iter().filter(|_| !permissive) {
        let last = calls.iter().filter_map(|(n, _)| ScmpSyscall::from_name_by_arch(n, *a).ok()).map(i32::from).max();
        let mode = match *a {
            ScmpArch::X8664 => Some(false),
            ScmpArch::X32 => Some(true),
            _ => None,
        };
        if let Some(last) = last.filter(|l| *l > 0) {
            stub.push((audit_arch(*a), mode, last as u32));
        }
    }
    let big = audit_arch(native) & 0x4000_0000 == 0;
    let program = export(&ctx, big)?;
    Ok(Reference { ambiguous: ambiguous_jumps(&program), program, stub })
}

/// `seccomp_export_bpf` into a memfd, read back as instructions. libseccomp
/// writes the program in the byte order of the filter's arches.
fn export(ctx: &ScmpFilterContext, big_endian: bool) -> Result<Vec<SockFilter>, String> {
    // SAFETY: memfd_create with a static name; the fd is owned below.
    let fd = unsafe { libc::memfd_create(c"nook-seccomp-ref".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh fd nothing else owns.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(|e| format!("export: {e}"))?;
    let mut bytes = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut bytes).unwrap();
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let (code, k) = ([c[0], c[1]], [c[4], c[5], c[6], c[7]]);
            if !big_endian {
                return SockFilter { code: u16::from_le_bytes(code), jt: c[2], jf: c[3], k: u32::from_le_bytes(k) };
            }
            let (code, mut k) = (u16::from_be_bytes(code), u32::from_be_bytes(k));
            // Exporting for the other byte order than the host's, libseccomp
            // 2.5 leaves some action blocks unconverted (a real big-endian
            // host converts nothing, so the filter there is right): a return
            // value that is no action is read the other way.
            if code == 0x06 && !is_action(k) && is_action(k.swap_bytes()) {
                k = k.swap_bytes();
            }
            SockFilter { code, jt: c[2], jf: c[3], k }
        })
        .collect())
}

fn is_action(k: u32) -> bool {
    match k >> 16 {
        0x0000 => k == 0,
        0x8000 | 0x0003 | 0x7fc0 | 0x7ffc | 0x7fff => k & 0xffff == 0,
        0x0005 | 0x7ff0 => true,
        _ => false,
    }
}

/// Whether building runc's filter for `spec` never ends (libseccomp 2.5
/// can link a node into two levels and then walk them forever): tried in
/// a forked child that gets `secs` seconds.
pub(crate) fn hangs(spec: &LinuxSeccomp, native: ScmpArch, secs: u64) -> bool {
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    // SAFETY: the child only builds the filter and _exit()s.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let _ = build(spec, native, 1);
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            while std::time::Instant::now() < deadline {
                if waitpid(child, Some(WaitPidFlag::WNOHANG)).unwrap() != WaitStatus::StillAlive {
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            kill(child, Signal::SIGKILL).unwrap();
            waitpid(child, None).unwrap();
            true
        }
    }
}
