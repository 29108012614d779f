#!/usr/bin/env bash
# The main job: build the embedded lab (hosts made of Linux namespaces on this machine),
# deploy the overlay on it with the collection's roles, and verify it (prints a table,
# exits non-zero if a check fails). Extra arguments go to ansible-playbook, e.g.
#   bash tools/lab.sh -e overlay_encapsulation=vxlan
# The lab stays up afterwards; remove it with: bash tools/lab.sh --destroy
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$NVO_ROOT"

if [ "${1:-}" = "--destroy" ]; then
    exec ansible-playbook -i inventories/lab playbooks/lab_destroy.yml
fi
ansible-playbook -i inventories/lab playbooks/lab_create.yml "$@"
ansible-playbook -i inventories/lab playbooks/site.yml "$@"
ansible-playbook -i inventories/lab playbooks/verify.yml "$@"
