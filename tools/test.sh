#!/usr/bin/env bash
# The whole test suite: ansible-test sanity, ansible-lint (production profile), the unit tests
# under the older supported ansible-core versions, then one pytest run over unit tests, the built
# artifact (tests/packaging), integration tests against real OVS in lab namespaces and the
# Molecule scenarios. Sets up what it needs first (tools/setup.sh). Run as root.
set -euo pipefail

# Run as a new machine would: HOME is a new, empty directory (no ~/.ansible, no ~/.cache, no
# virtualenvs or downloads left by an earlier run). A cached ansible-test download once hid a
# step that fails on every fresh machine. NVO_KEEP_HOME=1 keeps the caller's HOME (quicker
# re-runs while developing; not what CI does).
fresh_home=""
if [ "${NVO_KEEP_HOME:-0}" != 1 ]; then
    fresh_home="$(mktemp -d /tmp/netvirt-overlay-test-home.XXXXXX)"
    export HOME="$fresh_home"
    unset XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME NVO_VENV NVO_COLLECTIONS
    echo "== HOME=$HOME (empty, as on a fresh machine)"
fi
sanity_log="$(mktemp)"
trap 'rm -f "$sanity_log"; [ -z "$fresh_home" ] || rm -rf "$fresh_home"' EXIT

. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$NVO_ROOT"

stage() { printf '\n=== %s\n' "$*"; }

# ansible-test wants a real directory named ansible_collections/netvirt/overlay (not a
# symlink), so sanity runs on a copy of the files git would ship.
sanity() {
    local venv work
    venv="${NVO_VENV}-sanity-$(sha256sum < tools/requirements-sanity.lock | cut -c1-8)"
    if [ ! -x "$venv/bin/ansible-test" ]; then
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r tools/requirements-sanity.lock
    fi
    # ansible-test fills each sanity test's virtualenv with pip by a get-pip script that it
    # downloads from a host these machines cannot reach, unless the script is in its cache: put
    # the offline stand-in there, under the name this ansible-test looks for.
    local pip_version
    pip_version="$("$venv/bin/python" -c 'import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % __import__("sys").version_info[:2]))["pip"])')"
    install -D -m 0644 tools/ansible_test_get_pip.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    mkdir -p "$work/ansible_collections/netvirt/overlay"
    git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$work/ansible_collections/netvirt/overlay/"
    (cd "$work/ansible_collections/netvirt/overlay" &&
        PATH="$venv/bin:$PATH" ansible-test sanity --local --python 3.11 --color no)
}

lint() {
    # ansible-lint puts ~/.ansible/collections first on the collections path: an installed copy of
    # this collection there (from ansible-galaxy, say) would be linted instead of this checkout.
    local stale="$HOME/.ansible/collections/ansible_collections/netvirt/overlay"
    if [ -e "$stale" ] && [ "$(readlink -f "$stale")" != "$NVO_ROOT" ]; then
        echo "removing $stale, an installed copy of netvirt.overlay that would shadow this checkout"
        rm -rf "$stale"
    fi
    ansible-lint --profile production --offline
}

# Each of these is mostly one busy process: on two cores sanity (the longest) runs beside lint and
# then beside the unit tests under the older ansible-core versions; its output is printed last.
sanity >"$sanity_log" 2>&1 &
sanity_pid=$!
stage "ansible-lint (production profile)"
lint_rc=0
lint || lint_rc=$?

# The unit tests under the older ansible-core versions requires_ansible claims, each in a
# virtualenv of its own (pytest below runs them under 2.19). Sanity under those versions takes
# longer than the CI budget allows: tools/version_matrix.sh, results in docs/version-matrix.md.
stage "unit tests under ansible-core 2.16, 2.17, 2.18"
matrix_rc=0
bash tools/version_matrix.sh --units 2.16 2.17 2.18 || matrix_rc=$?

sanity_rc=0
wait "$sanity_pid" || sanity_rc=$?
stage "ansible-test sanity"
cat "$sanity_log"
if [ "$lint_rc" -ne 0 ] || [ "$sanity_rc" -ne 0 ] || [ "$matrix_rc" -ne 0 ]; then
    echo "ansible-lint exited $lint_rc, the version matrix $matrix_rc, ansible-test sanity $sanity_rc" >&2
    exit 1
fi

stage "pytest: unit, packaging (the built artifact), integration (real OVS in lab namespaces), molecule"
# -rP prints what passing tests printed: the lab tables and the measured failover times.
# --durations shows where the run's time goes (the CI budget is tight on 2 cores).
python -m pytest tests -q -rP --durations=40 -p no:cacheprovider "$@"
