#!/usr/bin/env bash
# Prints the version a release tag names (v1.2.3 -> 1.2.3), after checking that it is the
# workspace's version (Cargo.toml), the chart's version and its appVersion (Chart.yaml), so the
# images pushed under that version are the ones the chart deploys by default.
#
#   .github/scripts/release-version.sh v0.1.0
set -euo pipefail
cd "$(dirname "$0")/../.."

tag="${1:?usage: release-version.sh <tag, e.g. v0.1.0>}"
version="${tag#v}"
if [[ "$tag" != v* || ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "tag $tag is not v<semantic version>" >&2
  exit 1
fi

# The [workspace.package] version: the first `version = "…"` after that header.
workspace=$(awk '/^\[workspace\.package\]/ { in_pkg = 1; next }
  /^\[/ { in_pkg = 0 }
  in_pkg && /^version *=/ { gsub(/^version *= *"|".*$/, ""); print; exit }' Cargo.toml)
chart=deploy/helm/flowgate/Chart.yaml
chart_version=$(sed -n 's/^version: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$chart")
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$chart")

status=0
check() { # <where> <value>
  if [[ "$2" != "$version" ]]; then
    echo "$tag does not match $1 (\"$2\")" >&2
    status=1
  fi
}
check "the version in Cargo.toml's [workspace.package]" "$workspace"
check "version in $chart" "$chart_version"
check "appVersion in $chart" "$app_version"
if [[ $status -eq 0 ]]; then echo "$version"; fi
exit $status
