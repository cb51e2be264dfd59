//! What the CRIU suite (tests/vm_criu.rs) shares: CRIU's kernel modules,
//! a busybox container that counts, the runtime it drives (nook, or runc
//! named by NOOK_CRIU_RUNTIME, to compare), and a console-socket receiver.

use crate::common::clients::PATIENCE;
use crate::common::*;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What CRIU's dump needs that the test VM's kernel does not load by
/// itself: netfilter (CRIU's kernel checks, the conntrack dump) and the
/// socket diagnostics it collects sockets with.
const MODULES: &[&str] = &[
    "nf_tables",
    "nf_conntrack_netlink",
    "unix_diag",
    "inet_diag",
    "tcp_diag",
    "udp_diag",
    "raw_diag",
    "netlink_diag",
    "af_packet_diag",
];

/// Loads CRIU's modules (once), in the test VM only.
pub fn criu_ready() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    assert_eq!(std::env::var("NOOK_IN_VM").as_deref(), Ok("1"), "only in the test VM");
    ONCE.call_once(|| {
        let st = Command::new("modprobe").arg("-a").args(MODULES).status().unwrap();
        assert!(st.success(), "modprobe {MODULES:?}");
    });
}

/// The runtime under test: nook, or NOOK_CRIU_RUNTIME (/usr/sbin/runc).
pub fn runtime() -> String {
    crate::common::clients::runtime("NOOK_CRIU_RUNTIME")
}

/// The counting loop: a random token (only in the shell's memory) and a
/// counter, one line a step, echoed with `redirect` after `setup`.
pub fn counter(setup: &str, redirect: &str) -> String {
    format!("tok=$RANDOM$RANDOM; i=0; {setup} while :; do i=$((i+1)); echo \"$tok $i\"{redirect}; sleep 0.3; done")
}

/// (token, counter) lines.
pub fn parse(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (t, n) = l.trim().split_once(' ')?;
            Some((t.to_owned(), n.parse().ok()?))
        })
        .collect()
}

/// A container whose program counts into /out/log, a bind of the
/// bundle's `out` directory, through an fd it holds open.
pub struct Counter {
    pub b: Bundle,
    pub out: PathBuf,
    /// The runtime's own log (`--log`): its errors, since the containers
    /// it starts detached get /dev/null as stdio.
    pub log: PathBuf,
    /// `--systemd-cgroup` on every command.
    pub systemd: bool,
}

impl Counter {
    pub fn new(name: &str) -> Counter {
        Self::with_program(name, &counter("exec 3>>/out/log;", " >&3"))
    }

    pub fn with_program(name: &str, script: &str) -> Counter {
        criu_ready();
        let b = Bundle::new(name, &["sh", "-c", script]);
        let out = b.dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let src = out.to_str().unwrap().to_owned();
        b.edit(|c| {
            let m = serde_json::json!({"destination": "/out", "type": "bind", "source": src, "options": ["rbind"]});
            c["mounts"].as_array_mut().unwrap().push(m);
        });
        let log = b.dir.join("runtime.log");
        Counter { b, out, log, systemd: false }
    }

    /// `<runtime> --root <root> --log <log> <args>`, stdio /dev/null.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runtime());
        c.arg("--root").arg(&self.b.root).arg("--log").arg(&self.log);
        if self.systemd {
            c.arg("--systemd-cgroup");
        }
        c.args(args);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// Runs the runtime; on failure, panics with its log.
    pub fn ok(&self, args: &[&str]) {
        let st = self.cmd(args).status().unwrap();
        assert!(st.success(), "{args:?}: {st}\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    /// `state` as JSON, None when the runtime does not know the container.
    pub fn state(&self) -> Option<serde_json::Value> {
        let mut c = self.cmd(&["state", &self.b.id]);
        c.stdout(Stdio::piped());
        let out: Output = c.output().unwrap();
        out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn status_pid(&self) -> (String, i64) {
        let s = self.state().expect("the container exists");
        (s["status"].as_str().unwrap().to_owned(), s["pid"].as_i64().unwrap())
    }

    pub fn run_detached(&self) {
        self.ok(&["run", "-d", "--bundle", self.b.dir.to_str().unwrap(), &self.b.id]);
    }

    pub fn restore_detached(&self, images: &Path, extra: &[&str]) {
        let mut a = vec!["restore", "-d", "--image-path", images.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.extend(["--bundle", self.b.dir.to_str().unwrap(), &self.b.id]);
        self.ok(&a);
    }

    pub fn checkpoint(&self, images: &Path, extra: &[&str]) {
        let mut a = vec!["checkpoint", "--image-path", images.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.push(&self.b.id);
        self.ok(&a);
    }

    pub fn lines(&self) -> Vec<(String, u64)> {
        parse(&std::fs::read_to_string(self.out.join("log")).unwrap_or_default())
    }

    /// Waits until the log has more than `n` lines; returns them.
    pub fn wait_lines(&self, n: usize) -> Vec<(String, u64)> {
        wait_until(&format!("{} lines in the log", n + 1), PATIENCE, || self.lines().len() > n);
        self.lines()
    }

    /// Deletes the container (killing it) and checks nothing is left.
    pub fn finish(&self) {
        self.ok(&["delete", "--force", &self.b.id]);
        self.b.assert_clean();
    }
}

/// Checks that lines[from..] go on from `last` (token and counter),
/// one step at a time.
pub fn assert_goes_on(lines: &[(String, u64)], from: usize, tok: &str, last: u64) {
    let after = &lines[from..];
    assert!(!after.is_empty(), "nothing after line {from}");
    for (k, (t, n)) in after.iter().enumerate() {
        assert_eq!(t, tok, "line {}: another token: the memory was not restored", from + k);
        assert_eq!(*n, last + 1 + k as u64, "line {}: the counter did not go on: {lines:?}", from + k);
    }
}

/// A `--console-socket` receiver.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new(dir: &Path, name: &str) -> ConsoleSocket {
        let path = dir.join(name);
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { path, listener }
    }

    /// Accepts the runtime's connection and receives the pty master.
    pub fn receive(&self) -> std::fs::File {
        let t = Instant::now();
        let (conn, _) = loop {
            match self.listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(t.elapsed() < PATIENCE, "nothing connected to the console socket");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 4096];
        let (_, fd) = nook::sys::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
        fd.expect("a pty master").into()
    }
}

/// Reads from `f` (a pty master or a pipe) until `done` holds for what
/// came; returns it.
pub fn read_until(f: &mut std::fs::File, what: &str, mut done: impl FnMut(&str) -> bool) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut seen = Vec::new();
    let t = Instant::now();
    while !done(&String::from_utf8_lossy(&seen)) {
        assert!(t.elapsed() < PATIENCE, "{what} never came; got {:?}", String::from_utf8_lossy(&seen));
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(200u16)).unwrap() == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) | Err(_) => panic!("{what}: closed; got {:?}", String::from_utf8_lossy(&seen)),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}
