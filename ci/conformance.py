#!/usr/bin/env python3
"""A client in another language, written from docs/layout.md and docs/protocols.md only
(standard library only): it checks that the docs and the bytes agree.

1. Header: parses and validates the header of a ring made by `shmring send --create`,
   including the checksum and the fingerprint of its `u8` payload.
2. Framed many-producer ring: takes the receiver role in the participant table and receives
   the messages `shmring send` wrote, then leaves half of them for `shmring recv`, which must
   continue exactly where this client stopped.
3. Stream codec: speaks hello and frames to a `uds:` duplex echo server (shmring-ipc's
   `echo` example): its hello is read and checked, every frame comes back, and a reply is
   held to the maximum this client announced.

Usage: conformance.py SHMRING_BINARY ECHO_BINARY. Exits non-zero, naming the step, when the
docs and the bytes disagree.
"""

import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HEADER_SIZE = 4096
FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fail(step, message):
    sys.exit(f"conformance: {step}: {message}")


def u32(buf, off):
    return struct.unpack_from("<I", buf, off)[0]


def u64(buf, off):
    return struct.unpack_from("<Q", buf, off)[0]


def fnv1a(data, h=FNV_BASIS):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


# ---------------------------------------------------------------- 1. the header


def checksum(header):
    """layout.md: FNV-1a over the 512 little-endian u64 words, state and checksum as zero."""
    h = FNV_BASIS
    for off in range(0, HEADER_SIZE, 8):
        w = u64(header, off)
        if off == 16:
            w &= ~0xFFFFFFFF & MASK64
        elif off == 112:
            w = 0
        h = ((h ^ w) * FNV_PRIME) & MASK64
    return h


def primitive_fingerprint(name, size, align):
    """layout.md: FNV-1a over `shmring-layout-v1\\0`, then `P`, name (u64 length + UTF-8),
    size, align (u64 little endian)."""
    enc = b"shmring-layout-v1\0" + b"P"
    enc += struct.pack("<Q", len(name)) + name.encode()
    enc += struct.pack("<QQ", size, align)
    return fnv1a(enc)


def parse_header(header, file_len):
    step = "header"
    if header[:8] != b"SHMRING\0":
        fail(step, f"magic {header[:8]!r}")
    fields = {
        "version": u32(header, 8),
        "endian": u32(header, 12),
        "state": u32(header, 16),
        "kind": u32(header, 20),
        "header_size": u32(header, 24),
        "flags": u32(header, 28),
        "total_size": u64(header, 32),
        "area_offset": u64(header, 40),
        "area_size": u64(header, 48),
        "capacity": u64(header, 56),
        "slot_size": u32(header, 64),
        "slot_align": u32(header, 68),
        "fingerprint": u64(header, 72),
        "description_len": u32(header, 80),
        "owner_pid": u32(header, 84),
        "checksum": u64(header, 112),
    }
    expect = {"version": 1, "endian": 0x01020304, "state": 1, "header_size": 4096,
              "area_offset": 4096, "flags": 0}
    for k, v in expect.items():
        if fields[k] != v:
            fail(step, f"{k} is {fields[k]:#x}, layout.md says {v:#x}")
    if fields["area_offset"] + fields["area_size"] != fields["total_size"]:
        fail(step, "area_offset + area_size != total_size")
    if file_len < fields["total_size"]:
        fail(step, f"file is {file_len} bytes, total_size {fields['total_size']}")
    if fields["kind"] not in (1, 2, 3, 4, 5):
        fail(step, f"kind {fields['kind']}")
    if header[120:256] != bytes(136):
        fail(step, "reserved bytes 120-255 are not zero")
    n = fields["description_len"]
    description = header[256:256 + n].decode()
    if header[256 + n:HEADER_SIZE] != bytes(HEADER_SIZE - 256 - n):
        fail(step, "description padding is not zero")
    computed = checksum(header)
    if computed != fields["checksum"]:
        fail(step, f"checksum: stored {fields['checksum']:#018x}, computed {computed:#018x}")
    fields["description"] = description
    return fields


