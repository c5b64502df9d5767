#!/usr/bin/env bash
# Post FILE (markdown) on pull request PR as bench's comment, replacing the
# comment this script posted before, so a pull request keeps one bench comment
# that each push updates. Comments are recognised by a hidden marker, not by
# author, so another bot's comment is never overwritten.
#
#   scripts/ci/post-comment.sh PR FILE
#
# Needs the GitHub CLI (gh), GH_TOKEN with pull-requests: write, and
# GITHUB_REPOSITORY (both set in GitHub Actions).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PR FILE" >&2
  exit 2
fi
pr=$1 file=$2
marker='<!-- bench compare -->'
body=$(mktemp)
trap 'rm -f "$body"' EXIT
{
  echo "$marker"
  # GitHub refuses comments over 65,536 characters.
  if [ "$(wc -c <"$file")" -gt 60000 ]; then
    head -c 60000 "$file"
    printf '\n\n*The comparison is too long for a comment; the whole of it is in the job summary and the bench-runs artefact.*\n'
  else
    cat "$file"
  fi
} >"$body"

api="repos/$GITHUB_REPOSITORY/issues"
id=$(gh api --paginate "$api/$pr/comments" --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | tail -n 1)
if [ -n "$id" ]; then
  gh api --method PATCH "$api/comments/$id" -F "body=@$body" >/dev/null
else
  gh api --method POST "$api/$pr/comments" -F "body=@$body" >/dev/null
fi
