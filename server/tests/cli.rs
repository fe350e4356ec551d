//! The command line as a user meets it: the real binary, run as a process.

use std::process::{Command, Output};

fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .output()
        .expect("the sextant binary runs")
}

#[test]
fn version_prints_the_crate_version() {
    let out = sextant(&["--version"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("sextant {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_subcommand() {
    let out = sextant(&["--help"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "profile", "show", "merge", "compare"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(sub)),
            "`{sub}` missing from --help:\n{stdout}"
        );
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = sextant(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sextant(&["merge", "-o", "out.bin"]);
    assert_eq!(out.status.code(), Some(2), "merge needs at least one input");
}
