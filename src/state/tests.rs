//! Unit tests of the state directory: ids, locking, status, removal.

use super::*;

#[test]
fn a_lock_left_with_a_clone_of_a_dead_locker_is_free() {
    let dir = std::env::temp_dir().join(format!("nook-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Held by a live process (ourselves, through another open file).
    let held = nix::fcntl::Flock::lock(File::open(&dir).unwrap(), nix::fcntl::FlockArg::LockExclusive).unwrap();
    assert!(locked_by_other(&dir));
    drop(held);
    assert!(!locked_by_other(&dir));
    // Taken by a process that then dies, its clone keeping the fd.
    let (r, w) = nix::unistd::pipe().unwrap();
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let f = File::open(&dir).unwrap();
            let _lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).unwrap();
            if let nix::unistd::ForkResult::Child = unsafe { nix::unistd::fork() }.unwrap() {
                // The clone: holds the lock's fd until the pipe closes.
                drop(w);
                let mut b = [0u8; 1];
                let _ = nix::unistd::read(&r, &mut b);
                unsafe { libc::_exit(0) }
            }
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            nix::sys::wait::waitpid(child, None).unwrap();
            drop(r);
            let still_held =
                nix::fcntl::Flock::lock(File::open(&dir).unwrap(), nix::fcntl::FlockArg::LockExclusiveNonblock);
            assert!(still_held.is_err(), "the clone should still hold the lock");
            assert!(!locked_by_other(&dir), "a dead locker's lock counts as held");
            drop(w);
        }
    }
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn ids_are_checked_like_runc() {
    for good in ["a", "abc-1.2_3+x", "A"] {
        validate_id(good).unwrap();
    }
    for bad in ["", ".", "..", "a/b", "../x", "a b", "é", "a\nb"] {
        assert!(validate_id(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn owner_names_come_from_passwd() {
    let passwd = "root:x:0:0:root:/root:/bin/sh\nbin:x:2:2::/:\nbad line\n";
    assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
    assert_eq!(user_name(passwd, 2).as_deref(), Some("bin"));
    assert_eq!(user_name(passwd, 7), None);
}

#[test]
fn proc_stat_reads_our_own_start_time() {
    let (start, state) = proc_stat(std::process::id() as i32).unwrap();
    assert!(start > 0);
    assert!(state == 'R' || state == 'S', "{state}");
    assert!(proc_stat(0).is_none());
}

#[test]
fn only_a_stateless_dir_is_removed_as_one() {
    let root = std::env::temp_dir().join(format!("nook-stateless-{}", std::process::id()));
    std::fs::create_dir_all(root.join("bare")).unwrap();
    assert!(ContainerDir::remove_stateless(&root, "bare").unwrap());
    assert!(!root.join("bare").exists());
    assert!(matches!(ContainerDir::remove_stateless(&root, "bare"), Err(StateError::NotFound(_))));
    std::fs::create_dir_all(root.join("full")).unwrap();
    std::fs::write(root.join("full").join(STATE_FILE), "{}").unwrap();
    assert!(!ContainerDir::remove_stateless(&root, "full").unwrap());
    assert!(root.join("full").exists());
    // The seal's scratch dir is no container; a bare dir is one.
    std::fs::create_dir_all(root.join(SEAL_DIR)).unwrap();
    std::fs::create_dir_all(root.join("bare")).unwrap();
    assert_eq!(list_ids(&root).unwrap(), ["bare", "full"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn state_dir_is_exclusive_and_removable() {
    let root = std::env::temp_dir().join(format!("nook-state-{}", std::process::id()));
    let dir = ContainerDir::create(&root, "c1").unwrap();
    assert!(matches!(ContainerDir::create(&root, "c1"), Err(StateError::AlreadyExists(_))));
    let st = State {
        oci_version: "1.3.0".into(),
        id: "c1".into(),
        pid: 0,
        init_start_time: 0,
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        created: rfc3339(std::time::SystemTime::now()),
        annotations: Default::default(),
        cgroup: None,
        systemd_unit: None,
        hooks: None,
        host_rootfs_mount: None,
    };
    dir.save(&st).unwrap();
    assert_eq!(dir.load().unwrap().id, "c1");
    // pid 0 while we hold the lock is a create in progress.
    let p = dir.path.clone();
    assert_eq!(status(&p, &st), Status::Creating);
    dir.remove().unwrap();
    assert!(matches!(ContainerDir::open(&root, "c1"), Err(StateError::NotFound(_))));
    std::fs::remove_dir_all(&root).unwrap();
}
