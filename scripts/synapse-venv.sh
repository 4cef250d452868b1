#!/usr/bin/env bash
# Makes (or reuses) the Python venv with Synapse that the interop tests run (test/interop/, helper
# test/helpers/synapse.ts), pinned in test/python/synapse-requirements.txt: .venv-synapse/ by default,
# or the directory given as $1. It is remade when the requirements file changed since it was made.
# Needs python3 (3.10 or later, as Synapse does) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-synapse}"
requirements=test/python/synapse-requirements.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
  echo "synapse venv $venv is up to date"
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
# Fail here, not in the tests, when the install is unusable (e.g. no wheel of its Rust part for this platform).
"$venv/bin/python" -c 'import synapse.app.homeserver, synapse; print("synapse", synapse.__version__)'
echo "$want" > "$venv/.requirements.sha256"
echo "synapse venv $venv is ready"
