//! `nook state`: the runtime-spec state plus runc's extra fields.

use super::{Cli, IdArg};
use crate::state::{self, Report, State, Status};
use std::path::Path;

/// The report for one container; a stopped container's pid is 0, as runc
/// prints it.
pub fn report<'a>(dir: &Path, st: &'a State) -> Report<'a> {
    let status = state::status(dir, st);
    Report {
        oci_version: &st.oci_version,
        id: &st.id,
        pid: if status == Status::Stopped { 0 } else { st.pid },
        status,
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        created: &st.created,
        owner: state::owner_of(dir),
        annotations: &st.annotations,
    }
}

pub fn state(cli: &Cli, a: &IdArg) -> anyhow::Result<i32> {
    state::validate_id(&a.id)?;
    let dir = cli.root.join(&a.id);
    let st = match state::load_state(&dir) {
        // A directory without state.json is a create that has not written
        // any yet, or died before it did: shown as `list` shows it.
        Err(state::StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            match dir.is_dir() {
                true => state::placeholder(&a.id),
                false => return Err(state::StateError::NotFound(a.id.clone()).into()),
            }
        }
        r => r?,
    };
    println!("{}", serde_json::to_string_pretty(&report(&dir, &st))?);
    Ok(0)
}
