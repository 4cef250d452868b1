#!/usr/bin/env bash
# Makes (or reuses) the Python venv the tool tests need (test/tools/: matrix-nio, matrix-commander,
# synadm, pinned in test/python/requirements.txt): .venv-test/ by default, or the directory given as
# $1. It is remade when the requirements file changed since it was made. Needs python3 and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-test}"
requirements=test/python/requirements.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
  echo "python tools venv $venv is up to date"
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$venv/.requirements.sha256"
echo "python tools venv $venv is ready"
