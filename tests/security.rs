//! Attacks from the known runc CVEs; each must fail.

mod common;
use common::*;
use serde_json::json;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// CVE-2019-5736: a process in the container keeps an O_PATH handle on
/// /proc/<init>/exe (nook's image until init execs) and, once init has
/// exec'd, reopens it for writing to overwrite the host's runtime binary.
#[test]
fn the_nook_binary_cannot_be_overwritten_through_proc_exe() {
    let b = Bundle::new("cve-2019-5736", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let pid = b.state()["pid"].as_i64().unwrap();
    let handle =
        std::fs::File::options().read(true).custom_flags(libc::O_PATH).open(format!("/proc/{pid}/exe")).unwrap();
    // It really is nook's image: the same bytes as the binary we ran.
    let via_handle = std::fs::read(format!("/proc/self/fd/{}", handle.as_raw_fd())).unwrap();
    assert_eq!(via_handle, std::fs::read(NOOK).unwrap(), "init is not running nook's image");

    assert!(b.nook(&["start", &b.id]).status.success());
    let t = Instant::now();
    while !std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.ends_with("sleep")).unwrap_or(false) {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
    // Now nothing runs that image: the write must fail because the file
    // sits on a read-only mount, not because it is busy.
    let err = std::fs::File::options()
        .write(true)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()))
        .expect_err("nook's binary was opened for writing from the container's view");
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
}

/// Mount destinations that climb out through symlinks or `..` land inside
/// the rootfs (CVE-2025-52565 class, and runc's older securejoin bugs).
#[test]
fn mount_destinations_cannot_escape_the_rootfs() {
    let b = Bundle::new("escape", &["sh", "-c", "test -d /evil/x && test -d /rel/y && test -d /z"]);
    let outside = b.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let rootfs = b.dir.join("rootfs");
    std::os::unix::fs::symlink(&outside, rootfs.join("evil")).unwrap();
    std::os::unix::fs::symlink("../../outside", rootfs.join("rel")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        for d in ["/evil/x", "/rel/y", "/../../../z"] {
            m.push(json!({"destination": d, "type": "tmpfs", "source": "tmpfs"}));
        }
        c["root"]["readonly"] = false.into();
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "a mount point was created outside the rootfs");
    assert!(!b.dir.join("z").exists());
    b.assert_clean();
}

/// CVE-2025-31133: an image whose /dev/null is a symlink to a sensitive
/// procfs file must not turn "masking" into exposing that file.
#[test]
fn a_dev_null_symlink_in_the_image_does_not_redirect_masking() {
    let script = "test -c /dev/null && test ! -L /dev/null && cat /proc/keys | wc -c";
    let b = Bundle::new("cve-2025-31133", &["sh", "-c", script]);
    let dev = b.dir.join("rootfs/dev");
    std::fs::create_dir_all(&dev).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    // No tmpfs over /dev: the image's own /dev is what nook works in.
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
        c["root"]["readonly"] = false.into();
    });
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0", "/proc/keys was not masked");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), before);
    b.assert_clean();
}

