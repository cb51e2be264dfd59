//! One rtnetlink request: moving a network interface into another
//! process's network namespace under a new name, and setting it up there
//! (what `ip link set DEV netns PID name NEW up` sends).

use super::{check, owned};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_PID: u16 = 19;

/// The interface index of `name` in nook's network namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: valid C string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// Whether the network namespace of `pid` has an interface named `name`
/// (from `/proc/PID/net/dev`, read in nook's own mount namespace).
pub fn exists_in_netns_of(pid: i32, name: &str) -> io::Result<bool> {
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))?;
    Ok(dev.lines().skip(2).any(|l| l.split(':').next().map(str::trim) == Some(name)))
}

fn attr(buf: &mut Vec<u8>, typ: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// The RTM_NEWLINK request (header, ifinfomsg, attributes).
fn request(index: u32, pid: i32, new_name: &str) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    // struct ifinfomsg: family, pad, type, index, flags, change.
    b.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    b.extend_from_slice(&(index as i32).to_ne_bytes());
    // flags and change: IFF_UP, applied by the kernel after the move and
    // the rename (runtime-spec: the device MUST be set "up").
    let up = libc::IFF_UP as u32;
    b.extend_from_slice(&up.to_ne_bytes());
    b.extend_from_slice(&up.to_ne_bytes());
    attr(&mut b, IFLA_NET_NS_PID, &(pid as u32).to_ne_bytes());
    let mut name = new_name.as_bytes().to_vec();
    name.push(0);
    attr(&mut b, IFLA_IFNAME, &name);
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    b[8..12].copy_from_slice(&1u32.to_ne_bytes());
    b
}

/// Moves interface `index` into the network namespace of `pid`, renamed
/// `new_name` (a name with `%d` is a template the kernel completes), and
/// sets it up; waits for the kernel's answer.
pub fn move_link_to_netns(index: u32, pid: i32, new_name: &str) -> io::Result<()> {
    if new_name.is_empty() || new_name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "interface names are 1 to 15 bytes"));
    }
    // SAFETY: plain integer arguments.
    let sock: OwnedFd = owned(unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) as libc::c_long
    })?;
    let req = request(index, pid, new_name);
    // SAFETY: the buffer is valid for its length; the kernel is the peer.
    check(unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } as libc::c_long)?;
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: the buffer is valid for its length.
        let n = check(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) } as libc::c_long)?
            as usize;
        if n < 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short netlink answer"));
        }
        let typ = u16::from_ne_bytes([buf[4], buf[5]]);
        if typ == NLMSG_ERROR {
            let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            return if err == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-err)) };
        }
    }
}
