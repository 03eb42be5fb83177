//! The real binaries as the compose stack runs them: found fresh in this build, started with
//! a compose service's environment only.
//!
//! Cargo names only a test's own package's binaries (`CARGO_BIN_EXE_*`), so the binaries are
//! found next to this test's executable, after `cargo test --workspace --no-run` made sure they
//! are fresh: under `cargo test --workspace` (CI, the README) that is the same build, so a no-op
//! check that recompiles nothing; under `cargo test -p flowgate-deploy-checks` it builds what a
//! stale binary would otherwise hide. (`cargo build -p flowgate-api -p flowgate-worker` would
//! unify features differently and compile a second copy of many dependencies.)

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
};

use flowgate_deploy_checks::compose::{environment, host_path, mounts, read_compose, service};

/// `target/<profile>/` of this test executable (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/")
        .to_owned()
}

/// A workspace binary (`flowgate-api`, `flowgate-worker`), checked fresh once per test run.
pub(crate) fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = profile_dir();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        // Without the variables Cargo sets for running this test: build scripts that watch one
        // (ring's watches CARGO_MANIFEST_DIR) would otherwise rerun, and everything above them
        // be rebuilt here and again by the next plain `cargo test`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name == "CARGO"
                || name == "OUT_DIR"
                || name.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&name.as_str())
            {
                command.env_remove(name);
            }
        }
        command
            .current_dir(flowgate_deploy_checks::repo_root())
            .args(["test", "--workspace", "--no-run", "--quiet"])
            .arg("--target-dir")
            .arg(dir.parent().expect("target/"));
        if dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the workspace binaries failed");
    });
    let path = dir.join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// What a container is given: its environment, with the config file path rewritten from the
/// container's mount to a file on this machine.
pub(crate) struct ContainerRun {
    env: BTreeMap<String, String>,
}

impl ContainerRun {
    /// Exactly this environment.
    pub(crate) fn new(env: BTreeMap<String, String>) -> Self {
        Self { env }
    }

    /// What docker-compose.yml gives service `name`, its mounted config file being the
    /// repository's.
    pub(crate) fn compose(name: &str) -> Self {
        let file = read_compose().unwrap();
        let svc = service(&file, name).unwrap();
        let mut env = environment(svc).unwrap();
        let in_container = env
            .get("FLOWGATE_CONFIG")
            .unwrap_or_else(|| panic!("{name}: FLOWGATE_CONFIG names the mounted config file"))
            .clone();
        let mount = mounts(svc)
            .into_iter()
            .find(|m| m.target == in_container)
            .unwrap_or_else(|| panic!("{name}: nothing is mounted at {in_container}"));
        let on_host = host_path(&mount).expect("a file of the repository");
        env.insert(
            "FLOWGATE_CONFIG".into(),
            on_host.to_string_lossy().into_owned(),
        );
        Self { env }
    }

    /// `binary args` with this environment only: the caller's FLOWGATE_*, TEMPORAL_*, OTEL_*,
    /// API_PORT and RUST_LOG are not inherited, `overrides` win.
    pub(crate) fn command(
        &self,
        binary: &Path,
        args: &[&str],
        overrides: &[(&str, String)],
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(binary);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["FLOWGATE_", "TEMPORAL_", "OTEL_"]
                .iter()
                .any(|p| name.starts_with(p))
                || name == "API_PORT"
                || name == "RUST_LOG"
            {
                command.env_remove(name.as_ref());
            }
        }
        command
            .args(args)
            .envs(&self.env)
            .envs(overrides.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }
}

/// `check-config` output as TOML, for the settings the binary resolved.
pub(crate) async fn check_config(run: &ContainerRun, binary: &Path) -> (toml::Value, String) {
    let out = run
        .command(binary, &["check-config"], &[])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} check-config rejects the compose configuration:\n{text}{}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        toml::from_str(&text).expect("check-config prints TOML"),
        text,
    )
}

/// `"500ms"`, `"20s"`, `"2m"` in seconds (the forms the config and compose files use).
pub(crate) fn seconds(duration: &str) -> f64 {
    let split = duration
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(duration.len());
    let (number, unit) = duration.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("duration {duration:?}"));
    match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => panic!("duration {duration:?}"),
    }
}

pub(crate) fn port(settings: &toml::Value, section: &str, key: &str) -> u16 {
    u16::try_from(settings[section][key].as_integer().unwrap()).unwrap()
}
