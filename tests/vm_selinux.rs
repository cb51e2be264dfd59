//! `process.selinuxLabel` and `linux.mountLabel` for real, in the test VM
//! booted with `security=selinux` (AppArmor is the guest kernel's default
//! LSM) and a tiny MLS policy compiled here with checkpolicy and loaded
//! through selinuxfs. The guest stays permissive (no `enforcing=1`): the
//! policy only has to make the labels valid, so what is shown is that nook
//! puts the labels where they belong (the program's domain after exec, its
//! session keyring, the container's filesystems), not what a real policy
//! would then allow. Ignored on the host; in `make test-vm` as
//! `NOOK_VM_KERNEL_ARGS=security=selinux integration/vm/cargo-test-in-vm
//! --test vm_selinux -- --include-ignored`.

mod common;
use common::*;
use std::process::Command;

const PROCESS_LABEL: &str = "system_u:system_r:container_t:s0:c1,c2";
const MOUNT_LABEL: &str = "system_u:object_r:container_file_t:s0:c1,c2";

/// Just enough policy for the labels above to be valid contexts: the
/// classes and permissions the kernel insists on, MLS with c0..c2,
/// nnp_nosuid_transition (runc's default spec sets noNewPrivileges), and
/// transition labelling for the filesystems a container mounts.
const POLICY: &str = r#"
class security
class process
class file
class dir
class filesystem
class key
sid kernel
sid security
sid unlabeled
sid fs
sid file
class security { load_policy }
class process { transition dyntransition setexec setkeycreate setcurrent }
class file { read write }
class dir { read }
class filesystem { mount relabelfrom relabelto associate }
class key { view }
sensitivity s0;
dominance { s0 }
category c0;
category c1;
category c2;
level s0:c0.c2;
mlsconstrain file { read } ( l1 eq l2 or l1 domby l2 );
policycap nnp_nosuid_transition;
type kernel_t;
type container_t;
type file_t;
type container_file_t;
role system_r;
role system_r types { kernel_t container_t };
allow kernel_t container_t:process transition;
allow container_t container_file_t:file { read write };
user system_u roles { system_r } level s0 range s0 - s0:c0.c2;
sid kernel system_u:system_r:kernel_t:s0
sid security system_u:object_r:kernel_t:s0
sid unlabeled system_u:object_r:file_t:s0
sid fs system_u:object_r:file_t:s0
sid file system_u:object_r:file_t:s0
fs_use_trans tmpfs system_u:object_r:file_t:s0;
fs_use_trans devpts system_u:object_r:file_t:s0;
fs_use_trans mqueue system_u:object_r:file_t:s0;
"#;

fn load_policy() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        assert!(
            std::path::Path::new("/sys/fs/selinux/load").exists(),
            "SELinux is not enabled: this suite needs the VM booted with security=selinux"
        );
        let dir = std::env::temp_dir();
        let (src, bin) = (dir.join("nook-test.policy.conf"), dir.join("nook-test.policy"));
        std::fs::write(&src, POLICY).unwrap();
        let out = Command::new("checkpolicy")
            .args(["-M", "-U", "allow", "-c", "33", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("checkpolicy");
        assert!(out.status.success(), "checkpolicy: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write("/sys/fs/selinux/load", std::fs::read(&bin).unwrap()).expect("loading the policy");
    });
}

fn bundle(name: &str, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    load_policy();
    let b = Bundle::new(name, args);
    b.edit(edit);
    b
}

fn ok(o: &std::process::Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    stdout(o)
}

/// The SELinux label of key `serial` (KEYCTL_GET_SECURITY).
fn key_label(serial: i32) -> String {
    const KEYCTL_GET_SECURITY: libc::c_long = 17;
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are valid for the call.
    let n = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_GET_SECURITY, serial, buf.as_mut_ptr(), buf.len()) };
    assert!(n > 0, "keyctl(GET_SECURITY, {serial}): {}", std::io::Error::last_os_error());
    String::from_utf8_lossy(&buf[..n as usize]).trim_end_matches('\0').to_owned()
}

