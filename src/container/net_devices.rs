//! `linux.netDevices`: host interfaces moved into the container's network
//! namespace once init is ready, each renamed as asked, set up, and given
//! back the permanent global addresses it had on the host (the kernel
//! drops a device's addresses when it changes namespace; runtime-spec
//! config-linux "Network Devices" wants them kept, as runc and youki do).

use super::{ContainerError, Result};
use crate::sys::netlink::{self, Socket};
use oci_spec::runtime::LinuxNetDevice;
use std::collections::HashMap;

pub(super) fn move_in(devices: &HashMap<String, LinuxNetDevice>, pid: i32) -> Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let host = Socket::new().map_err(|e| ContainerError::Other(format!("linux.netDevices: netlink: {e}")))?;
    let inside = Socket::in_netns_of(pid)
        .map_err(|e| ContainerError::Other(format!("linux.netDevices: the container's network namespace: {e}")))?;
    for (name, dev) in devices {
        let new_name = dev.name().as_deref().filter(|n| !n.is_empty()).unwrap_or(name);
        move_one(&host, &inside, name, new_name, pid)
            .map_err(|e| ContainerError::Other(format!("linux.netDevices.{name}: {e}")))?;
    }
    Ok(())
}

fn move_one(host: &Socket, inside: &Socket, name: &str, new_name: &str, pid: i32) -> std::io::Result<()> {
    let index = netlink::if_index(name)?;
    let before = netlink::names_in_netns_of(pid)?;
    // Checked first: the kernel would move the device before failing to
    // rename it, and lose it with the namespace. A name with `%d` is a
    // template the kernel completes.
    if !new_name.contains("%d") && before.iter().any(|n| n == new_name) {
        return Err(std::io::Error::other(format!(
            "an interface named {new_name:?} already exists in the container's network namespace"
        )));
    }
    let addrs = host.permanent_addrs(index)?;
    host.move_link(index, pid, new_name)?;
    if addrs.is_empty() {
        return Ok(());
    }
    // The name it got (a template's is known only now), then its index
    // there, which the move may have changed.
    let got = netlink::names_in_netns_of(pid)?.into_iter().find(|n| !before.contains(n));
    let got = got.ok_or_else(|| std::io::Error::other("the moved interface is not in the container's namespace"))?;
    inside.add_addrs(inside.link_index(&got)?, &addrs)
}
