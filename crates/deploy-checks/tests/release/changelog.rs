//! `CHANGELOG.md` follows Keep a Changelog, and the release workflow's notes script finds a
//! version's section in it.

use std::process::Command;

use flowgate_deploy_checks::repo_root;

use crate::output;

const SECTIONS: [&str; 6] = [
    "Added",
    "Changed",
    "Deprecated",
    "Removed",
    "Fixed",
    "Security",
];

#[test]
fn the_changelog_keeps_a_changelog() {
    let text = std::fs::read_to_string(repo_root().join("CHANGELOG.md")).unwrap();
    assert!(text.starts_with("# Changelog\n"));
    assert!(text.contains("https://keepachangelog.com/en/1.1.0/"));
    assert!(text.contains("https://semver.org/spec/v2.0.0.html"));
    let releases: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(releases.first(), Some(&"## [Unreleased]"), "{releases:?}");
    for heading in &releases[1..] {
        // ## [1.2.3] - 2026-01-31
        let rest = heading
            .strip_prefix("## [")
            .unwrap_or_else(|| panic!("{heading}"));
        let (version, date) = rest
            .split_once("] - ")
            .unwrap_or_else(|| panic!("{heading}"));
        assert_eq!(version.split('.').count(), 3, "{heading}");
        assert!(
            date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
            "{heading}"
        );
    }
    for line in text.lines().filter(|l| l.starts_with("### ")) {
        assert!(
            SECTIONS.contains(&&line[4..]),
            "not a Keep a Changelog section: {line}"
        );
    }
}

#[test]
fn the_release_notes_are_the_version_section() {
    let notes = |version: &str| {
        output(Command::new("bash").args([".github/scripts/release-notes.sh", version]))
    };
    let (ok, unreleased) = notes("Unreleased");
    assert!(ok, "{unreleased}");
    assert!(unreleased.starts_with("### "), "{unreleased}");
    assert!(
        !unreleased.contains("## [Unreleased]"),
        "the heading is not in the notes"
    );
    assert!(unreleased.lines().count() > 10, "{unreleased}");
    let (ok, missing) = notes("99.0.0");
    assert!(!ok, "a missing version's notes: {missing}");
    assert!(missing.contains("no section for 99.0.0"), "{missing}");
}
