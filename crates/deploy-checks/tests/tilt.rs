//! The `Tiltfile` (`tilt up` on a local cluster), checked without Tilt, Docker or a cluster.
//!
//! `scripts/tilt_eval.py` evaluates it with starlark-rust (PyPI `starlark-pyo3`) and strict,
//! recording stubs of Tilt's builtins (a misspelled builtin, keyword or attribute fails, as in
//! Tilt). What it asks Tilt to do is then checked against the real `Dockerfile` and against the
//! chart as the real Helm engine renders it with exactly the arguments the Tiltfile's `helm()`
//! passes (values files, `--set`, release name, namespace; Tilt's filter of `templates/tests/`):
//!
//! - every image is built from a real final stage whose entrypoint is that image's binary, from a
//!   build context (`only=`/`ignore=`) that still holds everything cargo needs, and is the image
//!   repository the values files give a workload (so Tilt substitutes it), and every repository
//!   those values set is built;
//! - every `k8s_resource` names a rendered workload (or a Helm release the Tiltfile installs),
//!   every port-forward reaches a `containerPort` of its pod, and local ports are not reused;
//! - every object is in a resource (none left to Tilt's parallel "uncategorized" one), object
//!   selectors match exactly one object, every resource with objects in a namespace waits for the
//!   resource creating it, custom resources wait for the release installing their CRDs, and
//!   `resource_deps` name real resources;
//! - in `--monitoring` mode, Grafana is forwarded to local port 3000 from Grafana's pod, and the
//!   chart renders the ServiceMonitor, PrometheusRule and dashboards for that Prometheus.
//!
//! A last test mutates the Tiltfile (wrong target, port, image, dependency, …) and expects these
//! checks to object, so they cannot silently pass.
//!
//! Needs `python3` with `starlark` and `yaml` (`pip install starlark-pyo3==2026.1.3`) and the Helm
//! SDK (see `tools::helm_python_or_skip`); missing, the tests skip unless
//! `FLOWGATE_REQUIRE_DEPLOY_TOOLS=1`.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use flowgate_deploy_checks::{dockerfile::Dockerfile, repo_root, tools};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const STARLARK_INSTALL: &str = "pip install starlark-pyo3==2026.1.3";

fn starlark_python() -> Option<PathBuf> {
    tools::python_with_or_skip(&["starlark", "yaml"], STARLARK_INSTALL)
}

