//! `nook spec`: write runc's default config.json into the bundle.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Bundle directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a rootless container
    #[arg(long = "rootless", id = "spec_rootless")]
    pub rootless: bool,
}

pub fn spec(a: &SpecArgs) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("{}: already exists; remove it first", path.display());
    }
    let data = serde_json::to_string_pretty(&crate::spec::default_spec(a.rootless))?;
    std::fs::write(&path, data + "\n").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(0)
}