/// CVE-2024-21626: no fd of nook's reaches the container, so none can be
/// used as a cwd or through /proc/self/fd to reach the host.
#[test]
fn no_fd_of_nooks_leaks_into_the_container() {
    let b = Bundle::new("cve-2024-21626", &["sh", "-c", "for f in /proc/self/fd/*; do readlink $f; done; true"]);
    // An fd nook inherits but is not asked to preserve must not get through.
    let leaked = std::fs::File::open(&b.dir).unwrap();
    let fd = leaked.as_raw_fd();
    let mut c = b.cmd(&["run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    unsafe {
        use std::os::unix::process::CommandExt;
        c.pre_exec(move || {
            // Clear close-on-exec so nook really inherits it.
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = output_via_files(c);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(!s.contains(b.dir.to_str().unwrap()), "a host directory fd leaked in: {s}");
    assert!(s.lines().count() <= 4, "expected stdin, stdout, stderr and at most the glob's own fd: {s}");
    b.assert_clean();
}

/// CVE-2026-41579 class: an image whose /dev is a symlink out of the rootfs
/// must not make nook mount or create device nodes on the host.
#[test]
fn a_dev_symlink_in_the_image_stays_inside_the_rootfs() {
    let b = Bundle::new("dev-symlink", &["sh", "-c", "test -c /dev/null && echo ok"]);
    let outside = b.dir.join("host-dev");
    std::fs::create_dir_all(&outside).unwrap();
    let rootfs = b.dir.join("rootfs");
    let _ = std::fs::remove_dir_all(rootfs.join("dev"));
    std::os::unix::fs::symlink(&outside, rootfs.join("dev")).unwrap();
    b.edit(|c| c["root"]["readonly"] = false.into());
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nook wrote into the host directory /dev pointed at"
    );
    b.assert_clean();
}

/// A running container with CAP_SYS_ADMIN, a writable root and a tmpfs at
/// /tmp, running `script` to play tricks with its /proc; and its init's pid.
fn procfs_attacker(name: &str, script: &str) -> (Bundle, i64) {
    let attacker = Bundle::new(name, &["sh", "-c", script]);
    attacker.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_ADMIN".into());
        }
    });
    assert!(attacker.with_bundle("run", &["--detach"]).status.success());
    let apid = attacker.state()["pid"].as_i64().unwrap();
    (attacker, apid)
}

/// A container joining the attacker's mount namespace that asks nook for a
/// sysctl (777) and an oomScoreAdj (555). As with runc, its root is set up
/// inside the joined namespace: its rootfs path is given a `true` there
/// (under the attacker's /tmp), so that the victim can be created. It is
/// created with --no-pivot: a pivot_root in the shared namespace would move
/// the attacker's root too.
fn procfs_victim(name: &str, apid: i64) -> Bundle {
    let victim = Bundle::new(name, &["true"]);
    let there = std::path::PathBuf::from(format!("/proc/{apid}/root{}/rootfs/bin", victim.dir.display()));
    std::fs::create_dir_all(&there).unwrap();
    std::fs::copy("/bin/busybox", there.join("true")).unwrap();
    let mnt = format!("/proc/{apid}/ns/mnt");
    victim.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "mount");
        ns.push(json!({"type": "mount", "path": mnt}));
        c["linux"]["sysctl"] = json!({"net.core.somaxconn": "777"});
        c["process"]["oomScoreAdj"] = 555.into();
    });
    victim
}

