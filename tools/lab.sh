#!/usr/bin/env bash
# The main job: build the embedded labs (hosts made of Linux namespaces on this machine), deploy
# the overlay on them with the collection's roles, and verify them (each prints a table; the
# script exits non-zero if any check fails).
#   bash tools/lab.sh             both architectures: OVN over SSL (inventories/lab_ovn), then the
#                                 static mesh with service nodes and gateways (inventories/lab)
#   bash tools/lab.sh --ovn       only the OVN lab          bash tools/lab.sh --mesh   only the mesh lab
#   bash tools/lab.sh [--ovn|--mesh] --destroy              remove the lab(s)
#   bash tools/lab.sh --machines [--ovn|--mesh] [--destroy] the same with the controllers, hypervisors,
#                                 service nodes and gateways as booted Debian machines (systemd-nspawn,
#                                 reached over SSH, packages from the lab's local repository)
# Other arguments go to ansible-playbook, e.g. --mesh -e overlay_encapsulation=vxlan.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$NVO_ROOT"

machines=()
if [ "${1:-}" = "--machines" ]; then
    machines=(-e netvirt_lab_machines=true)
    shift
fi
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

# Each step's time, printed at the end (the README quotes them).
timings=()
timed() {
    local label="$1" start=$SECONDS
    shift
    "$@" || return 1
    timings+=("$(printf '%-28s %4d s' "$label" $((SECONDS - start)))")
}

failed=()
for mode in "${modes[@]}"; do
    printf '\n##### %s lab (%s)\n' "$mode" "$(inventory_of "$mode")"
    inventory="$(inventory_of "$mode")"
    if ! { timed "$mode: create" ansible-playbook -i "$inventory" playbooks/lab/create.yml "${machines[@]}" "$@" &&
           timed "$mode: deploy (site.yml)" ansible-playbook -i "$inventory" playbooks/lab/deploy.yml "${machines[@]}" "$@" &&
           timed "$mode: verify" ansible-playbook -i "$inventory" "$(verify_of "$mode")" "${machines[@]}" "$@"; }; then
        failed+=("$mode")
    fi
done
printf '\n'
printf '%s\n' "${timings[@]}"
printf '%-28s %4d s\n' "total" "$SECONDS"
if ! python3 tools/host_guard.py compare "$guard"; then
    failed+=("host guard")
fi
if [ "${#failed[@]}" -gt 0 ]; then
    echo "main job FAILED for: ${failed[*]}" >&2
    exit 1
fi
echo "main job passed: ${modes[*]}"
