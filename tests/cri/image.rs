//! The suite's two images, built by the test and imported with `ctr -n
//! k8s.io images import` (no registry, nothing is ever pulled): the pod's
//! pause image (the sandbox_image) and a busybox test image.

use super::pause;
use crate::common::oci;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const PAUSE_IMAGE: &str = "nook.test/pause:3.9";
pub const IMAGE: &str = "nook.test/busybox:cri";

/// The test image's applets, hard links to busybox (busybox-static prefers
/// its own applets, and a masked symlinked applet would mask them all).
const APPLETS: &[&str] = &[
    "sh", "[", "cat", "cut", "dd", "echo", "grep", "head", "hostname", "id", "ls", "mkfifo", "mount", "readlink",
    "sleep", "stty", "test", "touch", "tr", "true", "tty", "umount", "wc",
];

/// The test image's files besides busybox: a user and groups for the
/// run-as tests, a file to mask and a directory to make read-only.
const FILES: &[(&str, &str)] = &[
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnook:x:1000:1001::/tmp:/bin/sh\n"),
    ("etc/group", "root:x:0:\nnook:x:1001:\nextra:x:1002:\n"),
    ("etc/secret", "secret\n"),
    ("etc/ro/file", "in a read-only path\n"),
];

/// `dir/pause/image.tar`: /pause alone, its entrypoint.
pub fn pause_image(dir: &Path) -> PathBuf {
    let dir = dir.join("pause");
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    pause::write(&rootfs.join("pause"));
    oci::archive(&dir, PAUSE_IMAGE, &rootfs, &["pause"], json!({"Entrypoint": ["/pause"], "WorkingDir": "/"}))
}

/// `dir/busybox/image.tar`: busybox with its applets, the files above,
/// empty mount points and a world-writable /tmp.
pub fn test_image(dir: &Path) -> PathBuf {
    let dir = dir.join("busybox");
    let rootfs = dir.join("rootfs");
    let entries = ["bin", "dev", "etc", "proc", "sys", "tmp"];
    for d in entries {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for a in APPLETS {
        std::fs::hard_link(rootfs.join("bin/busybox"), rootfs.join("bin").join(a)).unwrap();
    }
    for (path, text) in FILES {
        let p = rootfs.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let config = json!({"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"});
    oci::archive(&dir, IMAGE, &rootfs, &entries, config)
}
