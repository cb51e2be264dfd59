//! The lifecycle operations: create, start, kill, delete, and run (all of
//! them in one). Each combines the lower modules and owns the error type
//! that folds theirs together.

pub mod cgroup;
mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod pause;
mod run;
mod start;
mod update;

pub use create::{create, CreateOptions, Created};
pub use delete::delete;
pub use events::{events, parse_duration, Event};
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use pause::{pause, pids, resume};
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

/// Runs the poststart or poststop hooks of a container. Their failure is
/// a warning, as the runtime-spec asks, not an error.
pub(crate) fn run_post_hooks(st: &State, kind: crate::hooks::Kind, status: &str) {
    let hooks = st.hooks.as_ref();
    if hooks.is_none_or(|h| kind.of(h).is_empty()) {
        return;
    }
    let state = crate::hooks::state_json(&st.id, status, st.pid, &st.bundle, &st.annotations);
    if let Err(e) = crate::hooks::run(hooks, kind, &state) {
        crate::logger::warn(&e.to_string());
    }
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
