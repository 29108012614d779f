# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small traffic tools for playbooks/lab/verify.yml and the bench, run inside lab hosts
(python3 netprobe.py COMMAND ...).

  arp-burst IFACE TARGET_IP COUNT [GAP]    send COUNT ARP requests (broadcast), GAP s apart (default 0)
  arp-probe IFACE TARGET_IP SECONDS STEP   one ARP request every STEP s, print JSON with the
                                           replies and the longest gap between two replies
  ping-gap TARGET_IP SECONDS STEP          the same with ICMP echo (unicast), via ping
  whoami-server PORT SECONDS [N]           TCP server: answers "<hostname> saw <peer address>"
                                           (ends after N connections when N is given)
  whoami HOST PORT                         TCP client of it
  port-tx BRIDGE                           JSON {port: [tx packets, tx bytes, rx packets]} from OpenFlow port
                                           counters (live, unlike the OVSDB statistics column)
  group-stats BRIDGE                       JSON {group id: [packets of each bucket]}
"""

from __future__ import annotations

import json
import re
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ARP = 0x0806


def _mac(iface):
    # Not /sys/class/net: a lab host shares the machine's sysfs, which shows the root namespace.
    out = subprocess.run(['ip', '-j', 'link', 'show', 'dev', iface], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return bytes.fromhex(json.loads(out)[0]['address'].replace(':', ''))


def _ip(iface):
    out = subprocess.run(['ip', '-4', '-o', 'address', 'show', 'dev', iface], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return socket.inet_aton(re.search(r'inet ([0-9.]+)', out).group(1))


def _arp_socket(iface):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((iface, 0))
    return sock


def _request(iface, target):
    mac, ip = _mac(iface), _ip(iface)
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip, b'\0' * 6, socket.inet_aton(target))
    return b'\xff' * 6 + mac + struct.pack('!H', ETH_P_ARP) + arp


def arp_burst(iface, target, count, gap='0'):
    sock = _arp_socket(iface)
    frame = _request(iface, target)
    for _i in range(int(count)):
        sock.send(frame)
        if float(gap):
            time.sleep(float(gap))
    print(json.dumps({'sent': int(count), 'bytes': len(frame)}))


def arp_probe(iface, target, seconds, step):
    sock = _arp_socket(iface)
    frame = _request(iface, target)
    want = socket.inet_aton(target)
    seconds, step = float(seconds), float(step)
    start = time.monotonic()
    replies, sent, nxt = [], 0, start
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now >= nxt:
            sock.send(frame)
            sent += 1
            nxt += step
        ready, _w, _x = select.select([sock], [], [], max(0.0, nxt - time.monotonic()))
        if ready:
            data = sock.recv(2048)
            if len(data) >= 42 and data[12:14] == b'\x08\x06' and data[20:22] == b'\x00\x02' and data[28:32] == want:
                replies.append(time.monotonic() - start)
    print(json.dumps(_gaps(replies, sent, seconds, step)))


def _gaps(times, sent, seconds, step):
    edges = [0.0] + times + [seconds]
    gap = max(b - a for a, b in zip(edges, edges[1:]))
    return {'sent': sent, 'received': len(times), 'max_gap_s': round(gap, 3),
            'outage_s': round(max(0.0, gap - step), 3)}


def ping_gap(target, seconds, step):
    # A count, not a deadline (-w): at a deadline ping stops at once, and a request still in flight
    # then counts as lost. With -c it waits up to -W for the last replies.
    count = max(1, int(round(float(seconds) / float(step))))
    begin = time.time()
    out = subprocess.run(['ping', '-n', '-D', '-i', str(step), '-c', str(count), '-W', '1', target],
                         stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout
    finish = time.time() - begin
    sent = re.search(r'(\d+) packets transmitted', out)
    times = sorted(float(t) - begin for t in re.findall(r'^\[([0-9.]+)\] \d+ bytes from', out, re.M))
    print(json.dumps(_gaps(times, int(sent.group(1)) if sent else 0, finish, float(step))))


def whoami_server(port, seconds, connections='0'):
    left = int(connections) or -1
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('', int(port)))
    srv.listen(8)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        srv.settimeout(max(0.1, end - time.monotonic()))
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            break
        conn.sendall(('%s saw %s\n' % (socket.gethostname(), peer[0])).encode())
        conn.close()
        left -= 1
        if left == 0:
            break


def whoami(host, port):
    conn = socket.create_connection((host, int(port)), timeout=5)
    print(conn.recv(200).decode().strip())


def port_tx(bridge):
    out = subprocess.run(['ovs-ofctl', '--names', 'dump-ports', bridge], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    found = re.findall(r'port\s+"?([^":\s]+)"?: rx pkts=(\d+).*?\n\s+tx pkts=(\d+), bytes=(\d+)', out)
    print(json.dumps(dict((name, [int(tx), int(octets), int(rx)]) for name, rx, tx, octets in found)))


def group_stats(bridge):
    out = subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-group-stats', bridge], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    groups = {}
    for line in out.splitlines():
        found = re.search(r'group_id=(\d+),', line)
        if found:
            groups[found.group(1)] = [int(n) for n in re.findall(r'bucket\d+:packet_count=(\d+)', line)]
    print(json.dumps(groups))


def main(argv):
    commands = {'port-tx': port_tx, 'group-stats': group_stats, 'arp-burst': arp_burst, 'arp-probe': arp_probe, 'ping-gap': ping_gap,
                'whoami-server': whoami_server, 'whoami': whoami}
    if len(argv) < 2 or argv[1] not in commands:
        sys.stderr.write(__doc__)
        return 2
    commands[argv[1]](*argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
