//! The images a Tiltfile builds (`docker_build`), checked against the real `Dockerfile`, the
//! build context cargo needs, and the image repositories the chart's values give the workloads.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::Context;
use flowgate_deploy_checks::dockerfile::Dockerfile;
use serde_json::Value;

use crate::{
    chart::{set_json, yaml_documents},
    eval::{Evaluation, str_of, strings},
    objects::{WORKLOAD_KINDS, containers, image_repository, kind},
};

/// Everything wrong with the images: real stages, a context with what cargo needs, substituted
/// into the chart.
pub(crate) fn image_problems(eval: &Evaluation, objects: &[Value]) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
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

/// A dockerignore-style pattern (`*`, `?` within a segment, `**` across segments) against a
/// relative path: it matches the path or one of its parent directories.
pub(crate) fn ignore_matches(pattern: &str, path: &str) -> bool {
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
/// and the manifest, build script and sources of each member and each patched crate.
fn cargo_inputs(context: &Path) -> anyhow::Result<Vec<String>> {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(context.join("Cargo.toml"))?)?;
    let mut inputs = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
    let mut package_dirs = Vec::new();
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
        package_dirs.extend(dirs);
    }
    // Patched third-party crates (`[patch.<registry>] name = { path = … }`) are built too.
    for patches in manifest
        .get("patch")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|registries| registries.values())
        .filter_map(toml::Value::as_table)
    {
        for patch in patches.values() {
            if let Some(path) = patch.get("path").and_then(toml::Value::as_str) {
                package_dirs.push(path.trim_end_matches('/').to_owned());
            }
        }
    }
    for dir in package_dirs {
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
    Ok(inputs)
}
