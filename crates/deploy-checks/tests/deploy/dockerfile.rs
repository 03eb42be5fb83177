//! The Dockerfile: hadolint, pinned bases, one locked release build, two distroless targets.

use std::{collections::BTreeSet, process::Command};

use flowgate_deploy_checks::{dockerfile::Dockerfile, repo_root, tools};

use crate::output;

/// The final targets and the binary each runs.
pub(crate) const TARGETS: [(&str, &str); 2] =
    [("api", "flowgate-api"), ("worker", "flowgate-worker")];

const RUNTIME_IMAGE: &str = "gcr.io/distroless/cc-debian12:nonroot";

/// An image reference without its digest: Renovate pins bases as `image:tag@sha256:…`.
fn without_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(image, _)| image)
}

fn toolchain_channel() -> String {
    let text = std::fs::read_to_string(repo_root().join("rust-toolchain.toml")).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    value["toolchain"]["channel"].as_str().unwrap().to_owned()
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    let Some(hadolint) = tools::hadolint_or_skip() else {
        return;
    };
    // Run from the repository root so a checked-in .hadolint.yaml (justified ignores) applies.
    let (ok, findings) = output(Command::new(hadolint).current_dir(repo_root()).args([
        "--format",
        "json",
        "Dockerfile",
    ]));
    assert!(
        ok && findings.trim() == "[]",
        "hadolint findings: {findings}"
    );
}

#[test]
fn the_builder_uses_the_rust_version_of_rust_toolchain_toml_on_the_runtime_debian_release() {
    let file = Dockerfile::read().unwrap();
    let channel = toolchain_channel();
    let rust_bases: Vec<&str> = file
        .stages
        .iter()
        .map(|s| without_digest(&s.base))
        .filter(|b| b.starts_with("rust:"))
        .collect();
    assert!(!rust_bases.is_empty(), "no rust: builder image");
    for base in &rust_bases {
        // bookworm = Debian 12, the release of the distroless runtime: the same glibc.
        assert_eq!(
            *base,
            format!("rust:{channel}-bookworm"),
            "the builder must use rust-toolchain.toml's {channel} on Debian 12"
        );
    }
    assert!(RUNTIME_IMAGE.contains("debian12"));
    let chef = file.stage("chef").expect("a chef stage");
    let env = chef
        .instructions
        .iter()
        .find(|i| i.keyword == "ENV")
        .expect("the chef stage sets RUSTUP_TOOLCHAIN");
    assert!(
        env.args.contains(&format!("RUSTUP_TOOLCHAIN={channel}")),
        "{}",
        env.args
    );
}

#[test]
fn both_binaries_are_built_once_in_one_locked_release_build_with_cached_dependencies() {
    let file = Dockerfile::read().unwrap();
    let runs = file.runs();
    let builds: Vec<&&str> = runs.iter().filter(|r| r.contains("cargo build")).collect();
    assert_eq!(builds.len(), 1, "one cargo build: {builds:?}");
    assert!(
        builds[0].contains("cargo build --locked --release -p flowgate-api -p flowgate-worker"),
        "{}",
        builds[0]
    );
    assert!(
        runs.iter()
            .any(|r| r.starts_with("cargo install cargo-chef --locked --version ")),
        "cargo-chef is installed at a pinned version"
    );
    let planner = file.stage("planner").expect("a planner stage");
    assert!(
        planner
            .instructions
            .iter()
            .any(|i| i.args.starts_with("cargo chef prepare"))
    );
    let builder = file.stage("builder").expect("a builder stage");
    let steps: Vec<String> = builder
        .instructions
        .iter()
        .map(|i| format!("{} {}", i.keyword, i.args))
        .collect();
    let cook = steps
        .iter()
        .position(|s| s.contains("cargo chef cook --release --locked"))
        .expect("dependencies are cooked in release mode");
    let sources = steps
        .iter()
        .position(|s| s == "COPY . .")
        .expect("sources copied");
    let build = steps
        .iter()
        .position(|s| s.contains("cargo build"))
        .expect("build");
    assert!(cook < sources && sources < build, "{steps:#?}");
}

#[test]
fn the_git_commit_reaches_the_build_script_through_a_build_argument() {
    let file = Dockerfile::read().unwrap();
    let builder = file.stage("builder").unwrap();
    let has = |keyword: &str, args: &str| {
        builder
            .instructions
            .iter()
            .any(|i| i.keyword == keyword && i.args == args)
    };
    assert!(has("ARG", "REVISION=unknown"));
    assert!(has("ENV", "FLOWGATE_GIT_COMMIT=${REVISION}"));
    let build_rs = std::fs::read_to_string(repo_root().join("crates/telemetry/build.rs")).unwrap();
    assert!(build_rs.contains("FLOWGATE_GIT_COMMIT"));
}

#[test]
fn api_and_worker_targets_run_their_binary_as_nonroot_on_distroless_with_a_self_healthcheck() {
    let file = Dockerfile::read().unwrap();
    for (target, binary) in TARGETS {
        let path = format!("/usr/local/bin/{binary}");
        assert_eq!(
            file.base_image(target).map(without_digest),
            Some(RUNTIME_IMAGE),
            "{target}"
        );
        assert_eq!(file.effective(target, "USER"), ["65532:65532"], "{target}");
        assert!(
            file.effective(target, "RUN").is_empty(),
            "{target}: the runtime has no shell to RUN anything"
        );
        assert_eq!(
            file.effective(target, "COPY"),
            [format!(
                "--from=builder /src/target/release/{binary} {path}"
            )],
            "{target}"
        );
        assert_eq!(
            file.entrypoint(target),
            Some(vec![path.clone()]),
            "{target}"
        );
        assert_eq!(
            file.healthcheck_command(target),
            Some(vec![path, "healthcheck".to_owned()]),
            "{target}: HEALTHCHECK runs the binary's own healthcheck subcommand"
        );
        let labels = file.effective(target, "LABEL").join(" ");
        for key in [
            "title",
            "description",
            "version",
            "revision",
            "created",
            "source",
            "licenses",
        ] {
            assert!(
                labels.contains(&format!("org.opencontainers.image.{key}=")),
                "{target}: OCI label {key}"
            );
        }
        assert!(labels.contains("org.opencontainers.image.revision=\"${REVISION}\""));
        assert!(labels.contains("org.opencontainers.image.version=\"${VERSION}\""));
    }
}

#[test]
fn every_base_image_is_pinned_to_a_version() {
    let file = Dockerfile::read().unwrap();
    let stages: BTreeSet<&str> = file
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    for stage in &file.stages {
        if stages.contains(stage.base.as_str()) {
            continue;
        }
        let (image, digest) = match stage.base.split_once('@') {
            Some((image, digest)) => (image, Some(digest)),
            None => (stage.base.as_str(), None),
        };
        let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && !tag.contains('/'),
            "{}: pin an explicit tag",
            stage.base
        );
        if let Some(digest) = digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            assert!(
                hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
                "{digest}"
            );
        }
    }
}

#[test]
fn dockerignore_keeps_build_output_git_and_local_state_out_but_not_the_sources() {
    let text = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", ".git/", ".flowgate/", ".env"] {
        assert!(patterns.contains(&needed), "{needed} is not ignored");
    }
    for kept in [
        "crates",
        "vendor",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ] {
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == kept),
            "{kept} must reach the builder"
        );
    }
}
