//! The Helm chart `deploy/helm/flowgate`, rendered by the real Helm v4 engine (PyPI
//! `helm-python-sdk`, driven by `scripts/helm.py`), as objects tests can inspect.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, bail};
use serde_norway::Value;

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    crate::deploy_dir().join("helm/flowgate")
}

/// The values profiles (`deploy/helm/profiles/<name>.yaml`).
pub fn profile_path(name: &str) -> PathBuf {
    crate::deploy_dir().join(format!("helm/profiles/{name}.yaml"))
}

/// The chart's worked examples (`deploy/helm/flowgate/examples/<name>.yaml`).
pub fn example_path(name: &str) -> PathBuf {
    chart_dir().join(format!("examples/{name}.yaml"))
}

/// Every values profile's name, sorted.
pub fn profile_names() -> anyhow::Result<Vec<String>> {
    let dir = crate::deploy_dir().join("helm/profiles");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let stem = path.file_stem().context("a file name")?;
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// `scripts/helm.py` of this crate.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/helm.py")
}

/// How to render: values files in order, then `set` (a JSON object) over them.
#[derive(Debug, Clone, Default)]
pub struct Render {
    /// Values files, merged in order.
    pub values: Vec<PathBuf>,
    /// Values over the files (like `--set-json`).
    pub set: Option<serde_json::Value>,
    /// Release name (default `flowgate`).
    pub release: Option<String>,
    /// Release namespace (default `flowgate`).
    pub namespace: Option<String>,
    /// Another copy of the chart to render (default: [`chart_dir`]).
    pub chart: Option<PathBuf>,
}

impl Render {
    /// Rendering with these values files.
    pub fn files<I, P>(values: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Self {
            values: values.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds values over the files.
    #[must_use]
    pub fn set(mut self, set: serde_json::Value) -> Self {
        self.set = Some(set);
        self
    }

    /// Uses another release name.
    #[must_use]
    pub fn release(mut self, name: &str) -> Self {
        self.release = Some(name.to_owned());
        self
    }

    /// Installs into another namespace.
    #[must_use]
    pub fn namespace(mut self, name: &str) -> Self {
        self.namespace = Some(name.to_owned());
        self
    }

    /// Renders another copy of the chart, e.g. one with a bumped version.
    #[must_use]
    pub fn chart(mut self, dir: &Path) -> Self {
        self.chart = Some(dir.to_owned());
        self
    }

    fn command(&self, python: &Path, verb: &str) -> Command {
        let mut command = Command::new(python);
        command
            .arg(script())
            .arg(verb)
            .arg(self.chart.clone().unwrap_or_else(chart_dir));
        for file in &self.values {
            command.arg("-f").arg(file);
        }
        if let Some(set) = &self.set {
            command.arg("--set-json").arg(set.to_string());
        }
        if let Some(name) = &self.release {
            command.arg("--name").arg(name);
        }
        if let Some(namespace) = &self.namespace {
            command.arg("--namespace").arg(namespace);
        }
        command
    }

    /// Renders the chart (`helm template`): the manifests by template path, or Helm's error.
    pub fn manifests(&self, python: &Path) -> anyhow::Result<BTreeMap<String, String>> {
        let out = self.command(python, "render").output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let parsed: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let manifests = parsed["manifests"]
            .as_object()
            .context("render output")?
            .iter()
            .map(|(path, text)| (path.clone(), text.as_str().unwrap_or_default().to_owned()))
            .collect();
        Ok(manifests)
    }

    /// Renders the chart into its Kubernetes objects (NOTES.txt left out).
    pub fn objects(&self, python: &Path) -> anyhow::Result<Rendered> {
        let manifests = self.manifests(python)?;
        let mut objects = Vec::new();
        let mut stream = String::new();
        for (path, text) in &manifests {
            if !path.ends_with(".yaml") {
                continue;
            }
            stream.push_str(text);
            stream.push_str("\n---\n");
            for document in serde_norway::Deserializer::from_str(text) {
                let value = <Value as serde::Deserialize>::deserialize(document)
                    .with_context(|| format!("{path} is not YAML"))?;
                if !value.is_null() {
                    objects.push(value);
                }
            }
        }
        let notes = manifests
            .iter()
            .find(|(path, _)| path.ends_with("NOTES.txt"))
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        Ok(Rendered {
            objects,
            stream,
            notes,
        })
    }

    /// Helm's lint findings of warning level and above (`helm lint --strict`), as text.
    pub fn lint(&self, python: &Path, kube_version: &str) -> anyhow::Result<Vec<String>> {
        let out = self
            .command(python, "lint")
            .args(["--kube-version", kube_version])
            .output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let mut findings: Vec<String> = report["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        for message in report["messages"].as_array().into_iter().flatten() {
            if message["severity"].as_i64().unwrap_or(3) >= 2 {
                findings.push(format!("{}: {}", message["path"], message["error"]));
            }
        }
        Ok(findings)
    }
}

/// A rendered chart.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Every object, in template order.
    pub objects: Vec<Value>,
    /// The manifests as one YAML stream (what `kubectl apply` would get).
    pub stream: String,
    /// The rendered NOTES.txt.
    pub notes: String,
}

impl Rendered {
    /// Objects of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some(kind))
            .collect()
    }

