//! linux.netDevices: a host interface moved into the container's network
//! namespace under the asked name.

mod common;
use common::*;
use serde_json::json;
use std::process::Command;

/// `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A veth pair made by the test: `inside` is moved into the container,
/// `outside` stays on the host and is deleted on drop (with its peer, if
/// that is still here).
struct Veth {
    inside: String,
    outside: String,
}

impl Veth {
    fn new(tag: &str) -> Veth {
        let n = std::process::id() % 100000;
        let v = Veth { inside: format!("nk{tag}{n}a"), outside: format!("nk{tag}{n}b") };
        ip(&["link", "add", &v.inside, "type", "veth", "peer", "name", &v.outside]);
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.outside]).output();
    }
}

fn link_exists(name: &str) -> bool {
    Path::new(&format!("/sys/class/net/{name}")).exists()
}
use std::path::Path;

#[test]
fn a_veth_end_is_moved_in_and_renamed() {
    let v = Veth::new("d");
    let (inside, outside) = (v.inside.clone(), v.outside.clone());
    let b = Bundle::new("netdev", &["sh", "-c", "ls /sys/class/net"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ inside.clone(): {"name": "eth7"} }));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let names: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
    assert!(names.contains(&"eth7".to_string()), "{names:?}");
    assert!(!link_exists(&inside), "still on the host");
    b.assert_clean();
    // The namespace is gone, and the veth pair with it.
    let t = std::time::Instant::now();
    while link_exists(&outside) {
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "peer left behind");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// config-linux.md "Network Devices": the device keeps its permanent
/// global addresses (IPv4 and IPv6; the kernel drops them on the move),
/// not the link-local ones the kernel makes itself.
#[test]
fn a_moved_device_keeps_its_permanent_addresses() {
    let v = Veth::new("a");
    let inside = v.inside.clone();
    ip(&["addr", "add", "10.213.7.2/24", "brd", "10.213.7.255", "dev", &inside]);
    ip(&["-6", "addr", "add", "fd00:db8:7::2/64", "dev", &inside, "nodad"]);
    let b = Bundle::new("netdev-addr", &["sh", "-c", "busybox ip -o addr show dev eth3"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ inside.clone(): {"name": "eth3"} }));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("inet 10.213.7.2/24 brd 10.213.7.255 scope global eth3"), "{shown}");
    assert!(shown.contains("inet6 fd00:db8:7::2/64 scope global"), "{shown}");
    assert_eq!(shown.matches("inet").count(), 2 + shown.matches("scope link").count(), "{shown}");
    b.assert_clean();
}

/// config-linux.md "Network Devices": the device is set up in the
/// container; a name that already exists there is an error, unless it is
/// a `%d` template, which the kernel completes.
#[test]
fn a_moved_device_is_up_and_name_clashes_follow_the_template_rule() {
    let v = Veth::new("u");
    let inside = v.inside.clone();
    // "lo" is there already in the new network namespace.
    let b = Bundle::new("netdev-clash", &["true"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ inside.clone(): {"name": "lo"} }));
    assert_one_line_error(&b.with_bundle("run", &[]), &format!("linux.netDevices.{inside}"));
    b.assert_clean();
    assert!(link_exists(&inside), "a refused device must stay on the host");
    // A template: the kernel picks the first free eth<N>; IFF_UP (0x1) is set.
    let b = Bundle::new("netdev-up", &["sh", "-c", "ls /sys/class/net; cat /sys/class/net/eth0/flags"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ inside.clone(): {"name": "eth%d"} }));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let words: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
    assert_eq!(words[..2], ["eth0", "lo"], "{words:?}");
    let flags = u32::from_str_radix(words[2].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "eth0 is not up: flags {flags:#x}");
    b.assert_clean();
}

#[test]
fn bad_net_devices_are_refused_by_name() {
    let b = Bundle::new("netdev-bad", &["true"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({"nook-no-such0": {}}));
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.netDevices.nook-no-such0");
    b.assert_clean();
    b.edit(|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network"));
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.netDevices.nook-no-such0: needs a new network");
    b.assert_clean();
}
