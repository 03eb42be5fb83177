//! The client toolchains the guide's examples need: which work here, and how to run commands.

use std::{
    ffi::OsString, io::Write as _, path::Path, process::Output, process::Stdio, time::Duration,
};

use anyhow::bail;
use tokio::process::Command;

use crate::{REQUIRE_CLIENTS_ENV, TOOL_PROBE_TIMEOUT, examples::Example};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    Curl,
    PythonRequests,
    Node,
    Go,
}

impl Tool {
    const ALL: [Self; 4] = [Self::Curl, Self::PythonRequests, Self::Node, Self::Go];

    fn name(self) -> &'static str {
        match self {
            Self::Curl => "bash + curl",
            Self::PythonRequests => "python3 with the `requests` package",
            Self::Node => "node >= 18 (global fetch)",
            Self::Go => "go",
        }
    }

    /// `Ok` when the toolchain works, otherwise why not.
    async fn probe(self) -> Result<(), String> {
        let checks: &[(&str, &[&str])] = match self {
            Self::Curl => &[("bash", &["--version"]), ("curl", &["--version"])],
            Self::PythonRequests => &[("python3", &["-c", "import requests"])],
            Self::Node => &[(
                "node",
                &["-e", "process.exit(typeof fetch === 'function' ? 0 : 1)"],
            )],
            Self::Go => &[("go", &["version"])],
        };
        for (program, args) in checks {
            let mut command = Command::new(program);
            command.args(*args);
            match output(command, TOOL_PROBE_TIMEOUT).await {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(format!(
                        "`{program} {}` failed ({}): {}",
                        args.join(" "),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(error) => return Err(format!("{program}: {error:#}")),
            }
        }
        Ok(())
    }
}

/// The examples whose toolchain works. A missing one is skipped with a note, or is an error
/// naming every missing toolchain when [`REQUIRE_CLIENTS_ENV`] is `1`.
pub(crate) async fn runnable_examples() -> anyhow::Result<Vec<Example>> {
    let required = std::env::var(REQUIRE_CLIENTS_ENV).is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    for tool in Tool::ALL {
        if let Err(why) = tool.probe().await {
            missing.push((tool, why));
        }
    }
    if required && !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(tool, why)| format!("{} ({why})", tool.name()))
            .collect();
        bail!(
            "{REQUIRE_CLIENTS_ENV}=1 but these toolchains for the guide's examples are missing: {}",
            list.join("; ")
        );
    }
    let mut runnable = Vec::new();
    for example in Example::ALL {
        match missing.iter().find(|(tool, _)| *tool == example.tool()) {
            Some((tool, why)) => {
                // Past the harness's capture, as `flowgate_devserver::skip` reports missing tools.
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "SKIPPED: {} ({} not found: {why}; {REQUIRE_CLIENTS_ENV}=1 requires it)",
                    example.file(),
                    tool.name()
                );
            }
            None => runnable.push(example),
        }
    }
    Ok(runnable)
}

/// Settings for `go run`: modules from go.mod only, no toolchain download, no network; the
/// build cache and GOPATH in `tmp` when the defaults are unusable (no usable HOME).
pub(crate) async fn go_env(tmp: &Path) -> Vec<(&'static str, OsString)> {
    let mut env = vec![
        ("GOFLAGS", OsString::from("-mod=mod")),
        ("GOTOOLCHAIN", OsString::from("local")),
        ("GOPROXY", OsString::from("off")),
    ];
    let mut command = Command::new("go");
    command.args(["env", "GOCACHE", "GOPATH"]);
    let usable = match output(command, TOOL_PROBE_TIMEOUT).await {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let dirs: Vec<&str> = text.lines().map(str::trim).collect();
            dirs.len() == 2
                && dirs
                    .iter()
                    .all(|d| d.starts_with('/') && std::fs::create_dir_all(d).is_ok())
        }
        _ => false,
    };
    if !usable {
        eprintln!("go: default GOCACHE/GOPATH unusable; using temporary ones");
        env.push(("GOCACHE", tmp.join("gocache").into_os_string()));
        env.push(("GOPATH", tmp.join("gopath").into_os_string()));
    }
    env
}

/// Runs `command` to completion with its output captured, killing it after `timeout`.
pub(crate) async fn output(mut command: Command, timeout: Duration) -> anyhow::Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("not found on PATH"),
        _ => anyhow::Error::new(error),
    })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => Ok(out?),
        Err(_) => bail!("did not finish within {timeout:?} (killed)"),
    }
}
