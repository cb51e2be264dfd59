//! `nook delete [--force] ID`.

use super::Cli;
use clap::Args;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Container id
    pub id: String,
    /// Kill the container if it is running, and succeed if it does not exist
    #[arg(short, long)]
    pub force: bool,
}

pub fn delete(cli: &Cli, a: &DeleteArgs) -> anyhow::Result<i32> {
    crate::container::delete(&cli.root, &a.id, a.force)?;
    Ok(0)
}
