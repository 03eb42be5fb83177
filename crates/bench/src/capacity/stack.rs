//! The capacity stack: the null frontend, Flowgate's API twice (authentication off, and on with
//! an API key) and the floor, each pinned to its core: the measured processes (the APIs and the
//! floor, one runtime thread each) to [`SUBJECT_CORE`]; this process, wrk and the null frontend
//! to [`LOAD_CORE`].

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail};
use flowgate_testkit::process::{Proc, free_port};
use sha2::{Digest as _, Sha256};

use crate::stack::{Probe, START_ONLY_QUEUE, Service, wait_ready};

/// The core of the measured process.
pub(crate) const SUBJECT_CORE: usize = 1;
/// The core of everything else: the load generators and the null frontend.
pub(crate) const LOAD_CORE: usize = 0;

/// Everything running.
pub(crate) struct CapacityStack {
    /// The null Temporal frontend.
    pub(crate) frontend: Service,
    /// Flowgate's API, authentication off.
    pub(crate) api: Service,
    /// Flowgate's API, authentication on.
    pub(crate) api_auth: Service,
    /// The minimal handler (and the bare one).
    pub(crate) floor: Service,
    /// The API key `api_auth` accepts.
    pub(crate) api_key: String,
}

impl CapacityStack {
    /// Pins this process to [`LOAD_CORE`] and starts the stack from the binaries in `bin_dir`;
    /// logs and the API's config file go to `work`.
    pub(crate) async fn start(bin_dir: &Path, work: &Path) -> anyhow::Result<Self> {
        if crate::procstat::cpus() < 2 {
            bail!("the capacity benchmark needs two cores: one for the API, one for the load");
        }
        let taskset = which("taskset").context("taskset is needed (util-linux)")?;
        pin_self(&taskset, LOAD_CORE)?;
        let binary = |name: &str| -> anyhow::Result<PathBuf> {
            let path = bin_dir.join(name);
            if !path.is_file() {
                bail!(
                    "{} is missing: build it first (cargo build --release -p flowgate-api -p flowgate-bench)",
                    path.display()
                );
            }
            Ok(path)
        };
        let pinned = |core: usize, bin: &Path, args: &[&str], env: &[(&str, String)], log: &str| {
            let core = core.to_string();
            let bin = bin.display().to_string();
            let mut all = vec!["-c", core.as_str(), bin.as_str()];
            all.extend_from_slice(args);
            Proc::spawn(&taskset, &all, env, work.join(log))
        };

        let port = free_port();
        let frontend = Service::new(
            format!("127.0.0.1:{port}"),
            pinned(
                LOAD_CORE,
                &binary("flowgate-null-frontend")?,
                &["--port", &port.to_string()],
                &[],
                "null-frontend.log",
            ),
        );
        wait_listening(&frontend, port).await?;
        let temporal = frontend.url.clone();

        let api_bin = binary("flowgate-api")?;
        let api_key = uuid::Uuid::new_v4().simple().to_string();
        let config = work.join("api-auth.toml");
        std::fs::write(&config, auth_config(&api_key))?;
        let mut apis = Vec::new();
        for (name, extra) in [
            ("api", None),
            (
                "api-auth",
                Some(("FLOWGATE_CONFIG", config.display().to_string())),
            ),
        ] {
            let port = free_port();
            let mut env = vec![
                ("TEMPORAL_ADDRESS", temporal.clone()),
                ("FLOWGATE_API__HOST", "127.0.0.1".to_owned()),
                ("FLOWGATE_API__PORT", port.to_string()),
                ("FLOWGATE_API__RUNTIME_THREADS", "1".to_owned()),
                // The log format the Helm chart and the compose file run.
                ("FLOWGATE_LOG__FORMAT", "json".to_owned()),
                ("FLOWGATE_SHOPPING__TASK_QUEUE", START_ONLY_QUEUE.to_owned()),
            ];
            env.extend(extra);
            let service = Service::new(
                format!("http://127.0.0.1:{port}"),
                pinned(SUBJECT_CORE, &api_bin, &[], &env, &format!("{name}.log")),
            );
            wait_ready(&service, Probe::Api).await?;
            apis.push(service);
        }
        let (api_auth, api) = (apis.pop().context("api")?, apis.pop().context("api")?);

        let port = free_port();
        let floor = Service::new(
            format!("http://127.0.0.1:{port}"),
            pinned(
                SUBJECT_CORE,
                &binary("flowgate-floor")?,
                &["--port", &port.to_string(), "--temporal", &temporal],
                &[("FLOOR_TASK_QUEUE", START_ONLY_QUEUE.to_owned())],
                "floor.log",
            ),
        );
        wait_listening(&floor, port).await?;
        Ok(Self {
            frontend,
            api,
            api_auth,
            floor,
            api_key,
        })
    }
}

/// The API's configuration with authentication on: one key that may do everything.
fn auth_config(key: &str) -> String {
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "[auth]\nenabled = true\n\n[[auth.api_keys]]\nname = \"capacity\"\nsha256 = \"{hash}\"\npermissions = [\"*:*\"]\n"
    )
}

/// Pins every thread of this process (and so the processes it starts later) to `core`.
fn pin_self(taskset: &Path, core: usize) -> anyhow::Result<()> {
    let status = std::process::Command::new(taskset)
        .args(["-a", "-p", "-c", &core.to_string()])
        .arg(std::process::id().to_string())
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("taskset could not pin the benchmark to core {core}");
    }
    Ok(())
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|path| path.is_file())
}

/// Polls until `service` accepts TCP connections on `port` (at most 30 s).
async fn wait_listening(service: &Service, port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            bail!("{} did not listen; log:\n{}", service.url, service.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_config_holds_the_keys_hash_not_the_key() {
        let config = auth_config("secret");
        assert!(!config.contains("secret\""), "{config}");
        // printf %s secret | sha256sum
        assert!(
            config.contains("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"),
            "{config}"
        );
        let parsed: toml::Value = toml::from_str(&config).unwrap();
        assert_eq!(parsed["auth"]["enabled"].as_bool(), Some(true));
    }
}
