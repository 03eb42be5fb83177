//! The objects a Tiltfile's `k8s_yaml` calls give Tilt, the chart rendered by the real Helm
//! engine (`scripts/helm.py`) as Tilt's `helm()` renders it.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::eval::{Evaluation, script, str_of, strings};

/// Helm's `--set` strings as the JSON object they set (dotted keys; `true`/`false`/`null` and
/// integers typed as Helm types them). Lists, escapes and commas are refused rather than guessed.
pub(crate) fn set_json(set: &[String]) -> anyhow::Result<Value> {
    let mut root = Map::new();
    for item in set {
        let (key, raw) = item
            .split_once('=')
            .with_context(|| format!("--set {item:?} has no `=`"))?;
        if key.contains(['[', '\\', ',']) || raw.contains([',', '{', '[']) {
            bail!("--set {item:?}: syntax this check does not parse (lists, escapes, commas)");
        }
        let value = match raw {
            "true" => json!(true),
            "false" => json!(false),
            "null" => Value::Null,
            _ => match raw.parse::<i64>() {
                Ok(n) if !(raw.starts_with('0') && raw.len() > 1) => json!(n),
                _ => json!(raw),
            },
        };
        let parts: Vec<&str> = key.split('.').collect();
        let (last, parents) = parts.split_last().context("empty --set key")?;
        let mut node = &mut root;
        for part in parents {
            node = node
                .entry((*part).to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .with_context(|| format!("--set {item:?} goes through a non-object"))?;
        }
        node.insert((*last).to_owned(), value);
    }
    Ok(Value::Object(root))
}

/// The non-empty documents of a YAML stream.
pub(crate) fn yaml_documents(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// The objects `helm(...)` gives Tilt: `helm template` with the same values files, `--set`,
/// release name and namespace, without `templates/tests/` (Tilt drops them), and the namespace
/// set on objects that have none (as Tilt does).
pub(crate) fn render_helm_call(
    python: &Path,
    eval: &Evaluation,
    helm: &Map<String, Value>,
) -> anyhow::Result<Vec<Value>> {
    if !str_of(helm, "kube_version").is_empty() {
        bail!("helm(kube_version=...) is not supported by this check");
    }
    let name = match str_of(helm, "name") {
        "" => "chart",
        name => name,
    };
    let namespace = match str_of(helm, "namespace") {
        "" => "default",
        namespace => namespace,
    };
    let mut command = Command::new(python);
    command
        .arg(script("helm.py"))
        .arg("render")
        .arg(eval.path(str_of(helm, "paths")));
    for file in strings(helm, "values") {
        command.arg("-f").arg(eval.path(&file));
    }
    let set = strings(helm, "set");
    if !set.is_empty() {
        command.arg("--set-json").arg(set_json(&set)?.to_string());
    }
    command.args(["--name", name, "--namespace", namespace]);
    let out = command.output()?;
    if !out.status.success() {
        bail!(
            "helm template failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rendered: Value = serde_json::from_slice(&out.stdout)?;
    let mut objects = Vec::new();
    for (path, text) in rendered["manifests"].as_object().context("render output")? {
        if !path.ends_with(".yaml") || path.contains("/tests/") {
            continue;
        }
        for mut object in
            yaml_documents(text.as_str().unwrap_or_default()).with_context(|| path.clone())?
        {
            if object["metadata"]["namespace"].is_null() {
                object["metadata"]["namespace"] = json!(namespace);
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Every object the Tiltfile's `k8s_yaml` calls load.
pub(crate) fn k8s_objects(python: &Path, eval: &Evaluation) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for k8s_yaml in eval.calls("k8s_yaml") {
        for item in k8s_yaml["yaml"].as_array().into_iter().flatten() {
            if let Some(path) = item.as_str() {
                objects.extend(yaml_documents(&std::fs::read_to_string(eval.path(path))?)?);
            } else if let Some(contents) = item["contents"].as_str() {
                objects.extend(yaml_documents(contents)?);
            } else if let Some(index) = item["call"].as_u64() {
                let call = &eval.calls[usize::try_from(index)?];
                match call.function.as_str() {
                    "helm" => objects.extend(render_helm_call(python, eval, &call.params)?),
                    other => bail!("k8s_yaml({other}(...)) is not supported by this check"),
                }
            } else {
                bail!("k8s_yaml of {item}");
            }
        }
    }
    Ok(objects)
}
