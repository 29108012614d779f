#!/usr/bin/env bash
# Prepare a fresh Debian machine for the lab and the tests: Debian packages from
# tools/packages-debian.txt (and tools/packages-debian-tests.txt), hash-pinned Python packages
# (tools/requirements.lock) in a virtualenv outside the tree, and a collection tree at
# <workdir>/ansible_collections/netvirt/overlay (ansible-test and ansible-playbook only find the
# collection by that path).
# Source it (". tools/setup.sh") to get NVO_VENV, NVO_COLLECTIONS and PATH set.
# NVO_SETUP_FOR=main-job (tools/lab.sh) installs only what the main job needs: no test-only Debian
# packages, and the Python packages of tools/requirements-lab.lock (Ansible, the same versions)
# unless the tests' virtualenv is there already. Anything else installs everything.
# Strict mode when run directly; a caller that sources this file keeps its own options.
[[ "${BASH_SOURCE[0]}" == "$0" ]] && set -euo pipefail

NVO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NVO_ROOT

NVO_LOCK="$NVO_ROOT/tools/requirements.lock"

missing_debs() {  # list files: the packages of them that are not installed
    local pkg
    cat "$@" | grep -v '^\s*#' | awk 'NF{print $1}' | while read -r pkg; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
    done
}

if [ "$(id -u)" -ne 0 ]; then
    echo "tools/setup.sh: run as root (the lab creates namespaces and installs packages)" >&2
    exit 1
fi

# The main job's packages without their recommendations: it needs none of them (those it uses are
# listed), and dpkg-dev's alone are build-essential and a C compiler; in a fresh Debian root this
# step took 31 s without them, 83 s with them (bench/fresh_machine.sh). The tests' packages with
# theirs (krb5-user's krb5-config, for one, is what a Kerberos client is set up with).
mapfile -t NEED < <(missing_debs "$NVO_ROOT/tools/packages-debian.txt")
NEED_TESTS=()
if [ "${NVO_SETUP_FOR:-}" != main-job ]; then
    mapfile -t NEED_TESTS < <(missing_debs "$NVO_ROOT/tools/packages-debian-tests.txt")
fi
if [ "$((${#NEED[@]} + ${#NEED_TESTS[@]}))" -gt 0 ]; then
    echo "== installing Debian packages: ${NEED[*]} ${NEED_TESTS[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [ "${#NEED[@]}" -gt 0 ]; then
        apt-get install -y -qq --no-install-recommends "${NEED[@]}" >/dev/null
    fi
    if [ "${#NEED_TESTS[@]}" -gt 0 ]; then
        apt-get install -y -qq "${NEED_TESTS[@]}" >/dev/null
    fi
fi

# The virtualenv is keyed by the pins, so a change of pins builds a fresh one.
nvo_venv_of() { echo "${XDG_CACHE_HOME:-$HOME/.cache}/netvirt-overlay/venv-$(sha256sum < "$1" | cut -c1-12)"; }
if [ -z "${NVO_VENV:-}" ] && [ "${NVO_SETUP_FOR:-}" = main-job ] && [ ! -x "$(nvo_venv_of "$NVO_LOCK")/bin/ansible-playbook" ]; then
    NVO_LOCK="$NVO_ROOT/tools/requirements-lab.lock"
fi
NVO_VENV="${NVO_VENV:-$(nvo_venv_of "$NVO_LOCK")}"
export NVO_VENV
if [ ! -x "$NVO_VENV/bin/ansible-playbook" ]; then
    echo "== creating virtualenv $NVO_VENV"
    "${PYTHON:-python3}" -m venv "$NVO_VENV"
    # Every package, transitive ones included, pinned with its hashes (tools/lock_requirements.sh).
    "$NVO_VENV/bin/pip" install -q --disable-pip-version-check --require-hashes \
        -r "$NVO_LOCK"
fi
export PATH="$NVO_VENV/bin:$PATH"

# ansible_collections/netvirt/overlay -> this checkout (a symlink, so edits show at once).
NVO_COLLECTIONS="${NVO_COLLECTIONS:-${XDG_CACHE_HOME:-$HOME/.cache}/netvirt-overlay/collections-$(echo "$NVO_ROOT" | sha256sum | cut -c1-8)}"
mkdir -p "$NVO_COLLECTIONS/ansible_collections/netvirt"
ln -sfn "$NVO_ROOT" "$NVO_COLLECTIONS/ansible_collections/netvirt/overlay"
export NVO_COLLECTIONS
export ANSIBLE_COLLECTIONS_PATH="$NVO_COLLECTIONS"
export ANSIBLE_CONFIG="$NVO_ROOT/ansible.cfg"
# A caller that sources this file gets the variables above and nothing of the working state.
unset -f missing_debs nvo_venv_of
unset NVO_LOCK NEED NEED_TESTS
