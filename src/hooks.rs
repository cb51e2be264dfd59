//! OCI hooks: programs the runtime runs at points of the lifecycle, each
//! given the container's state JSON on stdin.
//!
//! | kind | run by | where | failure |
//! |---|---|---|---|
//! | prestart, createRuntime | nook, while init waits before pivot_root | runtime namespaces | fails create |
//! | createContainer | init, before pivot_root | container namespaces | fails create |
//! | startContainer | init, after `start`, last before exec (under the filter, as the process's user) | container namespaces | fails the start |
//! | poststart | nook, after `start` | runtime namespaces | fails the start, stops the container |
//! | poststop | nook, on `delete` | runtime namespaces | warning |

use oci_spec::runtime::{Hook, Hooks};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("hooks.{kind}[{index}] {path}: {msg}")]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub path: String,
    pub msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`.
    #[allow(deprecated)]
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let h = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        h.as_deref().unwrap_or_default()
    }
}

/// Runs every hook of `kind` in order, each with `state` (the container's
/// state JSON) on stdin; stops at the first that fails.
pub fn run(hooks: Option<&Hooks>, kind: Kind, state: &[u8]) -> Result<(), HookError> {
    each(hooks, kind, state).collect()
}

/// Runs every hook of `kind`, even after one fails, and returns the
/// failures: for poststop hooks, whose failure is a warning after which
/// "the remaining hooks and lifecycle continue" (runtime-spec lifecycle
/// step 13).
pub fn run_each(hooks: Option<&Hooks>, kind: Kind, state: &[u8]) -> Vec<HookError> {
    each(hooks, kind, state).filter_map(Result::err).collect()
}

/// The hooks of `kind`, each run as the iterator reaches it.
fn each<'a>(hooks: Option<&'a Hooks>, kind: Kind, state: &'a [u8]) -> impl Iterator<Item = Result<(), HookError>> + 'a {
    hooks.map(|h| kind.of(h)).unwrap_or_default().iter().enumerate().map(move |(index, hook)| {
        run_one(hook, state).map_err(|msg| HookError {
            kind: kind.name(),
            index,
            path: hook.path().display().to_string(),
            msg,
        })
    })
}

fn run_one(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let mut cmd = Command::new(hook.path());
    let args = hook.args().as_deref().unwrap_or_default();
    if let Some(argv0) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, argv0);
    }
    cmd.args(args.iter().skip(1)).env_clear().stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    for kv in hook.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let timeout = hook.timeout().filter(|t| *t > 0).map(|t| Duration::from_secs(t as u64));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.unwrap_or_default().as_secs()));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let err = err.lines().last().unwrap_or("").trim().to_owned();
    let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_owned(),
    };
    Err(if err.is_empty() { how } else { format!("{how}: {err}") })
}

/// The runtime-spec state JSON that hooks read.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::spec::OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations,
    }))
    .expect("state serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(json: &str) -> Hooks {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hooks_get_the_state_on_stdin_args_and_env() {
        let dir = std::env::temp_dir().join(format!("nook-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hooks(&format!(
            r#"{{"createRuntime":[{{"path":"/bin/sh","args":["sh","-c","cat > {o}; echo \" $0 $1 $FOO\" >> {o}","a1"],"env":["FOO=bar"]}}]}}"#,
            o = out.display()
        ));
        let state = state_json("c1", "creating", 42, &dir, &Default::default());
        run(Some(&h), Kind::CreateRuntime, &state).unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(got.starts_with("{\"annotations\":{},\"bundle\""), "{got}");
        assert!(got.contains("\"id\":\"c1\"") && got.contains("\"pid\":42"), "{got}");
        assert!(got.ends_with(" a1  bar\n") || got.contains("a1") && got.contains("bar"), "{got}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_hook_is_named_with_its_stderr() {
        let h = hooks(
            r#"{"poststop":[{"path":"/bin/true"},{"path":"/bin/sh","args":["sh","-c","echo broken >&2; exit 3"]}]}"#,
        );
        let e = run(Some(&h), Kind::Poststop, b"{}").unwrap_err().to_string();
        assert_eq!(e, "hooks.poststop[1] /bin/sh: exited with status 3: broken");
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let h = hooks(r#"{"prestart":[{"path":"/bin/sleep","args":["sleep","10"],"timeout":1}]}"#);
        let t = Instant::now();
        let e = run(Some(&h), Kind::Prestart, b"{}").unwrap_err().to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_missing_hook_binary_is_an_error() {
        let h = hooks(r#"{"startContainer":[{"path":"/no/such/hook"}]}"#);
        let e = run(Some(&h), Kind::StartContainer, b"{}").unwrap_err().to_string();
        assert!(e.starts_with("hooks.startContainer[0] /no/such/hook: "), "{e}");
    }
}
