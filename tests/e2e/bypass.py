#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The bypass suite's senders and sniffer (tests/e2e/test_bypass.sh).

Each sender tries one way out with a payload that carries MARKER and prints
one line: what the calls said ("sent", or the errno's name). The sniffer
counts the frames that reach an interface with MARKER in them, whatever
their headers: a frame seen there was delivered to that host.

  sniff IFACE MARKER STOPFILE           "ready", then the count once STOPFILE
                                        exists (at most 10 s)
  udp DST PORT MARKER                   a plain datagram (controls)
  left-cgroup CGROUP DST PORT MARKER    socket made here, sent after moving
                                        this process to CGROUP
  fd-helper UNIXPATH KIND DST PORT MARKER
                                        receives a socket (SCM_RIGHTS) and
                                        uses it: KIND udp (sendto) or tcp
                                        (connect, send)
  fd-give UNIXPATH KIND                 makes a socket, hands it to the helper
  hold-udp DST PORT PIDFILE             a socket used once, held for 10 s
  pidfd-udp PID FD DST PORT MARKER      takes a socket with pidfd_getfd, sendto
  frame IFACE DSTMAC [options] MARKER   an AF_PACKET frame (SOCK_RAW):
        --sll-proto N     sll_protocol of the send (default: the ethertype)
        --ethertype N     the frame's ethertype (default 0x0800)
        --vlan ID         an 802.1Q tag
        --qinq ID         an 802.1ad tag in front of it (with --vlan)
        --src A --dst A   IP header addresses (IPv6 if they contain ':')
        --dport N         UDP destination port (default 5001)
        --qdisc-bypass    setsockopt(PACKET_QDISC_BYPASS, 1) first
  hdrincl HDRDST SENDTO PORT MARKER     raw IPv4 with IP_HDRINCL: the header
                                        says HDRDST, sendto() says SENDTO
  xdp                                   AF_XDP socket, setsockopt XDP_UMEM_REG
  tcp-idle DST PORT GOFILE              connects, sends, waits for GOFILE,
                                        then sends and reads for 3 s: the
                                        first error and the seconds it took
  udp-idle DST PORT GOFILE              the same, connected UDP
  hold PORT SECONDS                     their peer: takes TCP and UDP, says
                                        nothing, keeps connections open
"""
import ctypes
import errno
import mmap
import selectors
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20
AF_XDP = 44
SOL_XDP = 283
XDP_UMEM_REG = 4
SYS_PIDFD_GETFD = 438


def err_name(e):
    if isinstance(e, TimeoutError) or e.errno is None:
        return "timeout"
    return errno.errorcode.get(e.errno, str(e.errno))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ip_packet(src, dst, dport, payload):
    """An IPv4 or IPv6 header and UDP (checksums right for IPv4)."""
    udp = struct.pack("!HHHH", 40002, dport, 8 + len(payload), 0) + payload
    if ":" in dst:
        return struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + \
            socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + udp
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + udp


def sniff(iface, marker, stopfile):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.05)
    print("ready", flush=True)
    count, end = 0, time.time() + 10
    while time.time() < end and not os.path.exists(stopfile):
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] != socket.PACKET_OUTGOING and marker in data:
            count += 1
    print(count, flush=True)


def udp(dst, port, marker):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(marker, (dst, port))
    return "sent"


def left_cgroup(cgroup, dst, port, marker):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    s.sendto(marker, (dst, port))
    return "sent"


def fd_helper(path, kind, dst, port, marker):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(10)
    print("ready", flush=True)
    conn, _ = srv.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    s = socket.socket(fileno=fds[0])
    if kind == "tcp":
        s.settimeout(2)
        s.connect((dst, port))
        s.send(marker)
    else:
        s.sendto(marker, (dst, port))
    return "sent"


def fd_give(path, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(250):
        try:
            c.connect(path)
            break
        except OSError:
            time.sleep(0.02)
    socket.send_fds(c, [b"x"], [s.fileno()])
    return "given"


def hold_udp(dst, port, pidfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"used", (dst, port))
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d %d\n" % (os.getpid(), s.fileno()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(10)
    return "held"


def pidfd_udp(pid, fd, dst, port, marker):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    got = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if got < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    s = socket.socket(fileno=got)
    s.sendto(marker, (dst, port))
    return "sent"


def frame(args):
    iface, dstmac = args[0], bytes.fromhex(args[1].replace(":", ""))
    opts = dict(ethertype=0x0800, sll=None, vlan=None, qinq=None, src="192.0.2.1",
                dst="192.0.2.3", dport=5001, bypass=False)
    i, rest = 2, []
    while i < len(args):
        a = args[i]
        if a == "--qdisc-bypass":
            opts["bypass"] = True
            i += 1
            continue
        if a.startswith("--"):
            key = {"--sll-proto": "sll", "--ethertype": "ethertype", "--vlan": "vlan",
                   "--qinq": "qinq", "--src": "src", "--dst": "dst", "--dport": "dport"}[a]
            val = args[i + 1]
            opts[key] = val if key in ("src", "dst") else int(val, 0)
            i += 2
            continue
        rest.append(a)
        i += 1
    marker = rest[0].encode()
    if ":" in opts["dst"] and opts["ethertype"] == 0x0800:
        opts["ethertype"] = 0x86DD
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    said = []
    if opts["bypass"]:
        try:
            s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
            said.append("bypass-on")
        except OSError as e:
            said.append("bypass-" + err_name(e))
    sll = opts["sll"] if opts["sll"] is not None else opts["ethertype"]
    s.bind((iface, sll))
    eth = dstmac + s.getsockname()[4]  # our own MAC
    if opts["qinq"] is not None:
        eth += struct.pack("!HH", 0x88A8, opts["qinq"])
    if opts["vlan"] is not None:
        eth += struct.pack("!HH", 0x8100, opts["vlan"])
    eth += struct.pack("!H", opts["ethertype"])
    if opts["ethertype"] in (0x0800, 0x86DD):
        body = ip_packet(opts["src"], opts["dst"], opts["dport"], marker)
    else:
        body = marker
    try:
        s.send(eth + body)
        said.append("sent")
    except OSError as e:
        said.append(err_name(e))
    return " ".join(said)


def hdrincl(hdrdst, sendto, port, marker):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    s.sendto(ip_packet("192.0.2.1", hdrdst, port, marker), (sendto, 0))
    return "sent"


def xdp():
    s = socket.socket(AF_XDP, socket.SOCK_RAW, 0)
    area = mmap.mmap(-1, 16 * 4096)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
    reg = struct.pack("QQIII", addr, 16 * 4096, 4096, 0, 0)  # struct xdp_umem_reg
    s.setsockopt(SOL_XDP, XDP_UMEM_REG, reg)
    return "registered"


def idle(kind, dst, port, gofile):
    """Connects and sends; once GOFILE exists, sends and reads for 3 s:
    the first error (or "no-error") and the seconds until it came."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((dst, port))
    s.send(b"before")
    print("connected", flush=True)
    for _ in range(1000):
        if os.path.exists(gofile):
            break
        time.sleep(0.01)
    t0 = time.time()
    s.settimeout(0.2)
    res = "no-error"
    while time.time() - t0 < 3:
        try:
            s.send(b"after")
            if s.recv(100) == b"":
                res = "eof"
                break
        except TimeoutError:
            continue  # the peer says nothing: the connection lives
        except OSError as e:
            res = err_name(e)
            break
    return "%s %.1f" % (res, time.time() - t0)


def hold(port, seconds):
    """A peer for idle senders: accepts TCP and takes UDP on PORT, answers
    nothing, keeps every connection open for SECONDS."""
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port))
    t.listen(16)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", port))
    sel = selectors.DefaultSelector()
    sel.register(t, selectors.EVENT_READ)
    sel.register(u, selectors.EVENT_READ)
    print("ready", flush=True)
    end, conns = time.time() + seconds, []
    while time.time() < end:
        for key, _ in sel.select(0.1):
            if key.fileobj is t:
                c, _ = t.accept()
                conns.append(c)
                sel.register(c, selectors.EVENT_READ)
            else:
                try:
                    if key.fileobj.recv(4096) == b"" and key.fileobj is not u:
                        sel.unregister(key.fileobj)
                except OSError:
                    sel.unregister(key.fileobj)
    return "held %d" % len(conns)


