//! `nook checkpoint` (runc's flags), and the flags it shares with `restore`.
//!
//! Both subcommands' flags are parsed only when they run ([`parse`]): the
//! parser every nook command builds (create, run, exec…) carries just their
//! names, not their forty flags (which cost `nook list` a fifth more
//! instructions and 260 KB more memory when they were in it).

use super::Cli;
use crate::container::{self, CheckpointOptions, CriuOptions};
use clap::{Args, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// A subcommand's arguments as the main parser sees them: everything
/// after its name, unparsed.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Raw {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., hide = true)]
    pub args: Vec<OsString>,
}

/// Parses a subcommand's own arguments. `None`: its help was printed.
pub(super) fn parse<T: Parser>(name: &str, raw: &Raw) -> anyhow::Result<Option<T>> {
    let argv = std::iter::once(OsString::from(format!("nook {name}"))).chain(raw.args.iter().cloned());
    match T::try_parse_from(argv) {
        Ok(a) => Ok(Some(a)),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{}", super::help::command_help("nook", name).unwrap_or_default());
            Ok(None)
        }
        Err(e) if super::help::wrong_arity(&e).is_some() => {
            // runc's words and its help on stdout, as for the other commands.
            let missing = super::help::wrong_arity(&e).expect("checked");
            let msg = super::help::arity_error(name, missing).unwrap_or_default();
            print!("Incorrect Usage.\n\n{}", super::help::command_help("nook", name).unwrap_or_default());
            Err(anyhow::anyhow!(msg))
        }
        Err(e) => {
            // One line, as every other error: clap's first, minus its
            // prefix, with the names it lists below it (missing arguments).
            let text = e.render().to_string();
            let mut lines = text.lines();
            let mut msg = lines.next().unwrap_or("invalid usage").trim_start_matches("error: ").to_owned();
            for l in lines.take_while(|l| l.starts_with("  ")) {
                msg = format!("{msg} {}", l.trim());
            }
            Err(anyhow::anyhow!("{msg} (see nook {name} --help)"))
        }
    }
}

/// What `checkpoint` and `restore` both take.
#[derive(Args, Debug)]
pub struct CriuArgs {
    /// Path for saving criu image files (default: ./checkpoint)
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs (default: the image path)
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft (default), full, strict or ignore
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but don't restore its properties (network)
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

impl CriuArgs {
    pub(super) fn options(&self, cli: &Cli) -> anyhow::Result<CriuOptions> {
        // runc's default: ./checkpoint.
        let image_path = match &self.image_path {
            Some(p) => p.clone(),
            None => std::env::current_dir()?.join("checkpoint"),
        };
        Ok(CriuOptions {
            image_path,
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
            criu: cli.criu.clone(),
        })
    }
}

/// Checkpoint a running container (CRIU)
#[derive(Parser, Debug)]
// podman may repeat --leave-running: a flag given twice is not an error.
#[command(args_override_self = true)]
pub struct CheckpointArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path for previous criu image files in pre-dump (relative to --image-path)
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump the container's memory only, and leave it running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// criu writes \0 to this fd once lazy-pages is ready
    #[arg(long = "status-fd", default_value_t = -1, allow_negative_numbers = true)]
    pub status_fd: i32,
}

pub fn checkpoint(cli: &Cli, raw: &Raw) -> anyhow::Result<i32> {
    let Some(a) = parse::<CheckpointArgs>("checkpoint", raw)? else { return Ok(0) };
    let opts = CheckpointOptions {
        id: a.id.clone(),
        criu: a.criu.options(cli)?,
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        page_server: a.page_server.clone().filter(|p| !p.is_empty()),
        status_fd: (a.status_fd >= 0).then_some(a.status_fd),
    };
    container::checkpoint(&cli.root, &opts)?;
    Ok(0)
}
