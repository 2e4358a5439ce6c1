#!/usr/bin/env bash
# Installs the repository's git hooks (.githooks/) for this clone: one command, no copies.
# Undo with: git config --unset core.hooksPath
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
git config core.hooksPath .githooks
chmod +x .githooks/*
echo "git hooks installed: core.hooksPath=.githooks (pre-commit: fmt, clippy, unit tests, secret scan)"
