//! Mount propagation between the host and a container's volumes, as runc
//! 1.1 gives it (Kubernetes' CRI mount-propagation test): a shared host
//! directory bound with `rshared` under `linux.rootfsPropagation: rshared`
//! is one peer group with the host, both ways (Bidirectional); `rslave`
//! receives the host's mounts only (HostToContainer).

mod common;
use common::*;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A directory of the bundle bound onto itself and made shared in a peer
/// group of its own; on drop, detached with everything mounted below it.
struct SharedDir(PathBuf);

impl SharedDir {
    fn new(b: &Bundle) -> SharedDir {
        let d = b.dir.join("vol");
        std::fs::create_dir_all(&d).unwrap();
        mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let dir = SharedDir(d);
        for flag in [MsFlags::MS_PRIVATE, MsFlags::MS_SHARED] {
            mount(None::<&str>, &dir.0, None::<&str>, flag, None::<&str>).unwrap();
        }
        dir
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// Whether `mountinfo` has a mount at `point`.
fn has_mount(mountinfo: &str, point: &Path) -> bool {
    mountinfo.lines().any(|l| l.split(' ').nth(4) == Some(point.to_str().unwrap()))
}

/// Runs a container with the shared directory bound at /vol, mounts a
/// tmpfs under it on each side, and says which side saw the other's:
/// (host → container, container → host).
fn propagation(root: Option<&str>, volume: &str) -> (bool, bool) {
    let b = Bundle::new("mntprop", &["sleep", "100"]);
    let vol = SharedDir::new(&b);
    b.edit(|c| {
        if let Some(p) = root {
            c["linux"]["rootfsPropagation"] = p.into();
        }
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/vol", "type": "bind", "source": vol.0, "options": ["rbind", volume]
        }));
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_ADMIN".into());
        }
    });
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));

    let from_host = vol.0.join("fromhost");
    std::fs::create_dir(&from_host).unwrap();
    mount(Some("tmpfs"), &from_host, Some("tmpfs"), MsFlags::empty(), None::<&str>).unwrap();
    let out = b.nook(&["exec", &b.id, "cat", "/proc/self/mountinfo"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let host_to_container = has_mount(&stdout(&out), Path::new("/vol/fromhost"));

    let out = b.nook(&["exec", &b.id, "sh", "-c", "mkdir /vol/fromctr && mount -t tmpfs tmpfs /vol/fromctr"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let container_to_host =
        has_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap(), &vol.0.join("fromctr"));

    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    drop(vol);
    b.assert_clean();
    (host_to_container, container_to_host)
}

#[test]
fn an_rshared_volume_under_an_rshared_root_is_bidirectional() {
    assert_eq!(propagation(Some("rshared"), "rshared"), (true, true));
}

#[test]
fn an_rslave_volume_receives_the_hosts_mounts_only() {
    assert_eq!(propagation(Some("rslave"), "rslave"), (true, false));
    // The default root propagation is rslave: a volume asking for rshared
    // is still a slave of the host's (runc's result too).
    assert_eq!(propagation(None, "rshared"), (true, false));
}

#[test]
fn an_rprivate_root_cuts_the_volume_off() {
    assert_eq!(propagation(Some("rprivate"), "rshared"), (false, false));
}
