//! What the release workflow publishes is what the chart deploys by default: the image names
//! are the chart's `image.repository` values, their tag is the chart's `appVersion`, which is
//! the chart's version and the workspace's; the images are the Dockerfile's final targets; the
//! chart goes to the OCI repository the README installs from.

use std::{collections::BTreeSet, process::Command};

use flowgate_deploy_checks::{dockerfile::Dockerfile, repo_root};
use serde_norway::Value;

use crate::{output, step_using, steps, workflow, yaml};

const CHART: &str = "deploy/helm/flowgate";

fn workspace_version() -> String {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    manifest["workspace"]["package"]["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn str_at<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

/// The image targets of the release's matrix.
fn released_targets(release: &Value) -> Vec<String> {
    release["jobs"]["images"]["strategy"]["matrix"]["target"]
        .as_sequence()
        .expect("the images job has a matrix of targets")
        .iter()
        .map(|t| str_at(t, "a target").to_owned())
        .collect()
}

#[test]
fn the_chart_version_its_app_version_and_the_workspace_version_are_one() {
    let chart = yaml(&format!("{CHART}/Chart.yaml"));
    let version = workspace_version();
    assert_eq!(str_at(&chart["version"], "Chart.yaml version"), version);
    assert_eq!(
        str_at(&chart["appVersion"], "Chart.yaml appVersion"),
        version
    );
}

#[test]
fn the_release_builds_every_final_target_of_the_dockerfile_and_the_chart_deploys_each() {
    let release = workflow("release.yml");
    let targets = released_targets(&release);
    let file = Dockerfile::read().unwrap();
    let stages: BTreeSet<&str> = file
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    // A final target: a stage no other stage builds on, which has an ENTRYPOINT.
    let finals: BTreeSet<String> = file
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref())
        .filter(|name| !file.stages.iter().any(|s| s.base == *name))
        .filter(|name| file.entrypoint(name).is_some())
        .map(str::to_owned)
        .collect();
    assert!(stages.len() > finals.len());
    assert_eq!(
        targets.iter().cloned().collect::<BTreeSet<_>>(),
        finals,
        "the release's matrix and the Dockerfile's final targets"
    );
    let values = yaml(&format!("{CHART}/values.yaml"));
    for target in &targets {
        assert!(
            values[target.as_str()]["image"].is_mapping(),
            "the chart has no {target}.image"
        );
    }
}

#[test]
fn each_image_is_pushed_under_the_chart_default_repository_tagged_with_its_app_version() {
    let release = workflow("release.yml");
    let values = yaml(&format!("{CHART}/values.yaml"));
    let images = &release["jobs"]["images"];
    let image_template = str_at(&images["env"]["IMAGE"], "images.env.IMAGE");
    let registry = str_at(&release["env"]["REGISTRY"], "env.REGISTRY");
    let prefix = str_at(&release["env"]["IMAGE_PREFIX"], "env.IMAGE_PREFIX");
    for target in released_targets(&release) {
        let pushed = image_template.replace("${{ matrix.target }}", &target);
        let default = str_at(
            &values[target.as_str()]["image"]["repository"],
            "image.repository",
        );
        assert_eq!(pushed, default, "{target}: pushed vs the chart's default");
        assert_eq!(
            format!("{prefix}{target}"),
            default,
            "{target}: IMAGE_PREFIX"
        );
        assert!(default.starts_with(&format!("{registry}/")), "{default}");
        // An empty tag deploys the chart's appVersion (flowgate.image in _helpers.tpl).
        assert_eq!(
            values[target.as_str()]["image"]["tag"].as_str(),
            Some(""),
            "{target}.image.tag must default to the appVersion"
        );
    }
    let helpers =
        std::fs::read_to_string(repo_root().join(CHART).join("templates/_helpers.tpl")).unwrap();
    assert!(helpers.contains("(default .root.Chart.AppVersion .image.tag)"));

    let steps = steps(&release, "images");
    // The tag v<version> gives the image tag <version>: the appVersion, once the tag check passed.
    let meta = &step_using(steps, "docker/metadata-action")["with"];
    assert_eq!(
        str_at(&meta["images"], "metadata images"),
        "${{ env.IMAGE }}"
    );
    let tags: Vec<&str> = str_at(&meta["tags"], "metadata tags").lines().collect();
    assert!(
        tags.contains(&"type=semver,pattern={{version}}"),
        "{tags:?}"
    );
    assert!(
        tags.iter().all(|t| t.starts_with("type=semver,")),
        "only version tags (no latest, no branch): {tags:?}"
    );
    assert_eq!(
        meta["flavor"].as_str(),
        Some("latest=false"),
        "no `latest` tag"
    );

    let build = &step_using(steps, "docker/build-push-action")["with"];
    assert_eq!(build["target"].as_str(), Some("${{ matrix.target }}"));
    assert_eq!(build["platforms"].as_str(), Some("linux/amd64,linux/arm64"));
    assert_eq!(build["push"].as_bool(), Some(true));
    assert_eq!(build["sbom"].as_bool(), Some(true));
    assert_eq!(build["provenance"].as_str(), Some("mode=max"));
    assert_eq!(
        build["tags"].as_str(),
        Some("${{ steps.meta.outputs.tags }}")
    );
    let args = str_at(&build["build-args"], "build-args");
    for arg in [
        "VERSION=${{ env.VERSION }}",
        "REVISION=${{ github.sha }}",
        "CREATED=",
    ] {
        assert!(args.contains(arg), "build-arg {arg}: {args}");
    }
    assert_eq!(
        images["env"]["VERSION"].as_str(),
        Some("${{ needs.version.outputs.version }}")
    );
    assert!(
        step_using(steps, "docker/setup-qemu-action")["with"]["platforms"]
            .as_str()
            .is_some_and(|p| p.contains("arm64"))
    );
    let login = &step_using(steps, "docker/login-action")["with"];
    assert_eq!(login["registry"].as_str(), Some("${{ env.REGISTRY }}"));
    assert_eq!(
        login["password"].as_str(),
        Some("${{ secrets.GITHUB_TOKEN }}")
    );

    // Signed by digest, keyless: the job may mint an OIDC token.
    let sign = steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("cosign sign")))
        .expect("a cosign sign step");
    assert_eq!(
        str_at(&sign["run"], "sign run"),
        "cosign sign --yes \"${IMAGE}@${DIGEST}\""
    );
    assert_eq!(
        sign["env"]["DIGEST"].as_str(),
        Some("${{ steps.build.outputs.digest }}")
    );
    assert_eq!(images["permissions"]["id-token"].as_str(), Some("write"));
    assert_eq!(images["permissions"]["packages"].as_str(), Some("write"));
}

