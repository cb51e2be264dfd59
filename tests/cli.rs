//! The command line as runc's (urfave/cli's): `-v`, help in its layout,
//! unknown commands, and a wrong number of arguments in runc's words and
//! exit codes. Nothing here makes a container.

mod common;
use common::*;
use std::process::{Command, Output, Stdio};

/// nook with a state root of its own, removed afterwards (`create`, `run`
/// and `exec` seal the binary there before they parse their arguments).
fn nook(args: &[&str]) -> Output {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("nook-cli-{}-{n}", std::process::id()));
    let mut c = Command::new(NOOK);
    c.arg("--root").arg(&root).args(args).stdin(Stdio::null());
    let out = output_via_files(c);
    let _ = std::fs::remove_dir_all(&root);
    out
}

#[test]
fn dash_v_prints_the_version_as_runc_does() {
    for flag in ["-v", "--version"] {
        let out = nook(&[flag]);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("nook version "), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{text}");
        assert!(lines.contains(&"spec: 1.3.0"), "{text}");
    }
    // A global flag only, as runc's.
    assert_eq!(nook(&["list", "-v"]).status.code(), Some(1));
}

#[test]
fn help_is_in_runcs_layout() {
    let main = nook(&["--help"]);
    assert!(main.status.success());
    let text = stdout(&main);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "NAME:");
    assert!(lines[1].starts_with("   nook - "), "{text}");
    for section in ["\nUSAGE:\n   nook [global options] command [command options] [arguments...]\n", "\nVERSION:\n   "]
    {
        assert!(text.contains(section), "{section:?} missing from {text}");
    }
    assert!(
        text.contains(
            "\nCOMMANDS:\n   checkpoint  checkpoint a running container\n   create      create a container\n"
        ),
        "{text}"
    );
    assert!(text.contains("\n   help, h     Shows a list of commands or help for one command\n"), "{text}");
    assert!(text.contains("\nGLOBAL OPTIONS:\n   --root value  "), "{text}");
    assert!(text.ends_with("   --help, -h          show help\n   --version, -v       print the version\n"), "{text}");
    for args in [&["-h"][..], &["help"], &["h"], &[]] {
        let out = nook(args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(stdout(&out), text, "{args:?}");
    }
    // A -h before the command is the main help, as with runc.
    assert_eq!(stdout(&nook(&["-h", "kill"])), text);
}

#[test]
fn each_command_has_its_help_in_runcs_layout() {
    for cmd in ["create", "run", "start", "exec", "state", "kill", "delete", "list", "ps", "pause", "update"] {
        let help = nook(&["help", cmd]);
        assert!(help.status.success(), "help {cmd}: {}", stderr(&help));
        let text = stdout(&help);
        assert!(text.starts_with(&format!("NAME:\n   nook {cmd} - ")), "{text}");
        assert!(text.contains(&format!("\n\nUSAGE:\n   nook {cmd} ")), "{text}");
        for args in [[cmd, "-h"], [cmd, "--help"], ["h", cmd]] {
            assert_eq!(stdout(&nook(&args)), text, "{args:?}");
        }
    }
    let kill = stdout(&nook(&["kill", "some-id", "--help"]));
    assert!(kill.contains("USAGE:\n   nook kill [command options] <container-id> [signal]\n"), "{kill}");
    assert!(
        kill.ends_with("\n\nOPTIONS:\n   --all, -a  Signal every process in the container, not just its init\n   \n")
    );
    let start = stdout(&nook(&["start", "-h"]));
    assert!(start.contains("USAGE:\n   nook start <container-id>\n"), "{start}");
    assert!(!start.contains("OPTIONS:"), "start has no options: {start}");
    let ps = stdout(&nook(&["ps", "-h"]));
    assert!(ps.contains("\n   --format value, -f value  "), "{ps}");
    assert!(ps.contains("(default: \"table\")"), "{ps}");
}

#[test]
fn an_unknown_command_has_no_help_topic_and_exits_3() {
    for args in [&["foo"][..], &["foo", "-h"], &["help", "foo"], &["foo", "--help", "x"]] {
        let out = nook(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert_one_line_error(&out, "No help topic for 'foo'");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_wrong_number_of_arguments_is_named_in_runcs_words() {
    let cases: &[(&[&str], &str)] = &[
        (&["start"], r#""start" requires exactly 1 argument(s)"#),
        (&["start", "a", "b"], r#""start" requires exactly 1 argument(s)"#),
        (&["state"], r#""state" requires exactly 1 argument(s)"#),
        (&["checkpoint"], r#""checkpoint" requires exactly 1 argument(s)"#),
        (&["restore", "a", "b"], r#""restore" requires exactly 1 argument(s)"#),
        (&["create"], r#""create" requires exactly 1 argument(s)"#),
        (&["run", "--detach"], r#""run" requires exactly 1 argument(s)"#),
        (&["delete", "--force"], r#""delete" requires exactly 1 argument(s)"#),
        (&["pause"], r#""pause" requires exactly 1 argument(s)"#),
        (&["kill"], r#""kill" requires a minimum of 1 argument(s)"#),
        (&["kill", "-a", "id", "KILL", "extra"], r#""kill" requires a maximum of 2 argument(s)"#),
        (&["exec"], r#""exec" requires a minimum of 1 argument(s)"#),
        (&["ps"], r#""ps" requires a minimum of 1 argument(s)"#),
        (&["list", "x"], r#""list" requires exactly 0 argument(s)"#),
        (&["spec", "x"], r#""spec" requires exactly 0 argument(s)"#),
    ];
    for (args, words) in cases {
        let out = nook(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_one_line_error(&out, words);
        // runc prints the command's help after "Incorrect Usage." on stdout.
        let help = stdout(&out);
        assert!(help.starts_with(&format!("Incorrect Usage.\n\nNAME:\n   nook {} - ", args[0])), "{args:?}: {help}");
    }
}
