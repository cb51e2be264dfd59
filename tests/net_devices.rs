//! linux.netDevices: a host interface moved into the container's network
//! namespace under the asked name.

mod common;
use common::*;
use serde_json::json;
use std::process::Command;

struct Veth(String);
impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

fn link_exists(name: &str) -> bool {
    Path::new(&format!("/sys/class/net/{name}")).exists()
}
use std::path::Path;

#[test]
fn a_veth_end_is_moved_in_and_renamed() {
    let n = std::process::id() % 100000;
    let (inside, outside) = (format!("nkd{n}a"), format!("nkd{n}b"));
    let st =
        Command::new("ip").args(["link", "add", &inside, "type", "veth", "peer", "name", &outside]).status().unwrap();
    assert!(st.success());
    let _guard = Veth(outside.clone());
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