/// The serial of the session keyring nook made for container `id`.
fn session_keyring(id: &str) -> i32 {
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let line = keys.lines().find(|l| l.contains(&format!(" _ses.{id}:")));
    let line = line.unwrap_or_else(|| panic!("no _ses.{id} keyring in /proc/keys:\n{keys}"));
    i32::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

#[test]
#[ignore = "needs SELinux: runs in the test VM with security=selinux"]
fn the_process_label_applies_to_the_program_and_its_keyring() {
    let b = bundle("se-label", &["sleep", "1000"], |c| c["process"]["selinuxLabel"] = PROCESS_LABEL.into());
    ok(&b.with_bundle("run", &["--detach"]), "run -d");
    let pid = b.state()["pid"].as_i64().unwrap();
    let current = std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap();
    assert_eq!(current.trim_end_matches('\0'), PROCESS_LABEL);
    assert_eq!(key_label(session_keyring(&b.id)), PROCESS_LABEL);
    // nook exec: the container's label by default, --process-label's if given.
    let exec = |extra: &[&str]| {
        let mut a = vec!["exec"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[&b.id, "cat", "/proc/self/attr/current"]);
        ok(&b.nook(&a), "exec").trim_end_matches('\0').to_owned()
    };
    assert_eq!(exec(&[]), PROCESS_LABEL);
    assert_eq!(
        exec(&["--process-label", "system_u:system_r:container_t:s0:c0"]),
        "system_u:system_r:container_t:s0:c0"
    );
    // Without a label, the program keeps nook's.
    let plain = bundle("se-none", &["cat", "/proc/self/attr/current"], |_| {});
    assert_eq!(ok(&plain.with_bundle("run", &[]), "run").trim_end_matches('\0'), "system_u:system_r:kernel_t:s0");
}

#[test]
#[ignore = "needs SELinux: runs in the test VM with security=selinux"]
fn the_mount_label_is_the_context_of_the_containers_filesystems() {
    let b = bundle("se-mount", &["sleep", "1000"], |c| c["linux"]["mountLabel"] = MOUNT_LABEL.into());
    ok(&b.with_bundle("run", &["--detach"]), "run -d");
    let pid = b.state()["pid"].as_i64().unwrap();
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let super_opts = |dest: &str| {
        let line = mountinfo
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("{dest} not mounted:\n{mountinfo}"));
        line.rsplit(' ').next().unwrap().to_owned()
    };
    let context = format!("context=\"{MOUNT_LABEL}\"");
    // runc's set: every new filesystem but proc, sysfs and mqueue (and
    // cgroup, bind mounts); the masked directories' tmpfs too.
    for dest in ["/dev", "/dev/pts", "/dev/shm"] {
        assert!(super_opts(dest).contains(&context), "{dest}: {}", super_opts(dest));
    }
    for dest in ["/proc", "/sys", "/dev/mqueue"] {
        assert!(!super_opts(dest).contains("context="), "{dest}: {}", super_opts(dest));
    }
    assert!(super_opts("/sys/firmware").contains(&context), "masked /sys/firmware: {}", super_opts("/sys/firmware"));
    // Files there carry the label; mqueue's root is labelled after mounting.
    let label = |path: &str| {
        let p = std::ffi::CString::new(format!("/proc/{pid}/root{path}")).unwrap();
        let mut buf = [0u8; 256];
        // SAFETY: valid path and buffer.
        let n = unsafe { libc::getxattr(p.as_ptr(), c"security.selinux".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        assert!(n > 0, "getxattr {path}: {}", std::io::Error::last_os_error());
        String::from_utf8_lossy(&buf[..n as usize]).trim_end_matches('\0').to_owned()
    };
    assert_eq!(label("/dev/shm"), MOUNT_LABEL);
    assert_eq!(label("/dev/null"), MOUNT_LABEL);
    assert_eq!(label("/dev/mqueue"), MOUNT_LABEL);
}

#[test]
#[ignore = "needs SELinux: runs in the test VM with security=selinux"]
fn labels_the_policy_rejects_fail_create_cleanly() {
    let bad = "system_u:system_r:no_such_t:s0";
    let b = bundle("se-bad-label", &["true"], |c| c["process"]["selinuxLabel"] = bad.into());
    assert_one_line_error(&b.with_bundle("run", &[]), "process.selinuxLabel: \"system_u:system_r:no_such_t:s0\"");
    b.assert_clean();
    let b = bundle("se-bad-mount", &["true"], |c| c["linux"]["mountLabel"] = bad.into());
    assert_one_line_error(&b.with_bundle("run", &[]), "(with context= from linux.mountLabel)");
    b.assert_clean();
}
