#!/usr/bin/env bash
# The version matrix: ansible-test sanity and the unit tests under every ansible-core version
# meta/runtime.yml's requires_ansible claims (2.16 to 2.19), each in a virtualenv of its own made
# from tools/requirements-core<version>.lock (hash-pinned; tools/lock_requirements.sh makes them).
#   bash tools/version_matrix.sh            # every version there is a lock for
#   bash tools/version_matrix.sh 2.16 2.18  # only these
#   bash tools/version_matrix.sh --units 2.16 2.17 2.18  # only the unit tests (tools/test.sh: --units 2.16)
# Prints one line per version and step with the result and the seconds it took, and exits non-zero
# when any failed. Not part of tools/test.sh (it takes longer than the CI budget allows, see
# docs/version-matrix.md, where the latest results are); tools/test.sh runs sanity under 2.19.
# Like tools/test.sh it puts ansible-test's offline get-pip stand-in in ~/.ansible/test/cache.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh" >/dev/null
cd "$NVO_ROOT"

steps="sanity units"
if [ "${1:-}" = --units ]; then
    steps=units
    shift
fi
if [ "$#" -gt 0 ]; then
    versions=("$@")
else
    mapfile -t versions < <(find tools -maxdepth 1 -name 'requirements-core*.lock' -printf '%f\n' |
        sed 's/requirements-core\(.*\)\.lock/\1/' | sort -V)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The files git would ship, laid out as ansible-test wants them (a real directory, not a link).
copy="$work/ansible_collections/netvirt/overlay"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$copy/"

summary=()
failed=0
record() {  # version step rc seconds
    local verdict=passed
    [ "$3" -eq 0 ] || { verdict="FAILED (exit $3)"; failed=1; }
    summary+=("$(printf '%-6s %-6s %-16s %4ss' "$1" "$2" "$verdict" "$4")")
}

for version in "${versions[@]}"; do
    lock="tools/requirements-core$version.lock"
    [ -f "$lock" ] || { echo "no $lock" >&2; exit 2; }
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/netvirt-overlay/venv-core$version-$(sha256sum < "$lock" | cut -c1-8)"
    printf '\n=== ansible-core %s (%s)\n' "$version" "$venv"
    start=$SECONDS
    if [ ! -x "$venv/bin/ansible-test" ]; then
        rm -rf "$venv"
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$lock"
    fi
    record "$version" venv 0 $((SECONDS - start))
    "$venv/bin/python" -c 'import ansible.release; print("ansible-core", ansible.release.__version__)'
    if [[ " $steps " == *" sanity "* ]]; then
        pip_version="$("$venv/bin/python" -c 'import types, sys
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])')"
        install -D -m 0644 tools/ansible_test_get_pip.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
        # ansible-test keeps its results under tests/output of the copy: start each version clean.
        rm -rf "$copy/tests/output"
        start=$SECONDS rc=0
        (cd "$copy" && PATH="$venv/bin:$PATH" ansible-test sanity --local --python 3.11 --color no) || rc=$?
        record "$version" sanity "$rc" $((SECONDS - start))
    fi

    start=$SECONDS rc=0
    # From the checkout (some unit tests ask git about it); the collection is imported from the copy.
    PATH="$venv/bin:$PATH" NVO_COLLECTIONS="$work" ANSIBLE_COLLECTIONS_PATH="$work" \
        python -m pytest tests/unit -q -p no:cacheprovider || rc=$?
    record "$version" units "$rc" $((SECONDS - start))
done

printf '\n=== version matrix (%s)\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%s\n' "${summary[@]}"
exit "$failed"
