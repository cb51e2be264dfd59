//! JSON read as runc's decoder (Go's encoding/json) reads it, where the
//! callers that write it rely on the difference from serde's exact reading.
//! Applied to the document as a `serde_json::Value` before the typed parse:
//!
//! - A missing `user` of a process is uid 0, gid 0 (Go: the zero value;
//!   runc runs such a process, e.g. from `exec --process`).
//! - A `linux.namespaces` entry with `"path": ""` is a new namespace (Go
//!   cannot tell an empty string from an absent one).
//! - Inside `linux.resources` (and `update --resources`), object keys are
//!   matched as Go matches struct fields: exactly, else ignoring case
//!   (`pagesize` is `pageSize`, `hugePageLimits` is `hugepageLimits`). The
//!   maps there whose keys are data (`unified` files, `rdma` devices) are
//!   left alone. Everywhere else keys are matched exactly.

use serde_json::{Map, Value};

/// Which document is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doc {
    /// config.json.
    Config,
    /// A runtime-spec `process` (`exec --process`).
    Process,
    /// A `LinuxResources` (`update --resources`).
    Resources,
}

/// Brings `v` (a whole document of kind `doc`) to what the typed parse
/// expects. Anything of an unexpected shape is left as it is, for the typed
/// parse to name.
pub fn normalize(doc: Doc, v: &mut Value) {
    match doc {
        Doc::Process => process(v),
        Doc::Resources => fold(v, &RESOURCES),
        Doc::Config => {
            if let Some(p) = v.get_mut("process") {
                process(p);
            }
            let Some(linux) = v.get_mut("linux").and_then(Value::as_object_mut) else { return };
            if let Some(r) = linux.get_mut("resources") {
                fold(r, &RESOURCES);
            }
            for ns in linux.get_mut("namespaces").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(ns) = ns.as_object_mut() {
                    if ns.get("path").and_then(Value::as_str) == Some("") {
                        ns.remove("path");
                    }
                }
            }
        }
    }
}

fn process(p: &mut Value) {
    if let Some(p) = p.as_object_mut() {
        if p.get("user").is_none_or(Value::is_null) {
            p.insert("user".into(), serde_json::json!({"uid": 0, "gid": 0}));
        }
    }
}

/// An object's field names, and which of them hold objects (or arrays of
/// objects) whose keys are fields too.
struct Fields {
    names: &'static [&'static str],
    nested: &'static [(&'static str, &'static Fields)],
}

const NONE: &[(&str, &Fields)] = &[];

const RESOURCES: Fields = Fields {
    names: &["devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified"],
    nested: &[
        ("devices", &DEVICE),
        ("memory", &MEMORY),
        ("cpu", &CPU),
        ("pids", &PIDS),
        ("blockIO", &BLOCK_IO),
        ("hugepageLimits", &HUGEPAGE),
        ("network", &NETWORK),
    ],
};
const DEVICE: Fields = Fields { names: &["allow", "type", "major", "minor", "access"], nested: NONE };
const MEMORY: Fields = Fields {
    names: &[
        "limit",
        "reservation",
        "swap",
        "kernel",
        "kernelTCP",
        "swappiness",
        "disableOOMKiller",
        "useHierarchy",
        "checkBeforeUpdate",
    ],
    nested: NONE,
};
const CPU: Fields = Fields {
    names: &["shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"],
    nested: NONE,
};
const PIDS: Fields = Fields { names: &["limit"], nested: NONE };
const BLOCK_IO: Fields = Fields {
    names: &[
        "weight",
        "leafWeight",
        "weightDevice",
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
    ],
    nested: &[
        ("weightDevice", &WEIGHT_DEVICE),
        ("throttleReadBpsDevice", &THROTTLE_DEVICE),
        ("throttleWriteBpsDevice", &THROTTLE_DEVICE),
        ("throttleReadIOPSDevice", &THROTTLE_DEVICE),
        ("throttleWriteIOPSDevice", &THROTTLE_DEVICE),
    ],
};
const WEIGHT_DEVICE: Fields = Fields { names: &["major", "minor", "weight", "leafWeight"], nested: NONE };
const THROTTLE_DEVICE: Fields = Fields { names: &["major", "minor", "rate"], nested: NONE };
const HUGEPAGE: Fields = Fields { names: &["pageSize", "limit"], nested: NONE };
const NETWORK: Fields = Fields { names: &["classID", "priorities"], nested: &[("priorities", &PRIORITY)] };
const PRIORITY: Fields = Fields { names: &["name", "priority"], nested: NONE };