# ---------------------------------------------------------------- 2. the framed-mpsc receiver

TABLE, RECORD, PARTICIPANTS, LANES = 1024, 128, 64, 8
CONSUMED, DATA = 768, 9216
PADDING, CLAIMED = 0xFFFFFFFF, 0xFFFFFFFE
IDLE = MASK64


def my_owner_word():
    stat = open("/proc/self/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    start_ticks = int(fields[19])  # field 22 of /proc/PID/stat
    return (os.getpid() << 32) | (start_ticks & 0xFFFFFFFF)


class Area:
    def __init__(self, mm, offset):
        self.mm, self.base = mm, offset

    def get(self, off):
        return u64(self.mm, self.base + off)

    def put(self, off, value):
        struct.pack_into("<Q", self.mm, self.base + off, value)

    def put32(self, off, value):
        struct.pack_into("<I", self.mm, self.base + off, value)


def receive_framed(name, want):
    """Joins ring `name` (kind 5) as its receiver, takes `want` messages, leaves."""
    step = "framed-mpsc receiver"
    path = f"/dev/shm/{name}"
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    mm = mmap.mmap(fd, size)
    os.close(fd)
    info = parse_header(bytes(mm[:HEADER_SIZE]), size)
    if info["kind"] != 5:
        fail(step, f"kind {info['kind']}, expected 5 (framed-mpsc)")
    if info["fingerprint"] != primitive_fingerprint("u8", 1, 1):
        fail(step, "the payload fingerprint is not u8's")
    if info["description"] != "u8 (size 1, align 1)":
        fail(step, f"description {info['description']!r}")
    cap = info["capacity"]
    mask = cap - 1
    area = Area(mm, HEADER_SIZE)
    # Claim a free participant record (no other joiner runs in this test: plain stores).
    record = next((i for i in range(PARTICIPANTS) if area.get(TABLE + RECORD * i) == 0), None)
    if record is None:
        fail(step, "no free participant record")
    rec = TABLE + RECORD * record
    area.put(rec, my_owner_word())
    area.put(rec + 8, os.stat("/proc/self/ns/pid").st_ino)
    for k in range(LANES):
        area.put(rec + 64 + 8 * k, IDLE)
    area.put32(rec + 16, 2)  # role: receiver
    area.put32(524, 1)  # receivers_ever
    area.put(512, area.get(512) + 1)  # epoch
    head = area.get(128)
    consumed = area.get(CONSUMED)
    if consumed > head and consumed - head <= cap and consumed % 8 == 0:
        fail(step, "a predecessor left taken messages (not expected in this test)")
    start = head
    got = []
    max_message = min(cap // 2 - 8, 2**31 - 8)
    while len(got) < want:
        if head >= area.get(0):
            fail(step, f"ring empty after {len(got)} of {want} messages")
        word = area.get(DATA + (head & mask))
        length, kind = word & 0xFFFFFFFF, word >> 32
        if word == 0 or kind == CLAIMED:
            fail(step, f"no committed record at {head} (word {word:#x})")
        if length < 8 or (head & mask) + length > cap:
            fail(step, f"record length {length} at {head}")
        span = (length + 7) // 8 * 8
        if kind != PADDING:
            if length - 8 > max_message:
                fail(step, f"payload {length - 8} over the maximum {max_message}")
            off = DATA + (head & mask) + 8
            got.append(bytes(mm[HEADER_SIZE + off:HEADER_SIZE + off + length - 8]))
        head += span
        area.put(CONSUMED, head)  # the consumed word, after each record
    # Hand back: zero what was consumed, publish head; then leave the table.
    for pos in range(start, head, 8):
        area.put(DATA + (pos & mask), 0)
    area.put(128, head)
    area.put32(rec + 16, 0)
    area.put(rec, 0)
    area.put(512, area.get(512) + 1)
    mm.close()
    return got


# ---------------------------------------------------------------- 3. the stream codec


def hello(max_frame, fingerprint=0, description=b""):
    return (b"SHMRIPC\0" + struct.pack("<HHIQH", 1, 0, max_frame, fingerprint, len(description))
            + description)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail("stream codec", f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_hello(sock):
    fixed = read_exact(sock, 26)
    if fixed[:8] != b"SHMRIPC\0":
        fail("stream codec", f"hello magic {fixed[:8]!r}")
    version, flags, max_frame, fingerprint, n = struct.unpack_from("<HHIQH", fixed, 8)
    if (version, flags) != (1, 0):
        fail("stream codec", f"hello version {version} flags {flags}")
    read_exact(sock, n)
    return max_frame, fingerprint


def talk_to_echo(echo):
    step = "stream codec"
    path = os.path.join(tempfile.mkdtemp(), "echo.sock")
    server = subprocess.Popen([echo, "server", f"uds:{path}"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("READY"):
            fail(step, f"echo server said {line!r}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(path)
        my_max = 64
        sock.sendall(hello(my_max))
        server_max, fingerprint = read_hello(sock)
        if fingerprint != 0:
            fail(step, f"an untyped server announced fingerprint {fingerprint:#x}")
        messages = [b"", b"x", b"hello, shmring", bytes(range(64))]
        for m in messages:
            sock.sendall(struct.pack("<I", len(m)) + m)
        for m in messages:
            (n,) = struct.unpack("<I", read_exact(sock, 4))
            if n > my_max:
                fail(step, f"a {n}-byte reply to a client that announced {my_max}")
            back = read_exact(sock, n)
            if back != m:
                fail(step, f"sent {m!r}, got {back!r}")
        # A request the server may take but whose echo is over this client's maximum: the
        # server must not send it (the codec's rule); the connection then ends.
        if server_max >= 65:
            sock.sendall(struct.pack("<I", 65) + bytes(65))
            sock.settimeout(2)
            try:
                data = sock.recv(4)
                if len(data) == 4 and struct.unpack("<I", data)[0] > my_max:
                    fail(step, "the server sent a reply over this client's maximum")
            except socket.timeout:
                pass
        sock.close()
        return len(messages)
    finally:
        server.kill()
        server.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    shmring, echo = sys.argv[1], sys.argv[2]
    name = f"shmring-conformance-{os.getpid()}"
    lines = [f"line {i} " + "x" * (i * 37 % 300) for i in range(1000)]
    try:
        subprocess.run([shmring, "send", name, "--create", "--capacity", "1048576"],
                       input="".join(l + "\n" for l in lines).encode(), check=True)
        # 1. the header of what the command made
        with open(f"/dev/shm/{name}", "rb") as f:
            data = f.read(HEADER_SIZE)
            file_len = os.fstat(f.fileno()).st_size
        info = parse_header(data, file_len)
        # 2. half the messages by this client, the rest by `shmring recv`
        got = receive_framed(name, 500)
        if got != [l.encode() for l in lines[:500]]:
            fail("framed-mpsc receiver", "the first 500 messages differ from what was sent")
        rest = subprocess.run([shmring, "recv", name], capture_output=True, check=True)
        if rest.stdout.decode().splitlines() != lines[500:]:
            fail("framed-mpsc receiver", "shmring recv did not continue where this client stopped")
    finally:
        subprocess.run([shmring, "rm", name], capture_output=True)
    # 3. the stream codec
    echoed = talk_to_echo(echo)
    print(f"conformance: header ok (kind {info['kind']}, checksum {info['checksum']:#018x}, "
          f"u8 fingerprint); framed-mpsc: 500 messages received as the ring's receiver, "
          f"500 left for shmring recv; stream codec: hello and {echoed} frames echoed")


if __name__ == "__main__":
    main()
