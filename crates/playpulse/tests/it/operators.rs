//! `playpulse operators`: accounts made from the command line, passwords kept as Argon2id.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::binary::Target;
use crate::on_both_backends;
use crate::support::Backend;

on_both_backends!(operators_are_created_and_listed_from_the_command_line);

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn operators_are_created_and_listed_from_the_command_line(backend: Backend) {
    let target = Target::new(backend).await;
    let run = |args: &[&str]| target.command(args).output().unwrap();

    let out = run(&["operators", "create", "--name", "ann", "--role", "admin"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let generated = stdout.trim();
    assert!(generated.len() == 20 && generated.chars().all(|c| c.is_ascii_alphanumeric()), "{stdout}");
    assert!(stderr.contains("operator=ann role=admin"), "{stderr}");

    let mut child = target
        .command(&["operators", "create", "--name", "bo", "--role", "viewer", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough passphrase\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "", "a password given is never printed");

    for (args, says) in [
        (vec!["--name", "ann", "--role", "viewer"], "exists already"),
        (vec!["--name", "Cy", "--role", "viewer"], "operator name"),
        (vec!["--name", "cy", "--role", "root"], "unknown role"),
    ] {
        let out = run(&[&["operators", "create"][..], &args].concat());
        let (_, stderr) = text(&out);
        assert!(!out.status.success() && stderr.contains(says), "{args:?}: {stderr}");
    }

    let out = run(&["operators", "list"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("operator=ann role=admin ") && lines[1].starts_with("operator=bo role=viewer ")
    );
    assert!(lines.iter().all(|l| l.ends_with("failed_logins=0 locked_until=no")), "{stdout}");
    assert!(!stdout.contains("argon2"), "hashes are never listed");
}
