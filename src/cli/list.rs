//! `nook list`: a table like runc's, `--format json`, or `--quiet` ids.

use super::Cli;
use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<i32> {
    let mut states = Vec::new();
    for id in crate::state::list_ids(&cli.root)? {
        let dir = cli.root.join(&id);
        // A directory without (readable) state.json is a create that has
        // not written any yet, or was killed before it did: listed, as
        // creating or stopped, so that it is never invisible litter.
        match crate::state::load_state(&dir) {
            Ok(st) => states.push((dir, st)),
            Err(_) => states.push((dir, crate::state::placeholder(&id))),
        }
    }
    if a.quiet {
        states.iter().for_each(|(_, st)| println!("{}", st.id));
        return Ok(0);
    }
    let reports: Vec<_> = states.iter().map(|(dir, st)| super::state::report(dir, st)).collect();
    if a.format == "json" {
        println!("{}", serde_json::to_string(&reports)?);
        return Ok(0);
    }
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                r.id.to_owned(),
                r.pid.to_string(),
                r.status.to_string(),
                r.bundle.display().to_string(),
                r.created.to_owned(),
                r.owner.clone(),
            ]
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", cells.join("   ").trim_end());
    }
    Ok(0)
}
