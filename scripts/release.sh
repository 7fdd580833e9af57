#!/usr/bin/env bash
# Cut a release of lms-ha: bash scripts/release.sh 1.2.0
#
# Checks before anything is tagged: a clean tree on main, up to date with
# origin; dist/ rebuilt from the sources is byte for byte what is committed;
# the version is semver and newer than the last release tag. Then it tags
# vX.Y.Z (annotated) and pushes it. The release workflow
# (.github/workflows/release.yml) checks dist/ again on the tag, writes the
# release notes and moves the major tag vX to the same commit.
#
# Users pin the full commit SHA of a release (printed at the end), not vX.
set -euo pipefail

version="${1:-}"
version="${version#v}"
if ! [[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]; then
  echo "usage: bash scripts/release.sh X.Y.Z (semver, no pre-release suffix)" >&2
  exit 2
fi
tag="v$version"

branch="$(git rev-parse --abbrev-ref HEAD)"
[ "$branch" = main ] || { echo "release from main, not $branch" >&2; exit 1; }
[ -z "$(git status --porcelain)" ] || { echo "the working tree is not clean" >&2; exit 1; }
git fetch --quiet --tags origin main
[ "$(git rev-parse HEAD)" = "$(git rev-parse origin/main)" ] || { echo "main is not origin/main: pull or push first" >&2; exit 1; }
git rev-parse -q --verify "refs/tags/$tag" > /dev/null && { echo "$tag exists already" >&2; exit 1; }

last="$(git tag --list 'v[0-9]*.[0-9]*.[0-9]*' --sort=-v:refname | head -n 1)"
if [ -n "$last" ]; then
  newest="$(printf '%s\n%s\n' "${last#v}" "$version" | sort -V | tail -n 1)"
  [ "$newest" = "$version" ] && [ "${last#v}" != "$version" ] || { echo "$tag is not newer than $last" >&2; exit 1; }
fi

npm ci --no-audit --no-fund > /dev/null
npm run build > /dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  git diff --stat -- dist
  echo "dist/ is not what the sources build: commit a fresh npm run build first" >&2
  exit 1
fi

package_version="$(node -p 'require("./package.json").version')"
[ "$package_version" = "$version" ] || echo "note: package.json says $package_version (the tag is what users pin)" >&2

git tag -a "$tag" -m "lms-ha $tag"
git push origin "$tag"
echo "pushed $tag at $(git rev-parse HEAD)"
echo "pin it as: uses: OWNER/lms-ha@$(git rev-parse HEAD) # $tag"
