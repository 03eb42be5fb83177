//! Running `scripts/tilt_eval.py` and reading what it prints: the Tilt builtins a Tiltfile called,
//! with their arguments bound to Tilt's signatures (`params`).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use flowgate_deploy_checks::{repo_root, tools};
use serde::Deserialize;
use serde_json::{Map, Value};

const STARLARK_INSTALL: &str = "pip install starlark-pyo3==2026.1.3";

/// The python (`FLOWGATE_PYTHON` or `python3`) with the Starlark bindings and PyYAML.
pub(crate) fn starlark_python() -> Option<PathBuf> {
    tools::python_with_or_skip(&["starlark", "yaml"], STARLARK_INSTALL)
}

/// The python (`FLOWGATE_PYTHON` or `python3`) with both the Starlark bindings and the Helm SDK.
pub(crate) fn python() -> Option<PathBuf> {
    starlark_python()?;
    tools::helm_python_or_skip()
}

/// A script of this crate's `scripts/`.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// What `tilt_eval.py` prints.
#[derive(Debug, Deserialize)]
pub(crate) struct Evaluation {
    dir: PathBuf,
    pub(crate) calls: Vec<Call>,
}

/// One call of a Tilt builtin; `params` are its arguments bound to Tilt's signature.
#[derive(Debug, Deserialize)]
pub(crate) struct Call {
    pub(crate) function: String,
    pub(crate) params: Map<String, Value>,
}

/// Evaluates `tiltfile` (relative paths against `dir`) with Tilt's arguments after `--`:
/// the recorded calls, or the evaluation error.
pub(crate) fn evaluate(
    python: &Path,
    tiltfile: &Path,
    dir: &Path,
    tilt_args: &[&str],
) -> Result<Evaluation, String> {
    let out = Command::new(python)
        .arg(script("tilt_eval.py"))
        .arg(tiltfile)
        .arg("--dir")
        .arg(dir)
        .arg("--")
        .args(tilt_args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tilt_eval.py: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(stderr);
    }
    if !stderr.trim().is_empty() {
        eprintln!("{stderr}");
    }
    Ok(serde_json::from_slice(&out.stdout).expect("tilt_eval.py prints JSON"))
}

/// The repository's `Tiltfile`, evaluated with Tilt's arguments `tilt_args`.
pub(crate) fn evaluate_repo_tiltfile(python: &Path, tilt_args: &[&str]) -> Evaluation {
    let root = repo_root();
    evaluate(python, &root.join("Tiltfile"), &root, tilt_args)
        .unwrap_or_else(|e| panic!("the Tiltfile does not evaluate with {tilt_args:?}:\n{e}"))
}

impl Evaluation {
    /// The `params` of every call of `function`, in order.
    pub(crate) fn calls<'a>(
        &'a self,
        function: &'a str,
    ) -> impl Iterator<Item = &'a Map<String, Value>> {
        self.calls
            .iter()
            .filter(move |c| c.function == function)
            .map(|c| &c.params)
    }

    /// `relative` resolved against the Tiltfile's directory (`--dir`), as Tilt resolves it.
    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The `k8s_resource` calls for resource `name` (workload or new_name).
    pub(crate) fn k8s_resource<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Map<String, Value>> {
        self.calls("k8s_resource")
            .filter(move |p| resource_name(p) == name)
    }

    /// Every port-forward of resource `name`, from k8s_resource and helm_resource calls.
    pub(crate) fn forwards(&self, name: &str) -> Vec<Forward> {
        self.k8s_resource(name)
            .chain(
                self.calls("helm_resource")
                    .filter(|p| str_of(p, "name") == name),
            )
            .flat_map(|p| strings(p, "port_forwards"))
            .map(|f| Forward::parse(&f).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

/// A string parameter (`""` when absent or not a string).
pub(crate) fn str_of<'a>(params: &'a Map<String, Value>, key: &str) -> &'a str {
    params.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A string-or-list parameter as a list.
pub(crate) fn strings(params: &Map<String, Value>, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The resource a `k8s_resource` call configures.
pub(crate) fn resource_name(params: &Map<String, Value>) -> &str {
    match str_of(params, "workload") {
        "" => str_of(params, "new_name"),
        workload => workload,
    }
}

/// A port-forward string `LOCAL[:CONTAINER]` or `HOST:LOCAL:CONTAINER`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Forward {
    pub(crate) local: u16,
    pub(crate) container: Option<u16>,
}

impl Forward {
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let port = |s: &str| {
            s.parse::<u16>()
                .with_context(|| format!("bad port in forward {text:?}"))
        };
        Ok(match parts.as_slice() {
            [local] => Self {
                local: port(local)?,
                container: None,
            },
            [local, container] | [_, local, container] => Self {
                local: port(local)?,
                container: Some(port(container)?),
            },
            _ => bail!("bad port-forward {text:?}"),
        })
    }
}