#[test]
fn the_chart_is_pushed_to_the_oci_repository_the_readme_installs_from() {
    let release = workflow("release.yml");
    let chart = yaml(&format!("{CHART}/Chart.yaml"));
    let repository = str_at(&release["env"]["CHART_REPOSITORY"], "env.CHART_REPOSITORY");
    let reference = format!("{repository}/{}", str_at(&chart["name"], "chart name"));
    assert_eq!(reference, "oci://ghcr.io/flowgate/charts/flowgate");
    let script = steps(&release, "chart")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for line in [
        "helm package deploy/helm/flowgate --destination dist",
        "helm push \"dist/flowgate-${VERSION}.tgz\" \"$CHART_REPOSITORY\"",
        "cosign sign --yes \"${CHART_REPOSITORY#oci://}/flowgate@${digest}\"",
    ] {
        assert!(
            script.contains(line),
            "the chart job does not run {line}:\n{script}"
        );
    }
    for document in ["README.md", "docs/deployment.md"] {
        let text = std::fs::read_to_string(repo_root().join(document)).unwrap();
        assert!(
            text.contains(&format!("helm install flowgate {reference} --version ")),
            "{document} does not install from {reference}"
        );
    }
}

#[test]
fn a_release_tag_must_name_the_workspace_and_chart_version() {
    let release = workflow("release.yml");
    assert_eq!(
        release["on"]["push"]["tags"].as_sequence().map(Vec::len),
        Some(1)
    );
    assert_eq!(release["on"]["push"]["tags"][0].as_str(), Some("v*"));
    let check = steps(&release, "version")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(check.contains("version=$(.github/scripts/release-version.sh \"$GITHUB_REF_NAME\")\n"));
    assert!(check.contains(".github/scripts/release-notes.sh \"$VERSION\""));
    // Everything that publishes waits for the check and for CI.
    let needs = |job: &str| -> Vec<String> {
        match &release["jobs"][job]["needs"] {
            Value::String(one) => vec![one.clone()],
            Value::Sequence(many) => many
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    assert!(needs("images").contains(&"version".to_owned()));
    assert!(needs("images").contains(&"ci".to_owned()));
    assert_eq!(
        release["jobs"]["ci"]["uses"].as_str(),
        Some("./.github/workflows/ci.yml")
    );
    assert!(needs("chart").contains(&"images".to_owned()));
    assert!(needs("github-release").contains(&"chart".to_owned()));

    let version = workspace_version();
    let script =
        |tag: &str| output(Command::new("bash").args([".github/scripts/release-version.sh", tag]));
    let (ok, printed) = script(&format!("v{version}"));
    assert!(ok, "{printed}");
    assert_eq!(printed.trim(), version);
    for wrong in [
        format!("v{version}.1"),
        version.clone(),
        "v99.0.0".to_owned(),
    ] {
        let (ok, printed) = script(&wrong);
        assert!(!ok, "tag {wrong} accepted: {printed}");
    }
}

#[test]
fn ci_runs_the_repository_ci_script() {
    let ci = workflow("ci.yml");
    let runs: Vec<&str> = steps(&ci, "ci")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert_eq!(runs, ["bash .ci/run"]);
    for event in ["push", "pull_request", "workflow_call"] {
        assert!(ci["on"].get(event).is_some(), "CI does not run on {event}");
    }
}
