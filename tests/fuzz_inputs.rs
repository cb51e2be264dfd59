//! Hostile input: every JSON nook reads (config.json, exec's process.json,
//! update's resources, state.json) mutated thousands of times from seed
//! files, deterministically. Each case must be accepted or refused with
//! one line: never a panic, never a hang. A failing case is written to
//! tests/fuzz-regressions/ (and every file there is replayed first).
//!
//! `NOOK_FUZZ_CASES` (per kind) and `NOOK_FUZZ_SEED` change the run; the
//! cargo-fuzz targets under fuzz/ explore the same harness for longer
//! (`make fuzz`). Plus the limits: a 1 GB config.json, 100k mounts and
//! 10k-deep nesting are refused quickly, through the binary.

mod common;
#[path = "../fuzz/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../src/seccomp/tests/podman.rs"]
mod podman;

use common::*;
use harness::{check, one_line, Kind, KINDS};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

trait Pick {
    fn pick(&mut self, n: usize) -> usize;
    fn chance(&mut self, one_in: usize) -> bool;
}

impl Pick for Rng {
    fn pick(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.pick(one_in) == 0
    }
}

fn bundle_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nook-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    dir
}

/// The seed files of each kind.
fn seeds(kind: Kind) -> Vec<Value> {
    let spec = nook::spec::default_spec(false);
    match kind {
        Kind::Config => {
            let mut with_seccomp = spec.clone();
            if let Ok(profile) = std::fs::read_to_string("/usr/share/containers/seccomp.json") {
                let s = podman::resolve(&profile, "amd64", "SCMP_ARCH_X86_64", podman::PODMAN_DEFAULT_CAPS);
                with_seccomp["linux"]["seccomp"] = serde_json::to_value(s).unwrap();
            }
            let mut full = spec.clone();
            full["linux"]["resources"] = resources();
            full["linux"]["cgroupsPath"] = "/nook/fuzz".into();
            full["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 65536}]);
            full["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]});
            full["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]);
            vec![spec, with_seccomp, full]
        }
        Kind::Process => vec![spec["process"].clone()],
        Kind::Resources => vec![resources(), json!({})],
        Kind::State => vec![json!({
            "ociVersion": "1.3.0", "id": "c1", "pid": 1234, "initStartTime": 5678,
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "2025-01-01T00:00:00.000000000Z",
            "annotations": {"a": "b"}, "cgroup": "/sys/fs/cgroup/c1", "config": spec,
        })],
    }
}

fn resources() -> Value {
    json!({
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "unified": {"memory.high": "max", "io.weight": "100"}
    })
}

/// Values that break assumptions.
fn nasty(rng: &mut Rng) -> Value {
    let pick = [
        json!(null),
        json!(-1),
        json!(0),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-0.5),
        json!(""),
        json!("../../../../etc/passwd"),
        json!("/proc/self/fd/0"),
        json!("a\u{0}b"),
        json!("CAP_KILL\nsecond line"),
        json!("\u{feff}é\u{202e}"),
        json!("x".repeat(5000)),
        json!(true),
        json!([]),
        json!({}),
        json!([null, 1, "a"]),
        json!("CAP_SYS_ADMIN"),
        json!("SCMP_ACT_KILL"),
        json!("rwm"),
        json!("0-4294967295"),
        json!("-1"),
        json!("max"),
        json!("/"),
        json!("."),
    ];
    pick[rng.pick(pick.len())].clone()
}

/// Changes one node of the tree (structure-aware mutation).
fn mutate_value(v: &mut Value, rng: &mut Rng, depth: usize) {
    let descend = depth < 12 && rng.pick(4) != 0;
    match v {
        Value::Object(m) if !m.is_empty() && descend => {
            let k = m.keys().nth(rng.pick(m.len())).unwrap().clone();
            mutate_value(m.get_mut(&k).unwrap(), rng, depth + 1)
        }
        Value::Array(a) if !a.is_empty() && descend => {
            let i = rng.pick(a.len());
            mutate_value(&mut a[i], rng, depth + 1)
        }
        Value::Object(m) if !m.is_empty() && rng.chance(3) => {
            let k = m.keys().nth(rng.pick(m.len())).unwrap().clone();
            m.remove(&k);
        }
        Value::Array(a) if !a.is_empty() && rng.chance(3) => {
            let i = rng.pick(a.len());
            let dup = a[i].clone();
            match rng.pick(3) {
                0 => {
                    a.remove(i);
                }
                1 => a.extend(std::iter::repeat_n(dup, 1 + rng.pick(200))),
                _ => a.insert(i, dup),
            }
        }
        Value::Number(n) if rng.chance(2) => {
            let x = n.as_i64().unwrap_or(1);
            let cands = [x.wrapping_neg(), x.wrapping_add(1), x.wrapping_sub(1), x.wrapping_mul(1 << 20), i64::MAX];
            *v = json!(cands[rng.pick(cands.len())]);
        }
        Value::String(s) if rng.chance(2) => {
            let mut b = s.clone().into_bytes();
            match rng.pick(4) {
                0 => b.truncate(rng.pick(b.len() + 1)),
                1 => b.extend_from_slice(b"/../x"),
                2 => b.insert(0, b'/'),
                _ => b = b.repeat(1 + rng.pick(4)),
            }
            *s = String::from_utf8_lossy(&b).into_owned();
        }
        _ => *v = nasty(rng),
    }
}

/// Changes the bytes (syntax-level mutation).
fn mutate_bytes(b: &mut Vec<u8>, rng: &mut Rng) {
    const TOKENS: &[&[u8]] = &[
        b"null",
        b"-1",
        b"1e999",
        b"18446744073709551616",
        b"\"\\ud800\"",
        b"[",
        b"{",
        b"}",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
    ];
    if b.is_empty() {
        b.push(b'{');
    }
    for _ in 0..1 + rng.pick(4) {
        let i = rng.pick(b.len());
        match rng.pick(6) {
            0 => b[i] = rng.next_u64() as u8,
            1 => {
                b.remove(i);
            }
            2 => {
                let t = TOKENS[rng.pick(TOKENS.len())];
                b.splice(i..i, t.iter().copied());
            }
            3 => b.truncate(i),
            4 => {
                let j = (i + rng.pick(64)).min(b.len());
                let chunk = b[i..j].to_vec();
                b.splice(j..j, chunk);
            }
            _ => b[i] ^= 1 << rng.pick(8),
        }
        if b.is_empty() {
            break;
        }
    }
}

fn case(kind: Kind, seed: &Value, rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.clone();
    for _ in 0..1 + rng.pick(3) {
        mutate_value(&mut v, rng, 0);
    }
    let mut b = serde_json::to_vec(&v).unwrap();
    if kind == Kind::State || rng.chance(3) {
        mutate_bytes(&mut b, rng);
    }
    b
}

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Config => "config",
        Kind::Process => "process",
        Kind::Resources => "resources",
        Kind::State => "state",
    }
}

