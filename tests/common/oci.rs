//! OCI image archives for the real-client suites, written by the tests (no
//! registry here): one gzip'd layer per image (a reproducible tar, gzip
//! without name or time), a config and a manifest addressed by sha256, in an
//! OCI image layout tarball that `ctr images import` takes and names by the
//! `io.containerd.image.name` annotation.

use super::clients::tar;
use super::stdout;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", p.display());
    format!("sha256:{}", stdout(&out).split_whitespace().next().unwrap())
}

/// Moves `file` into the layout as a blob; returns its descriptor.
fn blob(layout: &Path, media_type: &str, file: &Path) -> Value {
    let digest = sha256(file);
    let to = layout.join("blobs/sha256").join(digest.strip_prefix("sha256:").unwrap());
    std::fs::rename(file, &to).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": std::fs::metadata(&to).unwrap().len()})
}

/// `dir/image.tar`: an OCI image layout tarball of image `name` with one
/// layer, the tar of `entries` in `rootfs`, and `config` as the image
/// config's `config` (Env, Entrypoint, Cmd, WorkingDir...). Works in `dir`.
pub fn archive(dir: &Path, name: &str, rootfs: &Path, entries: &[&str], config: Value) -> PathBuf {
    let layout = dir.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer_tar = dir.join("layer.tar");
    tar(rootfs, &layer_tar, entries);
    let diff_id = sha256(&layer_tar);
    let st = Command::new("gzip").args(["-n", "-6"]).arg(&layer_tar).status().unwrap();
    assert!(st.success(), "gzip {}", layer_tar.display());
    let layer = blob(&layout, "application/vnd.oci.image.layer.v1.tar+gzip", &dir.join("layer.tar.gz"));
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let write = |file: &str, v: &Value| {
        let p = dir.join(file);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        p
    };
    let config = blob(&layout, "application/vnd.oci.image.config.v1+json", &write("config.json", &config));
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer],
    });
    let mut manifest = blob(&layout, "application/vnd.oci.image.manifest.v1+json", &write("manifest.json", &manifest));
    let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
    manifest["platform"] = json!({"architecture": "amd64", "os": "linux"});
    manifest["annotations"] = json!({"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag});
    let index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let image = dir.join("image.tar");
    tar(&layout, &image, &["oci-layout", "index.json", "blobs"]);
    image
}
