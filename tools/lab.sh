#!/usr/bin/env bash
# The main job: build the embedded labs on this machine, deploy the overlay on them with the
# collection's roles, and verify them (each prints a table; the script exits non-zero if any
# check fails). The controllers, hypervisors, service nodes and gateways are booted Debian
# machines (systemd-nspawn in the lab's network namespaces, reached over SSH, packages from the
# lab's local repository), as real hosts are; VMs, switches and outside hosts are namespaces.
#   bash tools/lab.sh             both architectures: OVN over SSL (inventories/lab_ovn), then the
#                                 static mesh with service nodes and gateways (inventories/lab)
#   bash tools/lab.sh --ovn       only the OVN lab          bash tools/lab.sh --mesh   only the mesh lab
#   bash tools/lab.sh [--ovn|--mesh] --destroy              remove the lab(s)
#   bash tools/lab.sh --namespaces [--ovn|--mesh] [--destroy]  the same with every host a set of Linux
#                                 namespaces (no systemd, SSH or packages: quicker, what most tests use)
# (--machines, the default, is accepted too.) Other arguments go to ansible-playbook, e.g.
# --mesh -e overlay_encapsulation=vxlan.
set -euo pipefail
# What the main job needs, not what only the tests need (tools/setup.sh).
NVO_SETUP_FOR=main-job . "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$NVO_ROOT"

machines=(-e netvirt_lab_machines=true)
case "${1:-}" in
    --machines) shift ;;
    --namespaces) machines=(); shift ;;
esac
modes=(ovn mesh)
case "${1:-}" in
    --ovn) modes=(ovn); shift ;;
    --mesh) modes=(mesh); shift ;;
esac

inventory_of() { [ "$1" = ovn ] && echo inventories/lab_ovn || echo inventories/lab; }
verify_of() { [ "$1" = ovn ] && echo playbooks/lab/verify_ovn.yml || echo playbooks/lab/verify.yml; }

# Nothing the lab does, nor its removal, may change this machine (tools/host_guard.py says what
# is compared).
guard="$(mktemp)"
trap 'rm -f "$guard"' EXIT
python3 tools/host_guard.py snapshot "$guard"

if [ "${1:-}" = "--destroy" ]; then
    for mode in "${modes[@]}"; do
        ansible-playbook -i "$(inventory_of "$mode")" playbooks/lab/destroy.yml "${machines[@]}"
    done
    python3 tools/host_guard.py compare "$guard"
    exit 0
fi

# Each step's time, printed at the end (the README quotes them); a file, as builds may run in
# background jobs.
timings="$(mktemp)"
trap 'rm -f "$guard" "$timings"' EXIT
timed() {
    local label="$1" start=$SECONDS
    shift
    "$@" || return 1
    printf '%-28s %4d s\n' "$label" $((SECONDS - start)) >> "$timings"
}
build() {
    local mode="$1" inventory
    shift
    inventory="$(inventory_of "$mode")"
    timed "$mode: create" ansible-playbook -i "$inventory" playbooks/lab/create.yml "${machines[@]}" "$@" &&
        timed "$mode: deploy (site.yml)" ansible-playbook -i "$inventory" playbooks/lab/deploy.yml "${machines[@]}" "$@"
}
verify() {
    local mode="$1"
    shift
    timed "$mode: verify" ansible-playbook -i "$(inventory_of "$mode")" "$(verify_of "$mode")" "${machines[@]}" "$@"
}

failed=()
if [ "${#machines[@]}" -gt 0 ] && [ "${#modes[@]}" -gt 1 ]; then
    # Booted machines spend most of their deployment waiting (SSH round trips, package installs,
    # daemons starting), so the labs, which share nothing but the image (built once, under a lock),
    # are built and deployed side by side, each line marked with its lab. The verifications, which
    # measure loss and throughput, run one after the other.
    pids=()
    for mode in "${modes[@]}"; do
        { build "$mode" "$@" 2>&1 | sed -u "s/^/[$mode] /"; exit "${PIPESTATUS[0]}"; } &
        pids+=($!)
    done
    built=()
    for i in "${!modes[@]}"; do
        if wait "${pids[$i]}"; then built+=("${modes[$i]}"); else failed+=("${modes[$i]}"); fi
    done
    printf '%-28s %4d s\n' "create and deploy, both" "$SECONDS" >> "$timings"
    for mode in "${built[@]}"; do
        printf '\n##### %s lab (%s): verify\n' "$mode" "$(inventory_of "$mode")"
        verify "$mode" "$@" || failed+=("$mode")
    done
else
    for mode in "${modes[@]}"; do
        printf '\n##### %s lab (%s)\n' "$mode" "$(inventory_of "$mode")"
        if ! { build "$mode" "$@" && verify "$mode" "$@"; }; then
            failed+=("$mode")
        fi
    done
fi
printf '\n'
cat "$timings"
printf '%-28s %4d s\n' "total" "$SECONDS"
if ! python3 tools/host_guard.py compare "$guard"; then
    failed+=("host guard")
fi
if [ "${#failed[@]}" -gt 0 ]; then
    echo "main job FAILED for: ${failed[*]}" >&2
    exit 1
fi
echo "main job passed: ${modes[*]}"
