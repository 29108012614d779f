#!/usr/bin/env bash
# Put openvswitch.openvswitch (the collection the benchmark compares against) into a cache
# directory outside the repo. It left the `ansible` package with 11.x and Galaxy is not
# reachable from lab machines, so it is taken out of the ansible 10.x wheel. The wheel is only
# unpacked, never installed: installing it would pull an older ansible-core into the venv.
#
# Usage: bench/get_peer_collection.sh [PEERDIR]
# Prints PEERDIR (the directory to add to ANSIBLE_COLLECTIONS_PATH) on the last line.
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/netvirt-overlay"
PEERDIR="${1:-$CACHE/peer-collections}"
MARKER="$PEERDIR/ansible_collections/openvswitch/openvswitch/plugins/modules/openvswitch_port.py"

if [ ! -f "$MARKER" ]; then
    WHEELDIR="$CACHE/wheels"
    mkdir -p "$WHEELDIR" "$PEERDIR"
    # Reuse a wheel downloaded before; the download is ~50 MB.
    if ! ls "$WHEELDIR"/ansible-10*.whl >/dev/null 2>&1; then
        echo "== downloading the ansible 10.x wheel into $WHEELDIR" >&2
        "${PIP:-pip}" download --quiet --disable-pip-version-check --no-deps 'ansible==10.*' -d "$WHEELDIR" >&2
    fi
    WHEEL="$(find "$WHEELDIR" -maxdepth 1 -name 'ansible-10*.whl' | sort -V | tail -n 1)"
    echo "== extracting openvswitch.openvswitch from $(basename "$WHEEL")" >&2
    unzip -q -o "$WHEEL" 'ansible_collections/openvswitch/*' -d "$PEERDIR"
fi
test -f "$MARKER"
echo "$PEERDIR"
