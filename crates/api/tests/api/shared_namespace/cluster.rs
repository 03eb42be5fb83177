//! The namespace as Prometheus sees it through ServiceMonitors: each Service's endpoints are
//! targets labelled with `namespace`, `service`, `pod`, `container` and `endpoint`, and — no
//! `jobLabel` — the job is the Service's name, as the Prometheus Operator relabels it.
//!
//! Targets come from a file Prometheus watches (`file_sd_configs`), so a test can take one away
//! as Kubernetes does when a Deployment's last pod is gone.

use std::path::{Path, PathBuf};

use serde_json::json;

/// The namespace everything runs in.
pub(super) const NAMESPACE: &str = "shop";

/// `prometheus.yml`: a 1 s scrape and rule evaluation, the namespace's targets from
/// `targets.json`, and `rule_files` (paths relative to the configuration's directory).
pub(super) fn prometheus_config(rule_files: &[String]) -> String {
    let rules: String = rule_files.iter().map(|f| format!("  - {f}\n")).collect();
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
{rules}scrape_configs:
  - job_name: serviceMonitor/{NAMESPACE}
    file_sd_configs:
      - files: [targets.json]
        refresh_interval: 1s
    relabel_configs:
      # A ServiceMonitor without jobLabel: the job is the Service's name.
      - source_labels: [service]
        target_label: job
"
    )
}

/// The scraped endpoints, by Service.
pub(super) struct Targets {
    file: PathBuf,
    endpoints: Vec<(String, String)>,
}

impl Targets {
    /// Writes `(Service name, address)` endpoints into `dir/targets.json`.
    pub(super) fn write(dir: &Path, endpoints: Vec<(String, String)>) -> Self {
        let targets = Self {
            file: dir.join("targets.json"),
            endpoints,
        };
        targets.save();
        targets
    }

    /// Takes `service`'s endpoint away (its pods are gone).
    pub(super) fn remove(&mut self, service: &str) {
        let before = self.endpoints.len();
        self.endpoints.retain(|(s, _)| s != service);
        assert_eq!(self.endpoints.len() + 1, before, "{service} was a target");
        self.save();
    }

    fn save(&self) {
        let groups: Vec<_> = self
            .endpoints
            .iter()
            .map(|(service, address)| {
                let container = service.rsplit('-').next().unwrap_or("app");
                json!({
                    "targets": [address],
                    "labels": {
                        "namespace": NAMESPACE,
                        "service": service,
                        "pod": format!("{service}-7d9c5b8f4-x2x9q"),
                        "container": container,
                        "endpoint": "metrics",
                    },
                })
            })
            .collect();
        // Replaced in one rename: Prometheus never reads half a file.
        let partial = self.file.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&groups).unwrap()).unwrap();
        std::fs::rename(&partial, &self.file).unwrap();
    }
}
