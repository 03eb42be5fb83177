//! A container of the rendered chart as a local process: its arguments, environment (the
//! mounted config file made a file here), ports moved to free local ones, probes and grace
//! period.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use flowgate_deploy_checks::helm::{Rendered, container_env};
use flowgate_testkit::process::free_port;
use serde_norway::Value;

use crate::helm_objects::container_ports;

/// One container of a rendered Deployment, ready to run as a local process.
pub(crate) struct Container {
    /// Deployment name.
    pub(crate) name: String,
    pub(crate) spec: Value,
    /// The container's environment, FLOWGATE_CONFIG naming the files it mounts as files here.
    pub(crate) env: BTreeMap<String, String>,
    /// Container port → local port.
    pub(crate) ports: BTreeMap<u64, u16>,
    pub(crate) grace: f64,
}

impl Container {
    /// `files` maps each file FLOWGATE_CONFIG names in the container to one here.
    pub(crate) fn of(
        rendered: &Rendered,
        deployment: &str,
        files: &BTreeMap<String, PathBuf>,
    ) -> Self {
        let object = rendered.get("Deployment", deployment).unwrap();
        let pod = &object["spec"]["template"];
        let spec = pod["spec"]["containers"][0].clone();
        let mut env = container_env(&spec);
        // Optional Secret references: the chart made no Secret in these profiles.
        env.retain(|name, value| {
            if value.starts_with("secretKeyRef:") {
                assert!(rendered.of_kind("Secret").is_empty(), "{name}: {value}");
                false
            } else {
                true
            }
        });
        let in_container = env.get("FLOWGATE_CONFIG").expect("FLOWGATE_CONFIG");
        assert!(
            in_container.starts_with("/etc/flowgate/flowgate.toml"),
            "{deployment}: the chart's file comes first: {in_container}"
        );
        let here: Vec<String> = in_container
            .split(':')
            .map(|path| {
                files
                    .get(path)
                    .unwrap_or_else(|| panic!("{deployment}: no file here for {path}"))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        env.insert("FLOWGATE_CONFIG".into(), here.join(":"));
        let ports = container_ports(pod)
            .into_values()
            .map(|port| (port, free_port()))
            .collect();
        Self {
            name: deployment.to_owned(),
            env,
            ports,
            grace: pod["spec"]["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap() as f64,
            spec,
        }
    }

    pub(crate) fn args(&self) -> Vec<String> {
        self.spec["args"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    }

    /// The local port of a container port given by name or number.
    pub(crate) fn local_port(&self, port: &Value) -> u16 {
        let number = match port {
            Value::String(name) => self.spec["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|p| p["name"].as_str() == Some(name))
                .and_then(|p| p["containerPort"].as_u64())
                .unwrap_or_else(|| panic!("{}: no port {name}", self.name)),
            other => other.as_u64().unwrap(),
        };
        self.ports[&number]
    }

    /// The HTTP probes the chart declares: (probe, local URL).
    pub(crate) fn probes(&self) -> Vec<(String, String)> {
        ["startupProbe", "livenessProbe", "readinessProbe"]
            .into_iter()
            .filter(|probe| !self.spec[*probe]["httpGet"].is_null())
            .map(|probe| {
                let get = &self.spec[probe]["httpGet"];
                (
                    probe.to_owned(),
                    format!(
                        "http://127.0.0.1:{}{}",
                        self.local_port(&get["port"]),
                        get["path"].as_str().unwrap()
                    ),
                )
            })
            .collect()
    }
}

/// The ConfigMap's file of `component` (`api`, `worker`), written where its process can read it:
/// the container's path (`/etc/flowgate/flowgate.toml`) and the path here.
pub(crate) fn write_config(
    rendered: &Rendered,
    dir: &Path,
    component: &str,
) -> BTreeMap<String, PathBuf> {
    let config_map = rendered.get("ConfigMap", "flowgate-config").unwrap();
    let key = format!("{component}.toml");
    let path = dir.join(&key);
    std::fs::write(&path, config_map["data"][key.as_str()].as_str().unwrap()).unwrap();
    BTreeMap::from([("/etc/flowgate/flowgate.toml".to_owned(), path)])
}

/// The listen ports of the configuration moved to the containers' local ports.
pub(crate) fn port_overrides(api: &Container, worker: &Container) -> Vec<(&'static str, String)> {
    let api_port = |name: &str| api.local_port(&Value::String(name.into())).to_string();
    vec![
        ("FLOWGATE_API__PORT", api_port("http")),
        ("FLOWGATE_METRICS__API_ADMIN_PORT", api_port("metrics")),
        (
            "FLOWGATE_WORKER__HEALTH_PORT",
            worker
                .local_port(&Value::String("health".into()))
                .to_string(),
        ),
    ]
}

pub(crate) struct Running {
    pub(crate) children: Vec<(String, tokio::process::Child, PathBuf, f64)>,
}

impl Running {
    pub(crate) fn logs(&self) -> String {
        self.children
            .iter()
            .map(|(name, _, log, _)| {
                format!(
                    "--- {name}:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// SIGTERM, as the kubelet stops a pod; each must exit 0 within its grace period.
    pub(crate) async fn stop(mut self) {
        let logs = self.logs();
        for (name, child, _, grace) in &mut self.children {
            let pid = child.id().expect("running").to_string();
            assert!(
                std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            let exit = tokio::time::timeout(Duration::from_secs_f64(*grace), child.wait())
                .await
                .unwrap_or_else(|_| panic!("{name} outlived its grace period:\n{logs}"))
                .unwrap();
            assert!(exit.success(), "{name} exited with {exit}:\n{logs}");
        }
    }
}

impl Container {
    pub(crate) fn of_dev_server(rendered: &Rendered) -> Self {
        let object = rendered.get("Deployment", "flowgate-temporal").unwrap();
        let pod = &object["spec"]["template"];
        Self {
            name: "flowgate-temporal".into(),
            spec: pod["spec"]["containers"][0].clone(),
            env: BTreeMap::new(),
            ports: container_ports(pod)
                .into_values()
                .map(|port| (port, free_port()))
                .collect(),
            grace: 30.0,
        }
    }
}
