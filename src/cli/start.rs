//! `nook start`.

use super::{Cli, IdArg};

pub fn start(cli: &Cli, a: &IdArg) -> anyhow::Result<i32> {
    crate::container::start(&cli.root, &a.id)?;
    Ok(0)
}