    /// The object `kind/name`.
    pub fn get(&self, kind: &str, name: &str) -> anyhow::Result<&Value> {
        self.objects
            .iter()
            .find(|o| {
                o["kind"].as_str() == Some(kind) && o["metadata"]["name"].as_str() == Some(name)
            })
            .with_context(|| {
                format!(
                    "no {kind}/{name} rendered (have: {})",
                    self.names().join(", ")
                )
            })
    }

    /// The dashboards of the Grafana sidecar's ConfigMaps (label `grafana_dashboard: "1"`).
    pub fn dashboards(&self) -> anyhow::Result<Vec<crate::grafana::Dashboard>> {
        let mut boards = Vec::new();
        for config_map in self.of_kind("ConfigMap") {
            if config_map["metadata"]["labels"]["grafana_dashboard"].as_str() != Some("1") {
                continue;
            }
            for (file, json) in config_map["data"].as_mapping().into_iter().flatten() {
                let file = file.as_str().context("a ConfigMap key")?;
                let json = json.as_str().context("a ConfigMap value")?;
                boards.push(crate::grafana::Dashboard::parse(file, json)?);
            }
        }
        Ok(boards)
    }

    /// The rule groups of the PrometheusRule `name`, as a Prometheus rule file.
    pub fn rule_file(&self, name: &str) -> anyhow::Result<String> {
        let rule = self.get("PrometheusRule", name)?;
        let file = serde_norway::Mapping::from_iter([(
            Value::from("groups"),
            rule["spec"]["groups"].clone(),
        )]);
        Ok(serde_norway::to_string(&file)?)
    }

    /// `kind/name` of every object.
    pub fn names(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    /// Validates every object against the Kubernetes schemas of each version (strict: unknown
    /// fields fail): the lines of `kubernetes-validate`, and whether all passed.
    pub fn kube_validate(
        &self,
        python: &Path,
        versions: &[&str],
    ) -> anyhow::Result<(bool, String)> {
        let mut command = Command::new(python);
        command.arg(script()).arg("validate");
        for version in versions {
            command.args(["--kube-version", version]);
        }
        pipe(command, &self.stream)
    }
}

/// Runs `command` with `input` on stdin: success and combined output.
pub fn pipe(mut command: Command, input: &str) -> anyhow::Result<(bool, String)> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// A container's environment as rendered: plain values, and `valueFrom` references as
/// `secretKeyRef:<secret>/<key>`.
pub fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|var| {
            let name = var["name"].as_str()?.to_owned();
            let value = if let Some(value) = var["value"].as_str() {
                value.to_owned()
            } else if let Some(r) = var["valueFrom"]["secretKeyRef"].as_mapping() {
                let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                format!("secretKeyRef:{}/{}", get("name"), get("key"))
            } else {
                format!("{:?}", var["value"])
            };
            Some((name, value))
        })
        .collect()
}
