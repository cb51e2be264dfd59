//! `nook pause ID` and `nook resume ID`.

use super::{Cli, IdArg};

pub fn pause(cli: &Cli, a: &IdArg) -> anyhow::Result<i32> {
    crate::container::pause(&cli.root, &a.id)?;
    Ok(0)
}

pub fn resume(cli: &Cli, a: &IdArg) -> anyhow::Result<i32> {
    crate::container::resume(&cli.root, &a.id)?;
    Ok(0)
}