/// Runs every case in a worker thread (default stack), with a watchdog:
/// a case that panics or runs for more than 10 s is saved and fails.
#[test]
fn mutated_inputs_are_refused_with_one_line() {
    let per_kind: usize = std::env::var("NOOK_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let seed: u64 = std::env::var("NOOK_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x6e6f6f6b);
    println!("fuzz inputs: seed {seed}, {per_kind} cases per kind");
    let bundle = bundle_dir();
    let (tx, rx) = mpsc::channel::<(Kind, Vec<u8>)>();
    let (done_tx, done_rx) = mpsc::channel::<Result<(Kind, Vec<u8>, String), (Kind, Vec<u8>)>>();
    let b2 = bundle.clone();
    let worker = std::thread::spawn(move || {
        for (kind, data) in rx {
            let r = std::panic::catch_unwind(|| check(kind, &data, &b2));
            let verdict = match r {
                Ok(r) => match one_line(&r) {
                    Ok(()) => Ok((kind, Vec::new(), r.err().unwrap_or_default())),
                    Err(why) => Ok((kind, data, why)),
                },
                Err(_) => Err((kind, data)),
            };
            done_tx.send(verdict).unwrap();
        }
    });

    // Replayed regressions first, then the generated cases.
    let mut inputs: Vec<(Kind, Vec<u8>)> = Vec::new();
    for k in KINDS {
        if let Ok(rd) = std::fs::read_dir(regressions_dir().join(kind_name(k))) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            inputs.extend(files.iter().map(|f| (k, std::fs::read(f).unwrap())));
        }
    }
    let replayed = inputs.len();
    let mut rng = Rng(seed);
    for k in KINDS {
        let seeds = seeds(k);
        for s in &seeds {
            inputs.push((k, serde_json::to_vec(s).unwrap()));
        }
        for _ in 0..per_kind {
            let s = &seeds[rng.pick(seeds.len())];
            inputs.push((k, case(k, s, &mut rng)));
        }
    }

    let t = Instant::now();
    let mut failures = Vec::new();
    let (mut accepted, mut refused) = ([0usize; 4], [0usize; 4]);
    let mut slowest = (Duration::ZERO, 0usize);
    for (n, (kind, data)) in inputs.into_iter().enumerate() {
        let c0 = Instant::now();
        tx.send((kind, data.clone())).unwrap();
        let idx = KINDS.iter().position(|k| *k == kind).unwrap();
        match done_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok((_, bad, why))) if !bad.is_empty() => failures.push((kind, bad, why)),
            Ok(Ok((_, _, err))) if err.is_empty() => accepted[idx] += 1,
            Ok(Ok(_)) => refused[idx] += 1,
            Ok(Err((_, bad))) => failures.push((kind, bad, "panicked".into())),
            Err(_) => {
                save(kind, &data);
                panic!("case {n} ({}) hangs: saved under tests/fuzz-regressions", kind_name(kind));
            }
        }
        if c0.elapsed() > slowest.0 {
            slowest = (c0.elapsed(), n);
        }
    }
    drop(tx);
    worker.join().unwrap();
    println!(
        "{replayed} regressions replayed, {} cases in {:.1} s (slowest {:?}, case {})",
        accepted.iter().sum::<usize>() + refused.iter().sum::<usize>() + failures.len(),
        t.elapsed().as_secs_f64(),
        slowest.0,
        slowest.1
    );
    for (i, k) in KINDS.iter().enumerate() {
        println!("  {}: {} accepted, {} refused with one line", kind_name(*k), accepted[i], refused[i]);
    }
    for (kind, data, why) in &failures {
        let f = save(*kind, data);
        println!("FAIL {}: {why} (saved as {})", kind_name(*kind), f.display());
    }
    assert!(failures.is_empty(), "{} failing inputs", failures.len());
    let _ = std::fs::remove_dir_all(&bundle);
}

