#!/usr/bin/env bash
# Fetch GitHub's published OpenAPI description (npm package @octokit/openapi, which
# republishes github/rest-api-description) for the sandbox fidelity tests.
# Only generated/api.github.com.deref.json is kept: the package tarball is large.
# Usage: scripts/fetch_github_openapi.sh [version]   (idempotent; skips when present)
set -euo pipefail

version="${1:-23.0.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest_dir="$root/.cache/octokit"
dest="$dest_dir/api.github.com.deref.json"

if [[ -s "$dest" ]]; then
  echo "GitHub OpenAPI already at $dest"
  exit 0
fi

mkdir -p "$dest_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@octokit/openapi@$version" >/dev/null)
tarball="$(ls "$work"/octokit-openapi-*.tgz)"
tar -xzf "$tarball" -C "$work" package/generated/api.github.com.deref.json
mv "$work/package/generated/api.github.com.deref.json" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "GitHub OpenAPI written to $dest"
