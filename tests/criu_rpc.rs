//! nook's CRIU messages (src/criu/rpc.rs, generated from CRIU's rpc.proto)
//! against protoc reading the same schema: what nook encodes is what CRIU
//! decodes, field by field, and what CRIU sends nook reads back.

use nook::criu::rpc::*;
use prost::Message;
use std::io::Write;
use std::process::{Command, Stdio};

const PROTO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/criu");

fn protoc(mode: &str, message: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("protoc")
        .arg(format!("--{mode}={message}"))
        .arg("-I")
        .arg(PROTO_DIR)
        .arg("rpc.proto")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("protoc (Debian's protobuf-compiler; scripts/deps.sh test installs it)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "protoc: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn a_restore_request_reads_in_crius_schema_as_nook_wrote_it() {
    let opts = CriuOpts {
        images_dir_fd: 5,
        root: Some("/run/nook/x/criu-root".into()),
        rst_sibling: Some(true),
        manage_cgroups_mode: Some(CriuCgMode::Soft as i32),
        empty_ns: Some(libc::CLONE_NEWNET as u32),
        ext_mnt: vec![ExtMountMap { key: "/out".into(), val: "/srv/out".into() }],
        inherit_fd: vec![InheritFd { key: "pipe:[123]".into(), fd: 1 }],
        cg_root: vec![CgroupRoot { ctrl: None, path: "/c1".into() }],
        join_ns: vec![JoinNamespace { ns: "ipc".into(), ns_file: "/proc/1/ns/ipc".into(), extra_opt: None }],
        external: vec!["net[4026531840]:extRootNetNS".into()],
        lsm_mount_context: Some("system_u:object_r:container_file_t:s0".into()),
        ..Default::default()
    };
    let req = CriuReq { r#type: CriuReqType::Restore as i32, opts: Some(opts), ..Default::default() };
    let text = String::from_utf8(protoc("decode", "criu_req", &req.encode_to_vec())).unwrap();
    for want in [
        "type: RESTORE",
        "images_dir_fd: 5",
        "root: \"/run/nook/x/criu-root\"",
        "ext_mnt {\n    key: \"/out\"\n    val: \"/srv/out\"\n  }",
        "rst_sibling: true",
        "inherit_fd {\n    key: \"pipe:[123]\"\n    fd: 1\n  }",
        "cg_root {\n    path: \"/c1\"\n  }",
        "manage_cgroups_mode: SOFT",
        "external: \"net[4026531840]:extRootNetNS\"",
        "empty_ns: 1073741824",
        "join_ns {\n    ns: \"ipc\"\n    ns_file: \"/proc/1/ns/ipc\"\n  }",
        "lsm_mount_context: \"system_u:object_r:container_file_t:s0\"",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}

#[test]
fn crius_answers_read_back_as_criu_wrote_them() {
    let text = b"type: NOTIFY\nsuccess: true\nnotify { script: \"post-restore\" pid: 4242 }\n\
                 cr_errno: 0\nversion { major_number: 3 minor_number: 17 sublevel: 1 }\n";
    let resp = CriuResp::decode(&protoc("encode", "criu_resp", text)[..]).unwrap();
    assert_eq!(resp.r#type, CriuReqType::Notify as i32);
    assert!(resp.success);
    let n = resp.notify.unwrap();
    assert_eq!((n.script.as_deref(), n.pid), (Some("post-restore"), Some(4242)));
    let v = resp.version.unwrap();
    assert_eq!((v.major_number, v.minor_number, v.sublevel), (3, 17, Some(1)));
}
