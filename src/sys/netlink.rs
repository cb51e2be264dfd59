//! The rtnetlink requests behind `linux.netDevices`: moving a network
//! interface into another process's network namespace under a new name
//! and setting it up there (what `ip link set DEV netns PID name NEW up`
//! sends), and carrying its permanent global addresses over, which the
//! kernel drops on the move (runtime-spec: the device's addresses MUST be
//! preserved).

use super::{check, owned};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_PID: u16 = 19;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;

/// The interface index of `name` in nook's network namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: valid C string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// The interface names in the network namespace of `pid` (from
/// `/proc/PID/net/dev`, read in nook's own mount namespace).
pub fn names_in_netns_of(pid: i32) -> io::Result<Vec<String>> {
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))?;
    Ok(dev.lines().skip(2).filter_map(|l| Some(l.split(':').next()?.trim().to_owned())).collect())
}

/// An interface address as RTM_GETADDR reports it: the ifaddrmsg fields
/// and the attributes that make it again elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Addr {
    family: u8,
    prefixlen: u8,
    scope: u8,
    attrs: Vec<(u16, Vec<u8>)>,
}

/// A NETLINK_ROUTE socket, bound to the network namespace of the thread
/// that made it.
pub struct Socket(OwnedFd);

impl Socket {
    pub fn new() -> io::Result<Socket> {
        // SAFETY: plain integer arguments.
        let fd = unsafe {
            libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) as libc::c_long
        };
        owned(fd).map(Socket)
    }

    /// A socket in the network namespace of `pid`: made on a short-lived
    /// thread that has joined it (setns of a network namespace is per
    /// thread), so nook's own threads stay where they are.
    pub fn in_netns_of(pid: i32) -> io::Result<Socket> {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
                Socket::new()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("netlink thread panicked")))
        })
    }

    /// Sends one request and returns every message of the answer (one, or
    /// a dump up to NLMSG_DONE) as (type, payload); an NLMSG_ERROR with a
    /// non-zero code is that error, one with zero (an ack) ends the answer.
    fn call(&self, typ: u16, flags: u16, body: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
        let req = message(typ, flags, body);
        let fd = self.0.as_raw_fd();
        // SAFETY: the buffer is valid for its length; the kernel is the peer.
        check(unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) } as libc::c_long)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: the buffer is valid for its length.
            let n = check(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) } as libc::c_long)? as usize;
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
                let typ = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if len < 16 || at + len > n {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed netlink answer"));
                }
                let payload = &buf[at + 16..at + len];
                match typ {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let err = payload.get(..4).map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                        return match err {
                            Some(0) => Ok(out),
                            Some(e) => Err(io::Error::from_raw_os_error(-e)),
                            None => Err(io::Error::new(io::ErrorKind::InvalidData, "short netlink error")),
                        };
                    }
                    _ => out.push((typ, payload.to_vec())),
                }
                at += len.next_multiple_of(4);
            }
            if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 && !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Moves interface `index` into the network namespace of `pid`,
    /// renamed `new_name` (a name with `%d` is a template the kernel
    /// completes), and sets it up; waits for the kernel's answer.
    pub fn move_link(&self, index: u32, pid: i32, new_name: &str) -> io::Result<()> {
        if new_name.is_empty() || new_name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "interface names are 1 to 15 bytes"));
        }
        // flags and change: IFF_UP, applied by the kernel after the move
        // and the rename (runtime-spec: the device MUST be set "up").
        let mut b = ifinfomsg(index, libc::IFF_UP as u32);
        attr(&mut b, IFLA_NET_NS_PID, &(pid as u32).to_ne_bytes());
        attr(&mut b, IFLA_IFNAME, &nul_terminated(new_name));
        self.call(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &b).map(drop)
    }

    /// The index of the interface called `name`.
    pub fn link_index(&self, name: &str) -> io::Result<u32> {
        let mut b = ifinfomsg(0, 0);
        attr(&mut b, IFLA_IFNAME, &nul_terminated(name));
        let answer = self.call(RTM_GETLINK, NLM_F_REQUEST, &b)?;
        let (_, msg) = answer
            .iter()
            .find(|(t, m)| *t == RTM_NEWLINK && m.len() >= 16)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no interface {name:?} after the move")))?;
        Ok(u32::from_ne_bytes(msg[4..8].try_into().expect("4 bytes")))
    }

    /// The permanent addresses of global scope on interface `index` (those
    /// an administrator configured, not the kernel's link-local ones).
    pub fn permanent_addrs(&self, index: u32) -> io::Result<Vec<Addr>> {
        let body = [libc::AF_UNSPEC as u8, 0, 0, 0, 0, 0, 0, 0];
        let answer = self.call(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
        Ok(answer.iter().filter(|(t, _)| *t == RTM_NEWADDR).filter_map(|(_, m)| parse_addr(m, index)).collect())
    }

    /// Adds `addrs` to interface `index`.
    pub fn add_addrs(&self, index: u32, addrs: &[Addr]) -> io::Result<()> {
        for a in addrs {
            let mut b = vec![a.family, a.prefixlen, 0, a.scope];
            b.extend_from_slice(&index.to_ne_bytes());
            for (t, data) in &a.attrs {
                attr(&mut b, *t, data);
            }
            self.call(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &b)?;
        }
        Ok(())
    }
}

