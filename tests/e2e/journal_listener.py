# SPDX-License-Identifier: GPL-2.0-only
"""A stand-in for systemd-journald's native socket (the health suite):
binds SOCKET, and writes each entry it receives as one JSON object per line
to OUT. The native protocol: KEY=VALUE lines, or KEY, a newline, a 64-bit
little-endian length, the value and a newline for values with newlines."""
import json
import socket
import struct
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "a", encoding="utf-8") as out:
    while True:
        data = sock.recv(1 << 20)
        entry, i = {}, 0
        while i < len(data):
            nl = data.index(b"\n", i)
            line = data[i:nl]
            if b"=" in line:
                key, value = line.split(b"=", 1)
                i = nl + 1
            else:
                key = line
                size = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
                value = data[nl + 9:nl + 9 + size]
                i = nl + 9 + size + 1
            entry[key.decode()] = value.decode(errors="replace")
        out.write(json.dumps(entry) + "\n")
        out.flush()