/// CVE-2025-52881 class: procfs writes redirected by mounts the container
/// controls. An attacking container covers its /proc with a tmpfs holding
/// look-alike files; a second container joins its mount namespace and asks
/// for a sysctl and an oomScoreAdj. nook must write the real procfs files
/// (its own private procfs handle), never the attacker's.
#[test]
fn procfs_writes_ignore_mounts_made_by_a_container() {
    let script = "mount -t tmpfs t /proc && mkdir -p /proc/self /proc/sys/net/core \
                  && echo decoy > /proc/self/oom_score_adj && echo decoy > /proc/sys/net/core/somaxconn \
                  && touch /tmp/ready; sleep 1000";
    let (attacker, apid) = procfs_attacker("cve-2025-52881-a", script);
    let t = Instant::now();
    while std::fs::metadata(format!("/proc/{apid}/root/tmp/ready")).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "the attacking container never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let decoy = |f: &str| std::fs::read_to_string(format!("/proc/{apid}/root/proc/{f}"));

    let victim = procfs_victim("cve-2025-52881-b", apid);
    let out = victim.with_bundle("create", &["--no-pivot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let vpid = victim.state()["pid"].as_i64().unwrap().to_string();
    assert_eq!(decoy("self/oom_score_adj").unwrap(), "decoy\n", "oomScoreAdj went into the attacker's file");
    assert_eq!(decoy("sys/net/core/somaxconn").unwrap(), "decoy\n", "the sysctl went into the attacker's file");
    // And the real files got the values.
    assert_eq!(std::fs::read_to_string(format!("/proc/{vpid}/oom_score_adj")).unwrap().trim(), "555");
    let netns = format!("--net=/proc/{vpid}/ns/net");
    let o = std::process::Command::new("nsenter").args([&netns, "cat", "/proc/sys/net/core/somaxconn"]).output();
    assert_eq!(String::from_utf8_lossy(&o.unwrap().stdout).trim(), "777");

    for b in [&victim, &attacker] {
        assert!(b.nook(&["delete", "--force", &b.id]).status.success());
        b.assert_clean();
    }
}

/// The racing form of the same attack: the attacking container mounts and
/// unmounts its look-alike /proc in a loop (logging what reached its files)
/// while containers joining its mount namespace are created one after the
/// other. None of their writes may land in the attacker's files.
#[test]
fn procfs_writes_ignore_mounts_raced_by_a_container() {
    let script = "while true; do mount -t tmpfs t /proc && mkdir -p /proc/self /proc/sys/net/core \
                  && touch /proc/self/oom_score_adj /proc/sys/net/core/somaxconn \
                  && cat /proc/self/oom_score_adj /proc/sys/net/core/somaxconn >> /tmp/log; umount /proc; \
                  echo >> /tmp/rounds; done";
    let (attacker, apid) = procfs_attacker("cve-2025-52881-race", script);
    let victim = procfs_victim("cve-2025-52881-racer", apid);
    for _ in 0..30 {
        // Each create either writes the real files or fails cleanly (a
        // raced /proc may also hide the program): never the decoys.
        if victim.with_bundle("create", &["--no-pivot"]).status.success() {
            let pid = victim.state()["pid"].as_i64().unwrap();
            assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap().trim(), "555");
        }
        assert!(victim.nook(&["delete", "--force", &victim.id]).status.success());
        victim.assert_clean();
    }
    let rounds = std::fs::read_to_string(format!("/proc/{apid}/root/tmp/rounds")).unwrap_or_default();
    assert!(rounds.lines().count() > 10, "the attacker's mount loop did not run");
    let log = std::fs::read_to_string(format!("/proc/{apid}/root/tmp/log")).unwrap_or_default();
    assert!(!log.contains("555") && !log.contains("777"), "a write reached the attacker's files: {log}");
    assert!(attacker.nook(&["delete", "--force", &attacker.id]).status.success());
    attacker.assert_clean();
}

/// runc's "--no-pivot must not expose bare /proc": a process that makes a
/// user namespace of its own may mount a procfs only where one is fully
/// visible in its mount namespace. With --no-pivot the host's /proc would
/// be one (the chroot leaves it there), and the new procfs would show what
/// maskedPaths hides; nook takes it out first, as runc does.
#[test]
fn no_pivot_does_not_let_the_container_mount_a_bare_proc() {
    let script = "mount -t proc none /proc && echo mounted-proc; mount -t sysfs none /sys && echo mounted-sysfs";
    for flags in [&["--no-pivot"][..], &[]] {
        let b = Bundle::new("barepro", &["unshare", "-mrpf", "sh", "-c", script]);
        b.edit(|c| {
            for set in ["bounding", "effective", "permitted"] {
                let caps = c["process"]["capabilities"][set].as_array_mut().unwrap();
                caps.extend([json!("CAP_SYS_ADMIN"), json!("CAP_SETFCAP")]);
            }
        });
        let out = b.with_bundle("run", flags);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!out.status.success() && !all.contains("mounted"), "{flags:?}: {all}");
        assert!(all.contains("permission denied"), "{flags:?}: {all}");
        b.assert_clean();
    }
}