/// An RTM_NEWADDR payload of interface `index` that is permanent and
/// global, as an [`Addr`].
fn parse_addr(m: &[u8], index: u32) -> Option<Addr> {
    let (head, mut rest) = (m.get(..8)?, &m[8..]);
    let (family, prefixlen, flags8, scope) = (head[0], head[1], head[2], head[3]);
    if u32::from_ne_bytes(head[4..8].try_into().ok()?) != index || scope != RT_SCOPE_UNIVERSE {
        return None;
    }
    let mut flags = flags8 as u32;
    let mut attrs = Vec::new();
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let typ = u16::from_ne_bytes([rest[2], rest[3]]);
        let data = rest.get(4..len.max(4))?;
        match typ {
            IFA_FLAGS if data.len() == 4 => flags = u32::from_ne_bytes(data.try_into().ok()?),
            IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST => attrs.push((typ, data.to_vec())),
            _ => {}
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    (flags & IFA_F_PERMANENT != 0).then_some(Addr { family, prefixlen, scope, attrs })
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// struct ifinfomsg: family, pad, type, index, flags, change (the same
/// bits: only those in `flags` are changed).
fn ifinfomsg(index: u32, flags: u32) -> Vec<u8> {
    let mut b = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    b.extend_from_slice(&(index as i32).to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b
}

fn attr(buf: &mut Vec<u8>, typ: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// A netlink message: the 16-byte header, then `body`.
fn message(typ: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + body.len());
    b.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    b.extend_from_slice(&typ.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    b.extend_from_slice(body);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permanent_global_addresses_of_the_interface_are_kept() {
        let msg = |index: u32, scope: u8, flags: u32| {
            let mut b = vec![libc::AF_INET as u8, 24, 0, scope];
            b.extend_from_slice(&index.to_ne_bytes());
            attr(&mut b, IFA_ADDRESS, &[10, 1, 2, 3]);
            attr(&mut b, IFA_LOCAL, &[10, 1, 2, 3]);
            attr(&mut b, 3, b"eth0\0"); // IFA_LABEL: names the old device, dropped
            attr(&mut b, IFA_FLAGS, &flags.to_ne_bytes());
            b
        };
        let a = parse_addr(&msg(7, 0, IFA_F_PERMANENT), 7).expect("kept");
        assert_eq!(a.attrs, vec![(IFA_ADDRESS, vec![10, 1, 2, 3]), (IFA_LOCAL, vec![10, 1, 2, 3])]);
        assert_eq!((a.family, a.prefixlen, a.scope), (libc::AF_INET as u8, 24, 0));
        assert_eq!(parse_addr(&msg(8, 0, IFA_F_PERMANENT), 7), None, "another interface");
        assert_eq!(parse_addr(&msg(7, 253, IFA_F_PERMANENT), 7), None, "link scope");
        assert_eq!(parse_addr(&msg(7, 0, 0), 7), None, "not permanent (e.g. from DHCP)");
        assert_eq!(parse_addr(&msg(7, 0, IFA_F_PERMANENT)[..6], 7), None, "truncated");
    }
}
