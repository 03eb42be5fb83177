//! The HTTP API guide's client examples (`examples/guide`): how to run each and what it must print.

use std::{ffi::OsString, path::Path, process::Output};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tokio::process::Command;

use crate::{
    APPLES_AND_BANANAS, EXAMPLE_TIMEOUT, net::str_field, toolchains::Tool, toolchains::output,
};

#[derive(Clone, Copy)]
pub(crate) enum Example {
    Curl,
    Requests,
    ProvidedClient,
    Fetch,
    Go,
}

impl Example {
    pub(crate) const ALL: [Self; 5] = [
        Self::Curl,
        Self::Requests,
        Self::ProvidedClient,
        Self::Fetch,
        Self::Go,
    ];

    pub(crate) fn file(self) -> &'static str {
        match self {
            Self::Curl => "curl.sh",
            Self::Requests => "requests_example.py",
            Self::ProvidedClient => "provided_client_example.py",
            Self::Fetch => "fetch_example.mjs",
            Self::Go => "go/main.go",
        }
    }

    pub(crate) fn tool(self) -> Tool {
        match self {
            Self::Curl => Tool::Curl,
            Self::Requests | Self::ProvidedClient => Tool::PythonRequests,
            Self::Fetch => Tool::Node,
            Self::Go => Tool::Go,
        }
    }

    /// Runs the example as its README says, from `examples/guide` (`go/` for Go).
    pub(crate) async fn run(
        self,
        guide: &Path,
        go_env: &[(&str, OsString)],
    ) -> anyhow::Result<Output> {
        let (program, args, dir) = match self {
            Self::Curl => ("bash", vec![self.file()], guide.to_owned()),
            Self::Requests | Self::ProvidedClient => {
                ("python3", vec![self.file()], guide.to_owned())
            }
            Self::Fetch => ("node", vec![self.file()], guide.to_owned()),
            Self::Go => ("go", vec!["run", "."], guide.join("go")),
        };
        let mut command = Command::new(program);
        command
            .args(&args)
            .current_dir(&dir)
            // The examples talk to localhost: never through a proxy from the environment.
            .env("NO_PROXY", "localhost,127.0.0.1,::1")
            .env("no_proxy", "localhost,127.0.0.1,::1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if let Self::Go = self {
            command.envs(go_env.iter().cloned());
        }
        let command_line = format!("`{program} {}`", args.join(" "));
        let out = output(command, EXAMPLE_TIMEOUT)
            .await
            .with_context(|| format!("running {command_line} in {}", dir.display()))?;
        ensure!(
            out.status.success(),
            "{command_line} ({}) failed with {}\n{}",
            self.file(),
            out.status,
            show(&out)
        );
        Ok(out)
    }

    /// Checks the example's output; returns a workflow id worth looking for after a restart.
    pub(crate) fn check(self, out: &Output) -> anyhow::Result<Option<String>> {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        let result_line = format!("Result: {APPLES_AND_BANANAS}");
        let context = || format!("unexpected output of {}:\n{}", self.file(), show(out));
        match self {
            Self::Curl => {
                let answers: Vec<Value> = lines
                    .iter()
                    .filter(|l| l.starts_with('{'))
                    .map(|l| serde_json::from_str(l))
                    .collect::<Result<_, _>>()
                    .with_context(context)?;
                let [sync, started, status, result] = answers.as_slice() else {
                    bail!("expected 4 JSON answers; {}", context());
                };
                let id = str_field(started, "workflow_id")?;
                let ok = sync["status"] == "completed"
                    && sync["result"] == "Ordered 5 Apples..."
                    && id.starts_with("shopping-workflow-")
                    && started["status"] == "started"
                    && started["result"].is_null()
                    && status["workflow_id"] == id.as_str()
                    && (status["status"] == "RUNNING" || status["status"] == "COMPLETED")
                    && status["start_time"].is_string()
                    && result["workflow_id"] == id.as_str()
                    && result["status"] == "completed"
                    && result["result"] == "Ordered 3 Bananas...";
                ensure!(ok, "{}", context());
                Ok(Some(id))
            }
            Self::Requests | Self::Fetch => {
                let id_line = lines
                    .iter()
                    .any(|l| l.starts_with("Workflow ID: shopping-workflow-"));
                ensure!(
                    id_line && lines.contains(&result_line.as_str()),
                    "{}",
                    context()
                );
                Ok(None)
            }
            Self::ProvidedClient => {
                ensure!(
                    lines == ["Ordered 5 Apples...", "Ordered 3 Bananas..."],
                    "{}",
                    context()
                );
                Ok(None)
            }
            Self::Go => {
                // The builtin println writes to standard error.
                let stderr = String::from_utf8_lossy(&out.stderr);
                ensure!(
                    stderr
                        .lines()
                        .chain(stdout.lines())
                        .any(|l| l.trim() == result_line),
                    "{}",
                    context()
                );
                Ok(None)
            }
        }
    }
}

/// An example's captured output, for error messages.
fn show(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout).trim_end(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    )
}
