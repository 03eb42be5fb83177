#!/usr/bin/env bash
# Prints a version's section of CHANGELOG.md (Keep a Changelog: `## [1.2.3] - 2026-01-31`),
# without its heading: the notes of that version's GitHub release. Fails when the section is
# missing or empty, so a release cannot go out without its changelog.
#
#   .github/scripts/release-notes.sh 0.1.0
#   .github/scripts/release-notes.sh Unreleased
set -euo pipefail
cd "$(dirname "$0")/../.."

version="${1:?usage: release-notes.sh <version | Unreleased>}"
notes=$(awk -v version="$version" '
  /^## \[/ {
    if (found) exit
    heading = $0
    sub(/^## \[/, "", heading)
    sub(/\].*$/, "", heading)
    if (heading == version) { found = 1; next }
  }
  /^\[[^]]+\]: / && found { exit }
  found { print }
' CHANGELOG.md)
# Trim leading and trailing blank lines.
notes=$(printf '%s\n' "$notes" | sed -e '/./,$!d')
if [[ -z "${notes//[[:space:]]/}" ]]; then
  echo "CHANGELOG.md has no section for $version (a heading \"## [$version] - YYYY-MM-DD\" with entries)" >&2
  exit 1
fi
printf '%s\n' "$notes"
