//! Concurrency and load: commands racing on one id are serialized by the
//! flock on its state dir (no torn state, no error beyond the expected
//! ones, nothing lost); commands on different ids do not wait for each
//! other; 10, 50 and 100 containers created, started, exec'd into, killed
//! and deleted in parallel all succeed and leave nothing behind.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Errors a command may meet when another one changed the container first.
fn expected_error(verb: &str, err: &str) -> bool {
    let ok: &[&str] = match verb {
        "create" => &["already exists", "does not exist"],
        "start" => &["does not exist", "cannot start", "no longer waiting"],
        "state" => &["does not exist"],
        "kill" => &["does not exist", "not running"],
        "delete" => &["does not exist", "not stopped"],
        _ => &[],
    };
    err.trim_end().lines().count() == 1 && ok.iter().any(|s| err.contains(s))
}

#[test]
fn racing_commands_on_one_id_are_serialized() {
    let b = Arc::new(Bundle::new("race", &["sleep", "1000"]));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("race: seed {seed}");
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let counts = Arc::new(Mutex::new(std::collections::BTreeMap::<String, u32>::new()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (b, problems, counts) = (b.clone(), problems.clone(), counts.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(seed ^ t.wrapping_mul(0x51_7cc1_b727_220a));
                for _ in 0..25 {
                    let verb = ["create", "start", "state", "kill", "delete", "delete --force"][rng.below(6) as usize];
                    let bundle = b.dir.to_str().unwrap();
                    let out = match verb {
                        "create" => b.nook(&["create", "--bundle", bundle, &b.id]),
                        "kill" => b.nook(&["kill", &b.id, "KILL"]),
                        "delete --force" => b.nook(&["delete", "--force", &b.id]),
                        v => b.nook(&[v, &b.id]),
                    };
                    let res = if out.status.success() { "ok" } else { "refused" };
                    *counts.lock().unwrap().entry(format!("{verb}: {res}")).or_default() += 1;
                    if out.status.success() {
                        if verb == "state" {
                            // Never torn: the whole document, with a known status.
                            match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                                Ok(v)
                                    if ["creating", "created", "running", "stopped", "paused"]
                                        .contains(&v["status"].as_str().unwrap_or("")) => {}
                                r => problems.lock().unwrap().push(format!("state: {r:?}")),
                            }
                        }
                    } else if verb == "delete --force"
                        || !expected_error(verb.split(' ').next().unwrap(), &stderr(&out))
                    {
                        problems.lock().unwrap().push(format!("{verb}: {}", stderr(&out)));
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    for (k, n) in counts.lock().unwrap().iter() {
        println!("  {k}: {n}");
    }
    let out = b.nook(&["delete", "--force", &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_clean();
    let problems = problems.lock().unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The lock is per id: while one container's lock is held, commands on
/// other ids go on, and only that container's commands wait.
#[test]
fn commands_on_different_ids_do_not_wait_for_each_other() {
    let a = Bundle::new("locka", &["sleep", "1000"]);
    let b = Bundle::new("lockb", &["sleep", "1000"]);
    // Both in one root.
    let b_id = b.id.clone();
    let bundle_b = b.dir.to_str().unwrap().to_owned();
    assert!(a.with_bundle("create", &[]).status.success());
    let dir = std::fs::File::open(a.root.join(&a.id)).unwrap();
    let dir = nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let t = Instant::now();
    let out = a.nook(&["create", "--bundle", &bundle_b, &b_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(a.nook(&["start", &b_id]).status.success());
    assert!(a.nook(&["delete", "--force", &b_id]).status.success());
    assert!(a.nook(&["list"]).status.success());
    let others = t.elapsed();
    // `state` reads without the lock; start waits for it.
    assert!(a.nook(&["state", &a.id]).status.success());
    let mut start = a.cmd(&["start", &a.id]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(start.try_wait().unwrap().is_none(), "start did not wait for the lock");
    drop(dir);
    assert!(start.wait().unwrap().success());
    println!("another id's create/start/delete/list with this one locked: {others:?}");
    assert!(others < Duration::from_secs(10));
    assert!(a.nook(&["delete", "--force", &a.id]).status.success());
    a.assert_clean();
}

/// Containers on distinct ids, in parallel threads: their commands
/// overlap in time (there is no global lock).
#[test]
fn lifecycles_on_distinct_ids_overlap() {
    let b = Arc::new(Bundle::new("overlap", &["sleep", "1000"]));
    let spans = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (b, spans) = (b.clone(), spans.clone());
            std::thread::spawn(move || {
                let id = format!("{}-{t}", b.id);
                for _ in 0..3 {
                    let s = Instant::now();
                    let out = b.nook(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
                    assert!(out.status.success(), "{}", stderr(&out));
                    let out = b.nook(&["delete", "--force", &id]);
                    assert!(out.status.success(), "{}", stderr(&out));
                    spans.lock().unwrap().push((t, s, Instant::now()));
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let spans = spans.lock().unwrap();
    let overlaps = spans
        .iter()
        .flat_map(|x| spans.iter().map(move |y| (x, y)))
        .filter(|(x, y)| x.0 < y.0 && x.1 < y.2 && y.1 < x.2)
        .count();
    println!("{} lifecycles, {overlaps} overlapping pairs on distinct ids", spans.len());
    assert!(overlaps > 0);
}

/// `n` containers through create, start, exec, kill and delete, each step
/// in parallel (8 workers); returns the time of each step.
fn load(b: &Bundle, n: usize) -> Vec<(&'static str, Duration)> {
    let ids: Vec<String> = (0..n).map(|i| format!("{}-n{n}-{i}", b.id)).collect();
    let bundle = b.dir.to_str().unwrap().to_owned();
    let args = |step: &str, id: &str| -> Vec<String> {
        let v: Vec<&str> = match step {
            "create" => vec!["create", "--bundle", &bundle, id],
            "start" => vec!["start", id],
            "exec" => vec!["exec", id, "true"],
            "kill" => vec!["kill", id, "KILL"],
            _ => vec!["delete", "--force", id],
        };
        v.into_iter().map(String::from).collect()
    };
    let mut times = Vec::new();
    let failed = Mutex::new(Vec::<String>::new());
    for name in ["create", "start", "exec", "kill", "delete"] {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    let a = args(name, id);
                    let out = b.nook(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
                    if !out.status.success() {
                        let e = format!("{name} {id}: {:?}: {}", out.status, stderr(&out));
                        eprintln!("{e}");
                        failed.lock().unwrap().push(e);
                    }
                });
            }
        });
        times.push((name, t.elapsed()));
    }
    assert!(failed.lock().unwrap().is_empty(), "{:#?}", failed.lock().unwrap());
    for id in &ids {
        assert!(!b.root.join(id).exists(), "{id}: state dir left");
        assert!(!cgroup_mount().join(id).exists(), "{id}: cgroup left");
    }
    times
}

#[test]
fn a_hundred_containers_in_parallel() {
    let b = Bundle::new("load", &["sleep", "1000"]);
    println!("parallel lifecycles (8 workers), per container:");
    for n in [10, 50, 100] {
        let times = load(&b, n);
        let total: Duration = times.iter().map(|(_, d)| *d).sum();
        let per: Vec<String> =
            times.iter().map(|(s, d)| format!("{s} {:.1} ms", d.as_secs_f64() * 1e3 / n as f64)).collect();
        println!("  {n:>3}: {:.1} ms ({})", total.as_secs_f64() * 1e3 / n as f64, per.join(", "));
    }
    let procs = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.split(|x| *x == 0).any(|a| a.starts_with(b.id.as_bytes())))
        .count();
    assert_eq!(procs, 0, "processes left behind");
}
