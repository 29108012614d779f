#!/usr/bin/env bash
# The whole test suite: ansible-test sanity, ansible-lint (production profile), the unit tests
# under the oldest and the newest supported ansible-core, the built artifact (tests/packaging) and the
# integration tests whose labs time nothing (the Molecule scenarios among them), in two lanes side
# by side, with the OVN machine lab as a third (the mesh machine lab ends lane A, the upgrade drill
# on machines lane B); last, one pytest run over the labs whose drills measure time and loss (real
# OVS in lab namespaces). Sets up what it needs first (tools/setup.sh). Run as root. Arguments go to
# each pytest run (e.g. -x).
set -euo pipefail
pytest_args=("$@")

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
failures="$(mktemp)"
lane_a_log="$(mktemp)"
lane_b_log="$(mktemp)"
lane_c_log="$(mktemp)"
trap 'rm -f "$failures" "$lane_a_log" "$lane_b_log" "$lane_c_log"; [ -z "$fresh_home" ] || rm -rf "$fresh_home"' EXIT

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
    # (No RETURN trap for the clean-up: it stays set after the function returns, and fires with
    # $work unset at the next return of the lane that ran it.)
    local rc=0
    work="$(mktemp -d)"
    mkdir -p "$work/ansible_collections/netvirt/overlay"
    git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$work/ansible_collections/netvirt/overlay/"
    (cd "$work/ansible_collections/netvirt/overlay" &&
        PATH="$venv/bin:$PATH" ansible-test sanity --local --python 3.11 --color no) || rc=$?
    rm -rf "$work"
    return "$rc"
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

# Everything before the labs is one busy process per step, and the machine has two cores: two
# lanes of steps run side by side, each with its own log, printed when all are done (lane A, then
# lane B, then the OVN machine lab below). A lane runs all its steps even after one failed; the
# namespace labs start only if every step passed.
# The unit tests run under the oldest ansible-core requires_ansible claims, in a virtualenv of its
# own (tools/version_matrix.sh --units), and the newest (the suite's own virtualenv).
lane() {  # label function [label function ...]
    local failed=0 rc started
    while [ "$#" -ge 2 ]; do
        stage "$1"
        rc=0 started=$SECONDS
        "$2" || rc=$?
        echo "--- $1: $((SECONDS - started)) s"
        if [ "$rc" -ne 0 ]; then
            echo "FAILED: $1 (exit $rc)" | tee -a "$failures"
            failed=1
        fi
        shift 2
    done
    return "$failed"
}
# The oldest and the newest ansible-core: between them 2.17 and 2.18 cost the suite about 12
# minutes of CPU on a loaded machine (2026-12-05) while the OVN machine lab, its longest lane,
# waits for cores; tools/version_matrix.sh runs every version (docs/version-matrix.md).
units_216() { bash tools/version_matrix.sh --units 2.16; }
units_219() { python -m pytest tests/unit -q -p no:cacheprovider "${pytest_args[@]}"; }
# -rP prints what passing tests printed (the consumer project's checks); fE lists the failed
# tests last, where a log cut to its end still shows them.
packaging() { python -m pytest tests/packaging -q -rPfE -p no:cacheprovider "${pytest_args[@]}"; }

# The OVN machine lab is the exception to "labs after the lanes": its booted machines spend most
# of its ~30 minutes there waiting (reboots, SSH round trips, package installs) and its drills wait
# with deadlines of a minute or more, so it runs as a third lane beside the two busy ones. The
# integration tests whose labs time nothing (bad input, the control-node CA rotation, the modules
# against real OVS, AWX's runner, the GRE recipe, Kerberos, Molecule) end the two busy lanes, which
# are done with their other steps minutes before the machine lab. The namespace labs come after:
# their failover figures are tenths of a second and want the cores to themselves.
# (Measured on 2026-12-06 from a fresh clone of 7dcd6bf: lane A 2166 s with the mesh machine lab,
# lane B 1793 s with the upgrade drill, the OVN machine lab 2337 s; the timed labs after all three,
# 15.6 minutes; 55 min 4 s in all. The run of c1e2b83 before it: 56 min 5 s.)
LANE_INTEGRATION=(tests/integration/test_machine_lab_ovn.py)
# The mesh machine lab is of the same kind (booted machines, drills with deadlines of seconds, not
# tenths): it ends lane A, which is done with its other steps about 16 minutes before the OVN
# machine lab, instead of lengthening the timed labs after all three lanes (about 8 minutes there).
LANE_A_MACHINES=(tests/integration/test_machine_lab.py)
TIMELESS_A=(tests/integration/test_bad_input.py tests/integration/test_ca_rotation_control_node.py
            tests/integration/test_ovs_modules.py tests/integration/test_ovs_bridges_record.py
            tests/integration/test_ansible_runner.py)