/// Renames the keys of `v` (an object, or an array of objects) that match a
/// field of `fields` only when case is ignored, then does the same below.
/// A key spelled exactly wins over other spellings of it (Go would take the
/// last in the document; its order is not kept here).
fn fold(v: &mut Value, fields: &Fields) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| fold(i, fields)),
        Value::Object(obj) => {
            fold_keys(obj, fields.names);
            for (name, inner) in fields.nested {
                if let Some(child) = obj.get_mut(*name) {
                    fold(child, inner);
                }
            }
        }
        _ => {}
    }
}

fn fold_keys(obj: &mut Map<String, Value>, names: &[&str]) {
    let inexact: Vec<(String, &str)> = obj
        .keys()
        .filter(|k| !names.contains(&k.as_str()))
        .filter_map(|k| names.iter().find(|n| n.eq_ignore_ascii_case(k)).map(|n| (k.clone(), *n)))
        .collect();
    for (key, name) in inexact {
        let value = obj.remove(&key).expect("listed above");
        obj.entry(name).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_process_without_user_is_root() {
        let mut p = json!({"args": ["id"], "cwd": "/"});
        normalize(Doc::Process, &mut p);
        assert_eq!(p["user"], json!({"uid": 0, "gid": 0}));
        let mut p = json!({"user": {"uid": 5}, "cwd": "/"});
        normalize(Doc::Process, &mut p);
        assert_eq!(p["user"], json!({"uid": 5}));
    }

    #[test]
    fn an_empty_namespace_path_means_new() {
        let mut c = json!({"linux": {"namespaces": [{"type": "pid", "path": ""}, {"type": "net", "path": "/x"}]}});
        normalize(Doc::Config, &mut c);
        assert_eq!(c["linux"]["namespaces"], json!([{"type": "pid"}, {"type": "net", "path": "/x"}]));
    }

    #[test]
    fn resource_keys_match_as_go_matches_them() {
        let mut r = json!({
            "hugePageLimits": [{"pagesize": "2MB", "LIMIT": 1}],
            "Memory": {"limit": 5, "Swap": 6},
            "blockIO": {"throttlereadbpsdevice": [{"major": 8, "minor": 0, "Rate": 9}]},
            "unified": {"Memory.Max": "1"},
            "rdma": {"MLX": {"hcaHandles": 1}},
            "noSuchField": 1
        });
        normalize(Doc::Resources, &mut r);
        assert_eq!(
            r,
            json!({
                "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
                "memory": {"limit": 5, "swap": 6},
                "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 9}]},
                "unified": {"Memory.Max": "1"},
                "rdma": {"MLX": {"hcaHandles": 1}},
                "noSuchField": 1
            })
        );
        let mut c = json!({"linux": {"resources": {"hugepageLimits": [{"pagesize": "1GB", "limit": 0}]}}});
        normalize(Doc::Config, &mut c);
        assert_eq!(c["linux"]["resources"]["hugepageLimits"][0]["pageSize"], "1GB");
    }

    #[test]
    fn an_exact_key_wins_over_an_inexact_one() {
        let mut r = json!({"hugepageLimits": [{"pageSize": "2MB", "PAGESIZE": "1GB", "limit": 1}]});
        normalize(Doc::Resources, &mut r);
        assert_eq!(r["hugepageLimits"][0], json!({"pageSize": "2MB", "limit": 1}));
    }
}