/// The python (`FLOWGATE_PYTHON` or `python3`) with both the Starlark bindings and the Helm SDK.
fn python() -> Option<PathBuf> {
    starlark_python()?;
    tools::helm_python_or_skip()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

// ---- evaluation ---------------------------------------------------------------------------------

/// What `tilt_eval.py` prints.
#[derive(Debug, Deserialize)]
struct Evaluation {
    dir: PathBuf,
    calls: Vec<Call>,
}

#[derive(Debug, Deserialize)]
struct Call {
    function: String,
    params: Map<String, Value>,
}

/// Evaluates `tiltfile` (relative paths against `dir`) with Tilt's arguments after `--`:
/// the recorded calls, or the evaluation error.
fn evaluate(
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

fn evaluate_repo_tiltfile(python: &Path, tilt_args: &[&str]) -> Evaluation {
    let root = repo_root();
    evaluate(python, &root.join("Tiltfile"), &root, tilt_args)
        .unwrap_or_else(|e| panic!("the Tiltfile does not evaluate with {tilt_args:?}:\n{e}"))
}

impl Evaluation {
    fn calls<'a>(&'a self, function: &'a str) -> impl Iterator<Item = &'a Map<String, Value>> {
        self.calls
            .iter()
            .filter(move |c| c.function == function)
            .map(|c| &c.params)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The `k8s_resource` calls for resource `name` (workload or new_name).
    fn k8s_resource<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Map<String, Value>> {
        self.calls("k8s_resource")
            .filter(move |p| resource_name(p) == name)
    }

    /// Every port-forward of resource `name`, from k8s_resource and helm_resource calls.
    fn forwards(&self, name: &str) -> Vec<Forward> {
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

fn str_of<'a>(params: &'a Map<String, Value>, key: &str) -> &'a str {
    params.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn strings(params: &Map<String, Value>, key: &str) -> Vec<String> {
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
fn resource_name(params: &Map<String, Value>) -> &str {
    match str_of(params, "workload") {
        "" => str_of(params, "new_name"),
        workload => workload,
    }
}

/// A port-forward string `LOCAL[:CONTAINER]` or `HOST:LOCAL:CONTAINER`.
#[derive(Debug, Clone, PartialEq)]
struct Forward {
    local: u16,
    container: Option<u16>,
}

impl Forward {
    fn parse(text: &str) -> anyhow::Result<Self> {
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

// ---- the chart as Tilt renders it -------------------------------------------------------------

/// Helm's `--set` strings as the JSON object they set (dotted keys; `true`/`false`/`null` and
/// integers typed as Helm types them). Lists, escapes and commas are refused rather than guessed.
fn set_json(set: &[String]) -> anyhow::Result<Value> {
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

fn yaml_documents(text: &str) -> anyhow::Result<Vec<Value>> {
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
fn render_helm_call(
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
fn k8s_objects(python: &Path, eval: &Evaluation) -> anyhow::Result<Vec<Value>> {
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

const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn describe(object: &Value) -> String {
    format!(
        "{}/{} (namespace {})",
        kind(object),
        name(object),
        namespace(object)
    )
}

fn pod_template(object: &Value) -> &Value {
    match kind(object) {
        "Pod" => object,
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"],
        _ => &object["spec"]["template"],
    }
}

fn containers(object: &Value) -> impl Iterator<Item = &Value> {
    let spec = &pod_template(object)["spec"];
    spec["containers"]
        .as_array()
        .into_iter()
        .chain(spec["initContainers"].as_array())
        .flatten()
}

/// containerPort → port name, over every container of a workload's pod.
fn container_ports(object: &Value) -> BTreeMap<u64, String> {
    containers(object)
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .filter_map(|p| {
            Some((
                p["containerPort"].as_u64()?,
                p["name"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// An image reference's repository (no tag, no digest).
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(colon) if colon > image.rfind('/').unwrap_or(0) => &image[..colon],
        _ => image,
    }
}

/// Whether a Service selects the pods of `workload` (Tilt attaches such Services to the
/// workload's resource).
fn selects(service: &Value, workload: &Value) -> bool {
    let Some(selector) = service["spec"]["selector"].as_object() else {
        return false;
    };
    let labels = &pod_template(workload)["metadata"]["labels"];
    namespace(service) == namespace(workload)
        && !selector.is_empty()
        && selector.iter().all(|(k, v)| &labels[k] == v)
}

/// Tilt's object selector `name[:kind[:namespace]]`: each part a full, case-insensitive match.
fn selector_matches(selector: &str, object: &Value) -> bool {
    let parts: Vec<&str> = selector.split(':').collect();
    let fields = [name(object), kind(object), namespace(object)];
    parts.len() <= 3
        && parts
            .iter()
            .zip(fields)
            .all(|(part, field)| part.is_empty() || part.eq_ignore_ascii_case(field))
}

/// Whether an apiVersion is a custom resource's (its CRD must be installed first).
fn is_custom_resource(object: &Value) -> bool {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    match api_version.split_once('/') {
        Some((group, _)) => group.contains('.') && !group.ends_with(".k8s.io"),
        None => false,
    }
}

// ---- build context ------------------------------------------------------------------------------

/// A dockerignore-style pattern (`*`, `?` within a segment, `**` across segments) against a
/// relative path: it matches the path or one of its parent directories.
fn ignore_matches(pattern: &str, path: &str) -> bool {
    fn segment(pattern: &[u8], text: &[u8]) -> bool {
        match (pattern.first(), text.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                segment(&pattern[1..], text) || (!text.is_empty() && segment(pattern, &text[1..]))
            }
            (Some(b'?'), Some(_)) => segment(&pattern[1..], &text[1..]),
            (Some(p), Some(t)) if p == t => segment(&pattern[1..], &text[1..]),
            _ => false,
        }
    }
    fn segments(pattern: &[&str], path: &[&str]) -> bool {
        match (pattern.first(), path.first()) {
            (None, _) => true, // a parent directory matched
            (Some(&"**"), _) => {
                segments(&pattern[1..], path) || (!path.is_empty() && segments(pattern, &path[1..]))
            }
            (Some(p), Some(t)) => {
                segment(p.as_bytes(), t.as_bytes()) && segments(&pattern[1..], &path[1..])
            }
            (Some(_), None) => false,
        }
    }
    let pattern: Vec<&str> = pattern.trim_start_matches("./").split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments(&pattern, &path)
}

/// The files `cargo build` needs from the build context: the workspace manifest and lockfile,
/// and each member's manifest, build script and sources.
fn cargo_inputs(context: &Path) -> anyhow::Result<Vec<String>> {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(context.join("Cargo.toml"))?)?;
    let mut inputs = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
    let members = manifest["workspace"]["members"]
        .as_array()
        .context("workspace.members")?;
    for member in members {
        let member = member.as_str().context("member")?;
        let dirs: Vec<String> = match member.strip_suffix("/*") {
            Some(parent) => std::fs::read_dir(context.join(parent))?
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .map(|e| format!("{parent}/{}", e.file_name().to_string_lossy()))
                .collect(),
            None => vec![member.to_owned()],
        };
        for dir in dirs {
            inputs.push(format!("{dir}/Cargo.toml"));
            if context.join(&dir).join("build.rs").is_file() {
                inputs.push(format!("{dir}/build.rs"));
            }
            let mut stack = vec![context.join(&dir).join("src")];
            while let Some(next) = stack.pop() {
                for entry in std::fs::read_dir(&next)? {
                    let path = entry?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        let relative = path.strip_prefix(context)?.to_string_lossy().into_owned();
                        inputs.push(relative);
                    }
                }
            }
        }
    }
    Ok(inputs)
}

// ---- the checks ---------------------------------------------------------------------------------

/// Everything wrong with what the Tiltfile asks Tilt to do (empty when it is right).
fn problems(python: &Path, eval: &Evaluation) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let objects = k8s_objects(python, eval)?;

    // -- Images: real stages, a context with what cargo needs, substituted into the chart.
    let mut values_repositories = BTreeSet::new();
    for helm in eval.calls("helm") {
        for file in strings(helm, "values") {
            let text = std::fs::read_to_string(eval.path(&file))
                .with_context(|| format!("values file {file}"))?;
            for document in yaml_documents(&text)? {
                collect_image_repositories(&document, &mut values_repositories);
            }
        }
        collect_image_repositories(&set_json(&strings(helm, "set"))?, &mut values_repositories);
    }
    let rendered_repositories: BTreeSet<&str> = objects
        .iter()
        .filter(|o| WORKLOAD_KINDS.contains(&kind(o)))
        .flat_map(containers)
        .filter_map(|c| c["image"].as_str().map(image_repository))
        .collect();
    let mut built = BTreeSet::new();
    for build in eval.calls("docker_build") {
        let reference = str_of(build, "ref");
        built.insert(reference.to_owned());
        let context = eval.path(str_of(build, "context"));
        let dockerfile_path = eval.path(str_of(build, "dockerfile"));
        let Ok(text) = std::fs::read_to_string(&dockerfile_path) else {
            problems.push(format!(
                "{reference}: no Dockerfile at {}",
                dockerfile_path.display()
            ));
            continue;
        };
        let dockerfile = Dockerfile::parse(&text);
        let target = str_of(build, "target");
        if dockerfile.stage(target).is_none() {
            problems.push(format!(
                "{reference}: target {target:?} is not a stage of {} (stages: {:?})",
                dockerfile_path.display(),
                dockerfile
                    .stages
                    .iter()
                    .filter_map(|s| s.name.as_deref())
                    .collect::<Vec<_>>()
            ));
        } else {
            let binary = reference.rsplit('/').next().unwrap_or(reference);
            let entrypoint = dockerfile.entrypoint(target).unwrap_or_default();
            if entrypoint
                .first()
                .is_none_or(|e| e.rsplit('/').next() != Some(binary))
            {
                problems.push(format!(
                    "{reference}: target {target:?} runs {entrypoint:?}, not the {binary} binary"
                ));
            }
        }
        if !rendered_repositories.contains(reference) {
            problems.push(format!(
                "{reference}: no rendered workload uses this image, so Tilt substitutes nothing \
                 (images: {rendered_repositories:?})"
            ));
        }
        if !values_repositories.contains(reference) {
            problems.push(format!(
                "{reference}: not an image repository the helm() values set ({values_repositories:?})"
            ));
        }
        let only = strings(build, "only");
        let ignore = strings(build, "ignore");
        for entry in &only {
            if !context.join(entry).exists() {
                problems.push(format!(
                    "{reference}: only= names {entry:?}, which does not exist"
                ));
            }
        }
        // What cargo needs but the context leaves out, by the `only=`/`ignore=` entry at fault.
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for input in cargo_inputs(&context)? {
            let included = only.is_empty()
                || only.iter().any(|o| {
                    let o = o.trim_start_matches("./").trim_end_matches('/');
                    input == o || input.starts_with(&format!("{o}/"))
                });
            if !included {
                missing
                    .entry("only= leaves out".to_owned())
                    .or_default()
                    .push(input);
            } else if let Some(pattern) = ignore.iter().find(|p| ignore_matches(p, &input)) {
                missing
                    .entry(format!("ignore= {pattern:?} drops"))
                    .or_default()
                    .push(input);
            }
        }
        for (why, inputs) in missing {
            problems.push(format!(
                "{reference}: the build needs {}, which {why} ({} files)",
                inputs[..inputs.len().min(3)].join(", "),
                inputs.len()
            ));
        }
    }
    for repository in &values_repositories {
        if !built.contains(repository) {
            problems.push(format!(
                "image {repository} (set by the helm() values) is built by no docker_build: \
                 the cluster would try to pull it"
            ));
        }
    }

    // -- Resources: what Tilt assembles from the objects.
    let workloads: BTreeMap<&str, &Value> = objects
        .iter()
        .filter(|o| WORKLOAD_KINDS.contains(&kind(o)))
        .map(|o| (name(o), o))
        .collect();
    let releases: BTreeMap<&str, &Map<String, Value>> = eval
        .calls("helm_resource")
        .map(|p| (str_of(p, "name"), p))
        .collect();
    // object index -> resource
    let mut owner: BTreeMap<usize, String> = BTreeMap::new();
    for (i, object) in objects.iter().enumerate() {
        if WORKLOAD_KINDS.contains(&kind(object)) {
            owner.insert(i, name(object).to_owned());
        } else if kind(object) == "Service"
            && let Some(w) = workloads.values().find(|w| selects(object, w))
        {
            owner.insert(i, name(w).to_owned());
        }
    }
    let mut resources: BTreeSet<String> = workloads.keys().map(|w| (*w).to_owned()).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut local_ports: BTreeMap<u16, String> = BTreeMap::new();
    let mut all_deps: Vec<(String, String)> = Vec::new();

    for params in eval.calls("k8s_resource") {
        let resource = resource_name(params).to_owned();
        let workload = str_of(params, "workload");
        if !workload.is_empty()
            && !workloads.contains_key(workload)
            && !releases.contains_key(workload)
        {
            problems.push(format!(
                "k8s_resource({workload:?}): no such workload is rendered (workloads: {:?})",
                workloads.keys().collect::<Vec<_>>()
            ));
        }
        for selector in strings(params, "objects") {
            let matching: Vec<usize> = objects
                .iter()
                .enumerate()
                .filter(|(_, o)| selector_matches(&selector, o))
                .map(|(i, _)| i)
                .collect();
            match matching.as_slice() {
                [i] => {
                    if let Some(previous) = owner.insert(*i, resource.clone()) {
                        problems.push(format!(
                            "{resource}: object selector {selector:?} takes {}, already in {previous}",
                            describe(&objects[*i])
                        ));
                    }
                }
                [] => problems.push(format!(
                    "{resource}: object selector {selector:?} matches no object"
                )),
                _ => problems.push(format!(
                    "{resource}: object selector {selector:?} matches several objects"
                )),
            }
        }
        resources.insert(resource.clone());
        for dep in strings(params, "resource_deps") {
            deps.entry(resource.clone())
                .or_default()
                .insert(dep.clone());
            all_deps.push((resource.clone(), dep));
        }
        for text in strings(params, "port_forwards") {
            let forward = Forward::parse(&text)?;
            if let Some(previous) = local_ports.insert(forward.local, resource.clone()) {
                problems.push(format!(
                    "local port {} is forwarded twice ({previous}, {resource})",
                    forward.local
                ));
            }
            if let Some(object) = workloads.get(workload) {
                let ports = container_ports(object);
                match forward.container {
                    None => problems.push(format!(
                        "{resource}: port-forward {text:?} names no container port (Tilt falls back to the first one)"
                    )),
                    Some(port) if !ports.contains_key(&u64::from(port)) => problems.push(format!(
                        "{resource}: port-forward {text:?}: {port} is not a containerPort of its pod ({:?})",
                        ports.keys().collect::<Vec<_>>()
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    for (name, params) in &releases {
        resources.insert((*name).to_owned());
        for dep in strings(params, "resource_deps") {
            deps.entry((*name).to_owned())
                .or_default()
                .insert(dep.clone());
            all_deps.push(((*name).to_owned(), dep));
        }
        for text in strings(params, "port_forwards") {
            let forward = Forward::parse(&text)?;
            if let Some(previous) = local_ports.insert(forward.local, (*name).to_owned()) {
                problems.push(format!(
                    "local port {} is forwarded twice ({previous}, {name})",
                    forward.local
                ));
            }
        }
    }
    let mut local_names = BTreeSet::new();
    for params in eval.calls("local_resource") {
        let name = str_of(params, "name");
        if !local_names.insert(name.to_owned()) || resources.contains(name) {
            problems.push(format!("resource name {name:?} is used twice"));
        }
        for dep in strings(params, "resource_deps") {
            all_deps.push((name.to_owned(), dep));
        }
    }
    resources.extend(local_names);
    for params in eval.calls("helm_repo") {
        let name = match str_of(params, "resource_name") {
            "" => str_of(params, "name"),
            name => name,
        };
        resources.insert(name.to_owned());
    }
    for (resource, dep) in &all_deps {
        if !resources.contains(dep) {
            problems.push(format!(
                "{resource}: resource_deps names {dep:?}, which is no resource"
            ));
        }
    }

    // -- Ordering: every object in a resource; namespaces and CRDs before what needs them.
    let depends_on = |resource: &str, target: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![resource.to_owned()];
        while let Some(next) = stack.pop() {
            if next == target {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.extend(deps.get(&next).into_iter().flatten().cloned());
            }
        }
        false
    };
    for (i, object) in objects.iter().enumerate() {
        let Some(resource) = owner.get(&i) else {
            problems.push(format!(
                "{} is in no resource: Tilt would apply it in `uncategorized`, in parallel with \
                 the rest (give it to a k8s_resource(objects=...))",
                describe(object)
            ));
            continue;
        };
        if kind(object) == "Namespace" {
            for (j, other) in objects.iter().enumerate() {
                let Some(other_resource) = owner.get(&j) else {
                    continue;
                };
                if namespace(other) == name(object) && !depends_on(other_resource, resource) {
                    problems.push(format!(
                        "{} is in {other_resource}, which does not wait for {resource} (creating namespace {})",
                        describe(other),
                        name(object)
                    ));
                }
            }
        }
        if is_custom_resource(object) && !releases.keys().any(|r| depends_on(resource, r)) {
            problems.push(format!(
                "{} (a custom resource) is in {resource}, which waits for no release installing its CRD",
                describe(object)
            ));
        }
    }
    Ok(problems)
}

/// Every `image.repository` (a mapping `image` with a `repository`) in a values document.
fn collect_image_repositories(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(repository) = map.get("image").and_then(|i| i["repository"].as_str()) {
                into.insert(repository.to_owned());
            }
            for v in map.values() {
                collect_image_repositories(v, into);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_image_repositories(v, into)),
        _ => {}
    }
}

fn assert_no_problems(python: &Path, eval: &Evaluation) {
    let problems = problems(python, eval).expect("checks run");
    assert!(
        problems.is_empty(),
        "the Tiltfile is wrong:\n- {}",
        problems.join("\n- ")
    );
}

/// The one rendered workload `name`.
fn workload<'a>(objects: &'a [Value], name_: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| WORKLOAD_KINDS.contains(&kind(o)) && name(o) == name_)
        .unwrap_or_else(|| panic!("no workload {name_} rendered"))
}

// ---- tests --------------------------------------------------------------------------------------

#[test]
fn tilt_up_builds_the_images_deploys_the_dev_chart_and_forwards_the_local_ports() {
    let Some(python) = python() else { return };
    let eval = evaluate_repo_tiltfile(&python, &[]);
    assert_no_problems(&python, &eval);

    // Both images, from their Dockerfile targets.
    let builds: BTreeMap<&str, &str> = eval
        .calls("docker_build")
        .map(|p| (str_of(p, "ref"), str_of(p, "target")))
        .collect();
    assert_eq!(
        builds,
        BTreeMap::from([("flowgate-api", "api"), ("flowgate-worker", "worker")])
    );
    let dockerfile = Dockerfile::read().unwrap();
    assert_eq!(dockerfile.exposed_ports("api"), [8000, 9464]);

    // The chart, with the dev profile, as release flowgate.
    let helm: Vec<_> = eval.calls("helm").collect();
    assert_eq!(helm.len(), 1, "one helm() call");
    assert_eq!(str_of(helm[0], "paths"), "deploy/helm/flowgate");
    assert_eq!(str_of(helm[0], "name"), "flowgate");
    let values = strings(helm[0], "values");
    assert!(
        values.contains(&"deploy/helm/profiles/dev.yaml".to_owned()),
        "{values:?}"
    );
    for file in &values {
        assert!(eval.path(file).is_file(), "values file {file} is missing");
    }
    let objects = render_helm_call(&python, &eval, helm[0]).unwrap();
    assert!(
        objects.iter().all(|o| kind(o) != "ServiceMonitor"),
        "no monitoring objects without --monitoring (their CRDs are not installed)"
    );

    // The local run's ports: API 8000, Temporal UI 8080, gRPC 7233, worker 8081, each to the
    // container port of that name.
    for (resource, local, port_name) in [
        ("flowgate-api", 8000, "http"),
        ("flowgate-api", 9464, "metrics"),
        ("flowgate-temporal", 8080, "ui"),
        ("flowgate-temporal", 7233, "grpc"),
        ("flowgate-worker", 8081, "health"),
    ] {
        let forward = eval
            .forwards(resource)
            .into_iter()
            .find(|f| f.local == local)
            .unwrap_or_else(|| panic!("{resource} forwards no local port {local}"));
        let ports = container_ports(workload(&objects, resource));
        let container = u64::from(forward.container.expect("explicit container port"));
        assert_eq!(
            ports.get(&container).map(String::as_str),
            Some(port_name),
            "{resource}: local {local} should reach the `{port_name}` port ({ports:?})"
        );
    }

    // Start order, groups and links.
    for resource in ["flowgate-api", "flowgate-worker"] {
        let deps: Vec<String> = eval
            .k8s_resource(resource)
            .flat_map(|p| strings(p, "resource_deps"))
            .collect();
        assert!(
            deps.contains(&"flowgate-temporal".to_owned()),
            "{resource}: {deps:?}"
        );
    }
    for resource in ["flowgate-api", "flowgate-worker", "flowgate-temporal"] {
        assert!(
            eval.k8s_resource(resource)
                .any(|p| !strings(p, "labels").is_empty()),
            "{resource} has no label"
        );
    }
    assert!(
        eval.k8s_resource("flowgate-api")
            .flat_map(|p| p["links"].as_array().cloned().unwrap_or_default())
            .any(|l| l["url"] == "http://localhost:8000/docs"),
        "the API resource links its docs"
    );

    // Host helpers: cargo check on changes; the README's test command on demand.
    let local: BTreeMap<&str, &Map<String, Value>> = eval
        .calls("local_resource")
        .map(|p| (str_of(p, "name"), p))
        .collect();
    let check = local.get("cargo-check").expect("a cargo-check resource");
    assert!(str_of(check, "cmd").starts_with("cargo check --workspace"));
    assert!(strings(check, "deps").contains(&"crates".to_owned()));
    let test = local.get("cargo-test").expect("a cargo-test resource");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```bash\n{}\n```", str_of(test, "cmd"))),
        "not the README's test command: {}",
        str_of(test, "cmd")
    );
    assert_eq!(test["auto_init"], json!(false));
    assert_eq!(str_of(test, "trigger_mode"), "TRIGGER_MODE_MANUAL");

    // Only local clusters unless one is named; never every context.
    assert_eq!(eval.calls("allow_k8s_contexts").count(), 0);
    assert_eq!(eval.calls("helm_resource").count(), 0);
    let named = evaluate_repo_tiltfile(&python, &["--allow-k8s-context=dev-cluster"]);
    let allowed: Vec<Vec<String>> = named
        .calls("allow_k8s_contexts")
        .map(|p| strings(p, "contexts"))
        .collect();
    assert_eq!(allowed, [["dev-cluster"]]);
}

#[test]
fn monitoring_mode_adds_grafana_on_3000_and_the_charts_monitoring_objects() {
    let Some(python) = python() else { return };
    let eval = evaluate_repo_tiltfile(&python, &["--monitoring"]);
    assert_no_problems(&python, &eval);

    let releases: Vec<_> = eval
        .calls("helm_resource")
        .filter(|p| str_of(p, "chart").ends_with("/kube-prometheus-stack"))
        .collect();
    assert_eq!(releases.len(), 1, "one kube-prometheus-stack release");
    let stack = releases[0];
    let resource = str_of(stack, "name");
    let release = match str_of(stack, "release_name") {
        "" => resource,
        release => release,
    };

    // Grafana on localhost:3000, from Grafana's pod (not whichever pod of the release).
    let grafana = eval
        .forwards(resource)
        .into_iter()
        .find(|f| f.local == 3000);
    assert_eq!(
        grafana.map(|f| f.container),
        Some(Some(3000)),
        "Grafana forward"
    );
    assert!(
        eval.k8s_resource(resource).any(|p| {
            str_of(p, "discovery_strategy") == "selectors-only"
                && p["extra_pod_selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| s["app.kubernetes.io/name"] == "grafana")
        }),
        "{resource}'s pods should be Grafana's only, so the forward reaches Grafana"
    );
    // The dashboards' ConfigMaps are in the chart's namespace: the sidecar must search them all.
    assert!(
        strings(stack, "flags")
            .iter()
            .any(|f| f == "--set=grafana.sidecar.dashboards.searchNamespace=ALL"),
        "Grafana's dashboard sidecar does not look outside its namespace"
    );

    // The chart renders the ServiceMonitor and rules for that Prometheus, and the dashboards.
    let helm = eval.calls("helm").next().expect("a helm() call");
    let objects = render_helm_call(&python, &eval, helm).unwrap();
    for kind_ in ["ServiceMonitor", "PrometheusRule"] {
        let object = objects
            .iter()
            .find(|o| kind(o) == kind_)
            .unwrap_or_else(|| panic!("no {kind_} rendered in monitoring mode"));
        assert_eq!(
            object["metadata"]["labels"]["release"], release,
            "{kind_} is not selected by the {release} Prometheus"
        );
    }
    let dashboards = objects
        .iter()
        .filter(|o| kind(o) == "ConfigMap" && o["metadata"]["labels"]["grafana_dashboard"] == "1")
        .count();
    let files = std::fs::read_dir(eval.path("deploy/helm/flowgate/files/dashboards"))
        .unwrap()
        .count();
    assert!(
        dashboards > 0 && dashboards == files,
        "{dashboards} dashboard ConfigMaps for {files} files"
    );
}

#[test]
fn a_misspelled_tilt_builtin_keyword_or_attribute_fails_the_evaluation() {
    let Some(python) = starlark_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tiltfile = dir.path().join("Tiltfile");
    let run = |source: &str| {
        std::fs::write(&tiltfile, source).unwrap();
        evaluate(&python, &tiltfile, dir.path(), &[]).map(|e| e.calls.len())
    };
    // The correct spelling evaluates, so the failures below are the misspellings'.
    let good = "config.define_bool('monitoring')\ncfg = config.parse()\n\
                k8s_resource('flowgate-api', port_forwards=['8000:8000'], trigger_mode=TRIGGER_MODE_MANUAL)\n";
    assert_eq!(run(good), Ok(3));
    for (source, expected) in [
        (
            "k8s_resources('flowgate-api', port_forwards=['8000:8000'])\n",
            "k8s_resources",
        ),
        (
            "k8s_resource('flowgate-api', port_forward=['8000:8000'])\n",
            "port_forward",
        ),
        ("config.define_bol('monitoring')\n", "define_bol"),
        ("docker_build('flowgate-api', '.', targt='api')\n", "targt"),
        (
            "k8s_resource('flowgate-api', trigger_mode='manual')\n",
            "TRIGGER_MODE",
        ),
        (
            "load('ext://helm_resources', 'helm_resource')\n",
            "helm_resources",
        ),
        // Never run: names resolve before anything runs, as in Tilt.
        (
            "if False:\n    local_resoure('x', cmd='true')\n",
            "local_resoure",
        ),
    ] {
        let error = run(source).expect_err(source);
        assert!(error.contains(expected), "{source}: {error}");
    }
}

#[test]
fn the_checks_object_to_a_wrong_target_port_image_dependency_or_build_context() {
    let Some(python) = python() else { return };
    let root = repo_root();
    let original = std::fs::read_to_string(root.join("Tiltfile")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tiltfile = dir.path().join("Tiltfile");
    for (from, to, args, expected) in [
        (
            "target='api'",
            "target='apii'",
            &[][..],
            "\"apii\" is not a stage",
        ),
        (
            "target='worker'",
            "target='api'",
            &[],
            "not the flowgate-worker binary",
        ),
        (
            "docker_build('flowgate-worker'",
            "docker_build('flowgate-wrker'",
            &[],
            "flowgate-wrker",
        ),
        (
            "port_forward(8080, 8233",
            "port_forward(8080, 8234",
            &[],
            "8234 is not a containerPort",
        ),
        (
            "port_forward(8000, 8000",
            "port_forward(8000, 9000",
            &[],
            "9000 is not a containerPort",
        ),
        (
            "port_forward(8081, 8081",
            "port_forward(8000, 8081",
            &[],
            "local port 8000 is forwarded twice",
        ),
        (
            "k8s_resource(\n    'flowgate-api'",
            "k8s_resource(\n    'flowgate-apii'",
            &[],
            "no such workload",
        ),
        (
            "resource_deps=['flowgate-temporal']",
            "resource_deps=['flowgate-temporl']",
            &[],
            "flowgate-temporl",
        ),
        (
            "resource_deps=['flowgate-setup'],",
            "",
            &[],
            "does not wait for flowgate-setup",
        ),
        (
            "'%s-config:configmap:%s' % (RELEASE, NAMESPACE),",
            "",
            &[],
            "ConfigMap/flowgate-config (namespace flowgate) is in no resource",
        ),
        (
            "'Cargo.lock', 'rust-toolchain.toml'",
            "'rust-toolchain.toml'",
            &[],
            "needs Cargo.lock",
        ),
        ("'crates/*/tests',", "'crates/*/src',", &[], "which ignore="),
        (
            "resource_deps=['flowgate-setup', MONITORING_RELEASE]",
            "resource_deps=['flowgate-setup']",
            &["--monitoring"],
            "waits for no release installing its CRD",
        ),
    ] {
        assert!(
            original.contains(from),
            "the Tiltfile no longer contains {from:?}: update this test"
        );
        std::fs::write(&tiltfile, original.replacen(from, to, 1)).unwrap();
        let eval = evaluate(&python, &tiltfile, &root, args)
            .unwrap_or_else(|e| panic!("{from:?} -> {to:?} does not evaluate:\n{e}"));
        let problems = problems(&python, &eval).unwrap();
        eprintln!("{from:?} -> {to:?}: {problems:?}");
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{from:?} -> {to:?} should be reported ({expected:?}), got: {problems:#?}"
        );
    }
}

#[test]
fn helper_parsers() {
    assert_eq!(
        set_json(&[
            "a.b=true".into(),
            "a.c=x".into(),
            "d=3".into(),
            "e=007".into()
        ])
        .unwrap(),
        json!({"a": {"b": true, "c": "x"}, "d": 3, "e": "007"})
    );
    assert!(set_json(&["a[0]=x".into()]).is_err());
    assert!(ignore_matches(
        "crates/*/tests",
        "crates/api/tests/api/main.rs"
    ));
    assert!(ignore_matches("**/*.pyc", "crates/x/a.pyc"));
    assert!(!ignore_matches("crates/*/tests", "crates/api/src/tests.rs"));
    assert_eq!(image_repository("flowgate-api:dev"), "flowgate-api");
    assert_eq!(
        image_repository("localhost:5000/a/b:1@sha256:00"),
        "localhost:5000/a/b"
    );
    assert_eq!(image_repository("localhost:5000/a"), "localhost:5000/a");
    assert_eq!(
        Forward::parse("host:8080:8233").unwrap(),
        Forward {
            local: 8080,
            container: Some(8233)
        }
    );
}