fn save(kind: Kind, data: &[u8]) -> PathBuf {
    let dir = regressions_dir().join(kind_name(kind));
    std::fs::create_dir_all(&dir).unwrap();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
    let f = dir.join(format!("{h:016x}.json"));
    std::fs::write(&f, data).unwrap();
    f
}

/// 10k-deep nesting, in a thread with the default stack: no stack
/// overflow. At the top of a document, the typed deserializer refuses the
/// first bracket; under an unknown field, serde_json skips the value
/// without recursing (so even 1M levels, the most 16 MiB can hold, are
/// skipped quickly and the rest of the document is checked as usual).
#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let bundle = bundle_dir();
    let run = |kind: Kind, doc: String| {
        let b = bundle.clone();
        std::thread::spawn(move || check(kind, doc.as_bytes(), &b)).join().expect("no stack overflow or panic")
    };
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let deep = format!("{}0{}", open.repeat(10_000), close.repeat(10_000));
        for kind in KINDS {
            // `{"a":{"a":…}}` is an unknown field: update's resources,
            // all optional, take it as empty.
            match run(kind, deep.clone()) {
                Ok(()) => assert!(open != "[" && kind == Kind::Resources, "{kind:?} accepted {open}…"),
                Err(e) => assert!(!e.contains('\n'), "{e}"),
            }
        }
        for depth in [10_000, 1_000_000] {
            let t = Instant::now();
            let doc = format!("{{\"ociVersion\":\"1.0.0\",\"x\":{}0{}}}", open.repeat(depth), close.repeat(depth));
            let e = run(Kind::Config, doc).expect_err("refused");
            assert!(e.contains("root"), "refused for the missing root, not the nesting: {e}");
            assert!(t.elapsed() < Duration::from_secs(5));
        }
    }
}

