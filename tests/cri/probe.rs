//! What the tests run inside containers, and how their output is read.

use std::collections::HashMap;
use std::process::Command;

/// `key rest` lines of a script's output, by key.
pub fn facts(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.into(), v.trim().into())).collect()
}

/// What the security-context containers print.
pub const FACTS: &str = "echo uid $(id -u); echo gid $(id -g); echo groups $(id -G); \
    grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr ':\t' '  '; \
    touch /probe 2>/dev/null && echo rootfs rw || echo rootfs ro; \
    echo secret [$(cat /etc/secret)]; \
    touch /etc/ro/probe 2>/dev/null && echo etc-ro rw || echo etc-ro ro; \
    echo kcore-masked $(grep -c ' /proc/kcore ' /proc/self/mountinfo); \
    echo sys $(grep ' /sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1); \
    echo apparmor $(cat /proc/self/attr/current)";

/// The capabilities containerd gives a container by default (Docker's
/// set): CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
/// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
pub const DEFAULT_CAPS: u64 = 0xa804_25fb;

/// A process's namespace links (`net:[4026531840]`...), by type.
pub fn namespaces(listing: &str) -> HashMap<String, String> {
    listing.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.into(), v.into())).collect()
}

pub const NS_SCRIPT: &str = "for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done";

pub fn host_namespaces() -> HashMap<String, String> {
    let out = Command::new("sh").args(["-c", NS_SCRIPT]).output().unwrap();
    namespaces(&String::from_utf8_lossy(&out.stdout))
}
