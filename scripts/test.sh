#!/usr/bin/env bash
# Installs everything the tests need (Debian packages for the loopback test servers, the
# project with its test extras) and runs the whole suite. README.md shows this command;
# .ci/run calls it. Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/infra/install.sh
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

python3 -m ruff check audit reports tests
python3 -m mypy  # audit/ and reports/, zero errors ([tool.mypy] in pyproject.toml)
lint-imports  # the layers and no cycles (.importlinter, docs/architecture.md)
python3 -m pytest -q -p no:cacheprovider "$@"