TIMELESS_B=(tests/integration/test_molecule.py tests/integration/test_gre_pair.py tests/integration/test_kerberos_lab.py)
# The rolling upgrade drill (booted machines, Debian 12 to Debian 13 packages; about 10 minutes
# alone) ends lane B, which is done with its other steps about 26 minutes before the OVN machine lab.
LANE_B_MACHINES=(tests/integration/test_machine_lab_upgrade.py)
# One pytest run of the given integration test files, as every lane step runs them.
integration() { python -m pytest "$@" -q -rPfE --durations=10 -p no:cacheprovider "${pytest_args[@]}"; }
ovn_machines() { integration "${LANE_INTEGRATION[@]}"; }
mesh_machines() { integration "${LANE_A_MACHINES[@]}"; }
upgrade_machines() { integration "${LANE_B_MACHINES[@]}"; }
timeless_a() { integration "${TIMELESS_A[@]}"; }
timeless_b() { integration "${TIMELESS_B[@]}"; }

lane "pytest: the OVN machine lab (tests/integration/test_machine_lab_ovn.py)" ovn_machines >"$lane_c_log" 2>&1 &
lane_c=$!
lane "ansible-test sanity" sanity "unit tests under ansible-core 2.16" units_216 \
    "pytest: integration tests that time nothing (${TIMELESS_A[*]})" timeless_a \
    "pytest: the mesh machine lab (${LANE_A_MACHINES[*]})" mesh_machines >"$lane_a_log" 2>&1 &
lane_a=$!
lane_b_rc=0
lane "ansible-lint (production profile)" lint \
    "pytest: unit tests under ansible-core 2.19 (tests/unit)" units_219 "pytest: the built artifact (tests/packaging)" packaging \
    "pytest: integration tests that time nothing (${TIMELESS_B[*]})" timeless_b \
    "pytest: the upgrade drill on machines (${LANE_B_MACHINES[*]})" upgrade_machines >"$lane_b_log" 2>&1 || lane_b_rc=$?
lane_a_rc=0
wait "$lane_a" || lane_a_rc=$?
lane_c_rc=0
wait "$lane_c" || lane_c_rc=$?
# A log is often seen cut to its beginning and its end: the lanes that passed are printed first,
# the failed ones last, and then once more the tracebacks of their failed tests (CI43's failure in
# lane B, printed between lanes A and C, was cut away entirely).
failed_logs=()
for lane_log in "$lane_a_log:$lane_a_rc" "$lane_b_log:$lane_b_rc" "$lane_c_log:$lane_c_rc"; do
    if [ "${lane_log##*:}" -eq 0 ]; then cat "${lane_log%:*}"; else failed_logs+=("${lane_log%:*}"); fi
done
if [ "${#failed_logs[@]}" -gt 0 ]; then
    cat "${failed_logs[@]}"
    printf '\nthe failed tests of the failed lanes (their last 150 lines each):\n' >&2
    for lane_log in "${failed_logs[@]}"; do
        # pytest's section of tracebacks runs from "= FAILURES =" or "= ERRORS =" to the next "= ... =" line.
        awk '/^=+ (FAILURES|ERRORS) =+$/ {on = 1; print; next} on && /^=+ .* =+$/ {on = 0} on' "$lane_log" | tail -n 150 >&2
        grep -E '^(FAILED|ERROR) ' "$lane_log" >&2 || true
    done
    printf '\nfailed in the lanes (the other labs did not run):\n' >&2
    cat "$failures" >&2
    exit 1
fi

stage "pytest: integration (real OVS in lab namespaces)"
# -rP prints what passing tests printed (the lab tables and the measured failover times); fE lists
# the failed tests last, after --durations, where a log cut to its end still shows them.
# --durations shows where the run's time goes (the CI budget is tight on 2 cores).
timed_rc=0
python -m pytest tests/integration "${LANE_INTEGRATION[@]/#/--ignore=}" "${LANE_A_MACHINES[@]/#/--ignore=}" \
    "${LANE_B_MACHINES[@]/#/--ignore=}" "${TIMELESS_A[@]/#/--ignore=}" "${TIMELESS_B[@]/#/--ignore=}" -q -rPfE --durations=40 -p no:cacheprovider "${pytest_args[@]}" || timed_rc=$?
# The script's status (set -e ends it here when a test failed).
[ "$timed_rc" -eq 0 ]
