//! The raw bpf(2) calls the device controller needs: load a
//! BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to a cgroup, list and
//! detach what is attached. libc only; no RLIMIT_MEMLOCK changes (kernels
//! ≥ 5.11 charge BPF memory to the memcg).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::devices::Insn;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr`, sized generously; the kernel requires unknown tail
/// bytes to be zero, which they are.
#[repr(C, align(8))]
struct Attr([u8; 144]);

impl Attr {
    fn new() -> Self {
        Attr([0; 144])
    }
    fn put_u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn put_u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().unwrap())
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: attr is a valid, writable bpf_attr-sized buffer; the pointers
    // inside it point at live buffers owned by the caller.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut Attr, std::mem::size_of::<Attr>()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new fd to us.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Load a device program; on failure, the verifier log is in the error.
pub fn load_device_program(insns: &[Insn]) -> io::Result<OwnedFd> {
    let license = b"Apache\0";
    // The log buffer is only wanted to explain a failure: allocating (and
    // faulting in) 64 KiB on every load would be waste.
    let mut log = Vec::new();
    let attempt = |with_log: bool, log: &mut Vec<u8>| {
        let mut a = Attr::new();
        a.put_u32(0, BPF_PROG_TYPE_CGROUP_DEVICE)
            .put_u32(4, insns.len() as u32)
            .put_u64(8, insns.as_ptr() as u64)
            .put_u64(16, license.as_ptr() as u64);
        if with_log {
            log.resize(64 * 1024, 0);
            a.put_u32(24, 1).put_u32(28, log.len() as u32).put_u64(32, log.as_mut_ptr() as u64);
        }
        // prog_name at offset 48 (char[16]).
        a.0[48..52].copy_from_slice(b"nook");
        bpf(BPF_PROG_LOAD, &mut a).map(owned)
    };
    match attempt(false, &mut log) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            let _ = attempt(true, &mut log);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(io::Error::new(e.kind(), format!("{e}; verifier log: {}", text.trim())))
        }
    }
}

/// Attach a device program to a cgroup directory fd (BPF_F_ALLOW_MULTI).
pub fn attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut a = Attr::new();
    a.put_u32(0, cgroup.as_raw_fd() as u32)
        .put_u32(4, prog.as_raw_fd() as u32)
        .put_u32(8, BPF_CGROUP_DEVICE)
        .put_u32(12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &mut a).map(drop)
}

/// Detach one device program from a cgroup.
pub fn detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut a = Attr::new();
    a.put_u32(0, cgroup.as_raw_fd() as u32).put_u32(4, prog.as_raw_fd() as u32).put_u32(8, BPF_CGROUP_DEVICE);
    bpf(BPF_PROG_DETACH, &mut a).map(drop)
}

/// The ids of the device programs attached directly to a cgroup.
pub fn query(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut a = Attr::new();
    // target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
    a.put_u32(0, cgroup.as_raw_fd() as u32)
        .put_u32(4, BPF_CGROUP_DEVICE)
        .put_u64(16, ids.as_mut_ptr() as u64)
        .put_u32(24, ids.len() as u32);
    bpf(BPF_PROG_QUERY, &mut a)?;
    ids.truncate(a.get_u32(24) as usize);
    Ok(ids)
}

/// An fd for a loaded program, by id.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.put_u32(0, id);
    bpf(BPF_PROG_GET_FD_BY_ID, &mut a).map(owned)
}

/// Load `insns`, attach them to `cgroup`, then detach whatever device
/// programs were attached before (runc's order: never a moment without a
/// filter).
pub fn replace_device_program(cgroup: impl AsFd, insns: &[Insn]) -> io::Result<()> {
    let cg = cgroup.as_fd();
    let old = query(cg)?;
    attach_device_program(cg, insns)?;
    for id in old {
        let fd = prog_fd_by_id(id)?;
        detach(cg, fd.as_fd())?;
    }
    Ok(())
}

/// Load and attach a device program to a cgroup that has none yet (one
/// just created): no need to ask the kernel what to replace.
pub fn attach_device_program(cgroup: impl AsFd, insns: &[Insn]) -> io::Result<()> {
    let cg = cgroup.as_fd();
    let prog = load_device_program(insns)?;
    attach(cg, prog.as_fd())
}
