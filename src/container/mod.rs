//! The lifecycle operations: create, start, kill, delete, and run (all of
//! them in one). Each combines the lower modules and owns the error type
//! that folds theirs together.

pub mod cgroup;
mod checkpoint;
mod create;
mod criu_spec;
mod delete;
mod events;
mod exec;
mod kill;
mod net_devices;
mod pause;
mod restore;
mod run;
mod start;
mod update;

pub use checkpoint::{checkpoint, CheckpointOptions};
pub use create::{create, CreateOptions, Created};
pub use criu_spec::CriuOptions;
pub use delete::delete;
pub use events::{events, parse_duration, Event};
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use pause::{pause, pids, resume};
pub use restore::{restore, RestoreOptions};
pub use run::{run, RunOptions};
pub use start::start;
pub use update::update;

use crate::state::{self, ContainerDir, State, Status};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Namespaces(#[from] crate::namespaces::NsError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    Criu(#[from] crate::criu::CriuError),
    /// A failure reported by the container's init during setup.
    #[error("{0}")]
    Init(String),
    #[error("container {id:?} is {status}: {msg}")]
    WrongState { id: String, status: Status, msg: &'static str },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, ContainerError>;

pub(crate) fn other<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ContainerError {
    move |e| ContainerError::Other(format!("{what}: {e}"))
}

/// The state JSON the hooks of `kind` get, or None when there are none.
fn hook_state(st: &State, kind: crate::hooks::Kind, status: &str) -> Option<Vec<u8>> {
    let hooks = st.hooks.as_ref()?;
    (!kind.of(hooks).is_empty()).then(|| crate::hooks::state_json(&st.id, status, st.pid, &st.bundle, &st.annotations))
}

/// Runs the poststop hooks of a container. Their failure is a warning, as
/// the runtime-spec asks (lifecycle step 13), not an error.
pub(crate) fn run_poststop_hooks(st: &State) {
    let kind = crate::hooks::Kind::Poststop;
    let Some(state) = hook_state(st, kind, "stopped") else { return };
    for e in crate::hooks::run_each(st.hooks.as_ref(), kind, &state) {
        crate::logger::warn(&e.to_string());
    }
}

/// Runs the poststart hooks of a started container. Since runtime-spec
/// 1.3 (lifecycle step 9) a failure is an error that stops the container,
/// as runc has always done: init is killed (and waited for) here, and the
/// caller returns the hook's error.
pub(crate) fn run_poststart_hooks(st: &State) -> Result<()> {
    let kind = crate::hooks::Kind::Poststart;
    let Some(state) = hook_state(st, kind, "running") else { return Ok(()) };
    crate::hooks::run(st.hooks.as_ref(), kind, &state).map_err(|e| {
        if let Err(k) = delete::kill_init(st) {
            crate::logger::debug(|| format!("stopping the container after a poststart hook: {k}"));
        }
        ContainerError::Other(e.to_string())
    })
}

/// A container's directory (locked), state and current status.
pub struct Loaded {
    pub dir: ContainerDir,
    pub state: State,
    pub status: Status,
}

/// Opens, locks and reads a container.
pub fn load(root: &Path, id: &str) -> Result<Loaded> {
    let dir = ContainerDir::open(root, id)?;
    let state = dir.load()?;
    let status = state::status(&dir.path, &state);
    Ok(Loaded { dir, state, status })
}