def main(a):
    cmd = a[0]
    if cmd == "sniff":
        return sniff(a[1], a[2].encode(), a[3])
    try:
        if cmd == "udp":
            out = udp(a[1], int(a[2]), a[3].encode())
        elif cmd == "left-cgroup":
            out = left_cgroup(a[1], a[2], int(a[3]), a[4].encode())
        elif cmd == "fd-helper":
            out = fd_helper(a[1], a[2], a[3], int(a[4]), a[5].encode())
        elif cmd == "fd-give":
            out = fd_give(a[1], a[2])
        elif cmd == "hold-udp":
            out = hold_udp(a[1], int(a[2]), a[3])
        elif cmd == "pidfd-udp":
            out = pidfd_udp(int(a[1]), int(a[2]), a[3], int(a[4]), a[5].encode())
        elif cmd == "frame":
            out = frame(a[1:])
        elif cmd == "hdrincl":
            out = hdrincl(a[1], a[2], int(a[3]), a[4].encode())
        elif cmd == "xdp":
            out = xdp()
        elif cmd in ("tcp-idle", "udp-idle"):
            out = idle(cmd[:3], a[1], int(a[2]), a[3])
        elif cmd == "hold":
            out = hold(int(a[1]), float(a[2]))
        else:
            print("bypass.py: unknown command " + cmd, file=sys.stderr)
            return 2
    except OSError as e:
        out = err_name(e)
    print(out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
