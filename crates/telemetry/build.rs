//! Embeds the git commit that `flowgate_build_info` reports: `git rev-parse --short HEAD` when
//! the sources are a git checkout, else the `FLOWGATE_GIT_COMMIT` environment variable (image
//! builds without `.git` pass it), else `unknown`. Never fails the build.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FLOWGATE_GIT_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = git(&dir, &["rev-parse", "--short", "HEAD"])
        .or_else(|| {
            std::env::var("FLOWGATE_GIT_COMMIT")
                .ok()
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // Run again when HEAD moves: a checkout changes HEAD, a commit changes the branch's ref (loose
    // or packed). Only existing files are named: cargo reruns every time for a missing one.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&dir, &["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&dir, &["rev-parse", "--git-path", &name]).map(|p| dir.join(p))
            && path.is_file()
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rustc-env=FLOWGATE_BUILD_GIT_COMMIT={commit}");
}

/// `git args` in `dir`, trimmed, if git is there and succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}