/// Through the binary: each limit is refused with one line, quickly, and
/// leaves nothing behind.
#[test]
fn oversized_inputs_are_refused_quickly_by_nook() {
    // A 1 GB sparse config.json: refused by its size, before reading.
    let b = Bundle::new("huge", &["true"]);
    let f = std::fs::File::options().write(true).truncate(true).open(b.config()).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let t = Instant::now();
    assert_one_line_error(&b.with_bundle("create", &[]), "larger than");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    b.assert_clean();

    // 10k-deep nesting in config.json.
    let b = Bundle::new("deep", &["true"]);
    std::fs::write(b.config(), format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))).unwrap();
    assert_one_line_error(&b.with_bundle("create", &[]), "config.json");
    b.assert_clean();

    // 100k mounts.
    let b = Bundle::new("mounts", &["true"]);
    b.edit(|c| {
        let m = json!({"destination": "/m", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]});
        c["mounts"] = Value::Array(vec![m; 100_000]);
    });
    let t = Instant::now();
    let out = b.with_bundle("create", &[]);
    println!("100k mounts: {:?}: {}", t.elapsed(), stderr(&out).trim());
    assert_one_line_error(&out, "mounts");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    b.assert_clean();

    // The same limits for exec's process.json and update's resources.
    let b = Bundle::new("execres", &["sleep", "100"]);
    assert!(b.with_bundle("run", &["-d"]).status.success());
    let p = b.dir.join("process.json");
    std::fs::File::create(&p).unwrap().set_len(1 << 30).unwrap();
    assert_one_line_error(&b.nook(&["exec", "--process", p.to_str().unwrap(), &b.id]), "larger than");
    std::fs::write(&p, format!("{}0{}", "[".repeat(10_000), "]".repeat(10_000))).unwrap();
    assert_one_line_error(&b.nook(&["exec", "--process", p.to_str().unwrap(), &b.id]), "process.json");
    assert_one_line_error(&b.nook(&["update", "-r", p.to_str().unwrap(), &b.id]), "--resources");
    std::fs::remove_file(&p).unwrap();
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

/// A namespace path naming a fifo (or any file that is not a namespace)
/// is refused at once: opening it used to block `create` for ever.
#[test]
fn a_namespace_path_that_is_a_fifo_does_not_hang_create() {
    let b = Bundle::new("nsfifo", &["true"]);
    let fifo = b.dir.join("ns-fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for path in [fifo.to_str().unwrap(), "/etc/passwd"] {
        b.edit(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "network", "path": path}));
        });
        let mut child = b
            .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                panic!("create hangs on the namespace path {path}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_one_line_error(&out, "not a namespace");
        b.assert_clean();
    }
}

/// Writes the seed files to fuzz/seeds/<kind>/ for the cargo-fuzz targets
/// (`cargo test --test fuzz_inputs -- --ignored write_fuzz_seeds`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    for k in KINDS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(kind_name(k));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds(k).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}.json")), serde_json::to_vec_pretty(s).unwrap()).unwrap();
        }
    }
}

/// A newline inside a JSON string that an error quotes (found by
/// cargo-fuzz: tests/fuzz-regressions/process/) is printed escaped, on
/// the one line.
#[test]
fn an_error_quoting_a_newline_is_still_one_line() {
    let b = Bundle::new("nl", &["sleep", "100"]);
    b.edit(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_X\nsecond line"]));
    assert_one_line_error(&b.with_bundle("create", &[]), "CAP_X\\nsecond line");
    b.assert_clean();
    b.edit(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL"]));
    assert!(b.with_bundle("run", &["-d"]).status.success());
    let p = regressions_dir().join("process/newline-in-quoted-value.json");
    assert_one_line_error(&b.nook(&["exec", "--process", p.to_str().unwrap(), &b.id]), "capabilities.bounding[0]");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}
