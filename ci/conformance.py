#!/usr/bin/env python3
"""A client in another language, written from docs/layout.md and docs/protocols.md only
(standard library only): it checks that the docs and the bytes agree.

1. Header: parses and validates the header of a ring made by `shmring send --create`,
   including the checksum and the fingerprint of its `u8` payload.
2. Framed many-producer ring: takes the receiver role in the participant table and receives
   the messages `shmring send` wrote, then leaves half of them for `shmring recv`, which must
   continue exactly where this client stopped.
3. Stream codec: speaks hello and frames to a `uds:` and a `tcp:` duplex echo server
   (shmring-ipc's `echo` example): its hello is read and checked, every frame comes back, and
   a reply is held to the maximum this client announced.
4. SPSC ring: creates a `u64` ring itself (creator protocol, header, checksum, fingerprint),
   sends 1000 values through it as its sender (eventcount notifications with a shared futex
   and a registered membarrier) to a Rust receiver, which checks each; a ring this client
   labels `i32` is refused by the Rust opener naming both types.
5. MPMC ring: joins a Rust sender's `u64` ring in the participant table as its only
   receiver and takes 1000 values through the stamped slots, notifying the blocked sender.
6. Framed ring: takes the receiver role of a Rust `framed::Sender`'s ring and receives 300
   messages of varied length across the wrap (padding records), handing space back.
7. POSIX message queue: sends 200 messages to a Rust `mq:` receiver (liveness locks, the
   receiver's hello from its lock file, tag bytes), every one checked there.

Usage: conformance.py SHMRING_BINARY ECHO_BINARY PEER_BINARY. Exits non-zero, naming the step,
when the docs and the bytes disagree.
"""

import ctypes
import fcntl
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


def join_table(area, role, step):
    """Claims a free participant record (no other process joins meanwhile in these tests, so
    plain stores stand in for the CAS), announces `role` (1 sender, 2 receiver); the record's
    offset."""
    index = next((i for i in range(PARTICIPANTS) if area.get(TABLE + RECORD * i) == 0), None)
    if index is None:
        fail(step, "no free participant record")
    rec = TABLE + RECORD * index
    area.put(rec, my_owner_word())
    area.put(rec + 8, os.stat("/proc/self/ns/pid").st_ino)
    for k in range(LANES):
        area.put(rec + 64 + 8 * k, IDLE)
    area.put32(rec + 16, role)
    area.put32(520 if role == 1 else 524, 1)  # senders_ever / receivers_ever
    area.put(512, area.get(512) + 1)  # epoch
    area.wake(256)  # both directions
    area.wake(384)
    return rec


def leave_table(area, rec):
    """Dropping the last handle: role 0, owner 0, epoch, a wake in both directions."""
    area.put32(rec + 16, 0)
    area.put(rec, 0)
    area.put(512, area.get(512) + 1)
    area.wake(256)
    area.wake(384)


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
    words = Words(mm)
    area = Offset(words)
    rec = join_table(area, 2, step)
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
    leave_table(area, rec)
    words.close()
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


def talk_to_echo(echo, endpoint):
    """Speaks the codec to an echo server on `endpoint` (`uds:PATH` or `tcp:HOST:0`)."""
    step = f"stream codec ({endpoint.split(':')[0]}:)"
    server = subprocess.Popen([echo, "server", endpoint], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("READY "):
            fail(step, f"echo server said {line!r}")
        bound = line.split(" ", 1)[1].strip()
        if bound.startswith("uds:"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = bound[4:]
        else:
            host, port = bound[4:].rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (host, int(port))
        sock.settimeout(30)
        sock.connect(address)
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


# ---------------------------------------------------------------- shared: words, futex, membarrier

LIBC = ctypes.CDLL(None, use_errno=True)
SYS_FUTEX, SYS_MEMBARRIER = 202, 324  # x86-64
FUTEX_WAKE = 1
MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2
INT_MAX = 2**31 - 1
WATCHDOG = 60.0


class Words:
    """Aligned 8- and 4-byte words of a mapping, each read and written with one machine load or
    store (a memoryview cast: what a C program does with a volatile or relaxed atomic)."""

    def __init__(self, mm):
        self.mm = mm
        self.q = memoryview(mm).cast("Q")
        self.i = memoryview(mm).cast("I")

    def get(self, off):
        return self.q[off // 8]

    def put(self, off, value):
        self.q[off // 8] = value & MASK64

    def get32(self, off):
        return self.i[off // 4]

    def put32(self, off, value):
        self.i[off // 4] = value & 0xFFFFFFFF

    def wake(self, off):
        """The notifier's half of an eventcount (protocols.md): bump the futex word and wake
        every sleeper, with a shared futex (no FUTEX_PRIVATE_FLAG)."""
        self.put32(off, self.get32(off) + 1)
        cell = ctypes.c_uint32.from_buffer(self.mm, off)
        LIBC.syscall(SYS_FUTEX, ctypes.byref(cell), FUTEX_WAKE, INT_MAX, None, None, 0)
        del cell

    def close(self):
        self.q.release()
        self.i.release()
        self.mm.close()


def register_membarrier():
    """protocols.md: a notifier that registers for global expedited membarrier may notify after a
    compiler fence (the waiters' membarrier reaches it); Python cannot issue a fence itself.
    Without it, a wake-up may be missed and the peer sleeps out its 10 ms slice (slow, not
    stuck)."""
    return LIBC.syscall(SYS_MEMBARRIER, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0


def value(i):
    """Message i of a typed ring (the Rust peer's `value`)."""
    return (i * 0x9E3779B97F4A7C15) & MASK64


def message(i):
    """Message i of a byte ring (the Rust peer's `message`)."""
    return f"message {i} ".encode() + bytes((i + k) % 256 for k in range(i * 7 % 200))


def deadline_passed(start, step, what):
    if time.monotonic() - start > WATCHDOG:
        fail(step, f"{what} for {WATCHDOG:.0f} s")


def start_ticks():
    stat = open("/proc/self/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22 of /proc/PID/stat


def map_ring(name, step, kind):
    """Opener protocol: wait for the file to have a size and the header to be ready, map it,
    validate the header; (words, header fields)."""
    path = f"/dev/shm/{name}"
    start = time.monotonic()
    while True:
        try:
            fd = os.open(path, os.O_RDWR)
            size = os.fstat(fd).st_size
            if size >= HEADER_SIZE:
                mm = mmap.mmap(fd, size)
                os.close(fd)
                if u32(mm, 16) == 1:
                    break
                mm.close()
            else:
                os.close(fd)
        except FileNotFoundError:
            pass
        deadline_passed(start, step, f"no ready ring {name}")
        time.sleep(0.005)
    info = parse_header(bytes(mm[:HEADER_SIZE]), size)
    if info["kind"] != kind:
        fail(step, f"kind {info['kind']}, expected {kind}")
    return Words(mm), info


# ---------------------------------------------------------------- 4. spsc: create and send

SPSC_TAIL, SPSC_HEAD, DATA_SEQ, DATA_WAITING, SPACE_SEQ, SPACE_WAITING = 0, 128, 256, 260, 384, 388
SENDER_REC, RECEIVER_REC = 512, 640  # owner u64, state u32 at +8, pid_ns u64 at +16
SPSC_SLOTS = 768


def create_segment(name, kind, capacity, type_name, size, align, area_size):
    """Creator protocol (protocols.md) for a primitive payload; returns the mapped words."""
    path = f"/dev/shm/{name}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.fchmod(fd, 0o600)
    total = HEADER_SIZE + area_size
    os.posix_fallocate(fd, 0, total)
    mm = mmap.mmap(fd, total)
    os.close(fd)
    description = f"{type_name} (size {size}, align {align})".encode()
    h = bytearray(HEADER_SIZE)
    h[0:8] = b"SHMRING\0"
    struct.pack_into("<IIIIII", h, 8, 1, 0x01020304, 0, kind, HEADER_SIZE, 0)
    struct.pack_into("<QQQQ", h, 32, total, HEADER_SIZE, area_size, capacity)
    struct.pack_into("<IIQII", h, 64, size, align, primitive_fingerprint(type_name, size, align),
                     len(description), os.getpid())
    struct.pack_into("<QQQ", h, 88, start_ticks(), os.stat("/proc/self/ns/pid").st_ino,
                     time.time_ns())
    h[256:256 + len(description)] = description
    struct.pack_into("<Q", h, 112, checksum(h))
    words = Words(mm)
    # The owner's start time and namespace, then owner_pid, then the rest; state last.
    mm[88:104] = bytes(h[88:104])
    words.put32(84, os.getpid())
    mm[0:16] = bytes(h[0:16])
    mm[20:84] = bytes(h[20:84])
    mm[104:HEADER_SIZE] = bytes(h[104:HEADER_SIZE])
    words.put32(16, 1)  # state: ready (a store after every other; x86 keeps store order)
    return words


def attach_role(area, rec, waiting, step):
    """spsc attachment: owner (free: 0), pid_ns, clear the role's waiting flag, state 1."""
    if area.get(rec) != 0:
        fail(step, "the role is taken")
    area.put(rec, (os.getpid() << 32) | (start_ticks() & 0xFFFFFFFF))
    area.put(rec + 16, os.stat("/proc/self/ns/pid").st_ino)
    area.put32(waiting, 0)
    area.put32(rec + 8, 1)


def detach_role(area, rec):
    """Dropping a handle: state 2, owner back to 0, a wake on both eventcounts."""
    area.put32(rec + 8, 2)
    area.put(rec, 0)
    area.wake(DATA_SEQ)
    area.wake(SPACE_SEQ)


class Offset:
    """Words of the area: offsets from 4096."""

    def __init__(self, words):
        self.w = words

    def get(self, off):
        return self.w.get(HEADER_SIZE + off)

    def put(self, off, v):
        self.w.put(HEADER_SIZE + off, v)

    def get32(self, off):
        return self.w.get32(HEADER_SIZE + off)

    def put32(self, off, v):
        self.w.put32(HEADER_SIZE + off, v)

    def wake(self, off):
        self.w.wake(HEADER_SIZE + off)


def spsc_send(peer, name, count=1000, capacity=64):
    step = "spsc sender"
    words = create_segment(name, 2, capacity, "u64", 8, 8, SPSC_SLOTS + capacity * 8)
    area = Offset(words)
    attach_role(area, SENDER_REC, SPACE_WAITING, step)
    receiver = subprocess.Popen([peer, "ring-recv", "spsc", name, str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mask, tail, head = capacity - 1, 0, 0
    start = time.monotonic()
    for i in range(count):
        while tail - head == capacity:
            new = area.get(SPSC_HEAD)
            if not head <= new <= tail:
                fail(step, f"head {new} outside {head}..{tail}")
            head = new
            if tail - head == capacity:
                if receiver.poll() is not None:
                    fail(step, f"the Rust receiver ended: {receiver.communicate()}")
                deadline_passed(start, step, "the ring stayed full")
                time.sleep(0.0002)
        area.put(SPSC_SLOTS + (tail & mask) * 8, value(i))
        tail += 1
        area.put(SPSC_TAIL, tail)  # publish (a store after the slot's)
        if area.get32(DATA_WAITING) != 0:
            area.wake(DATA_SEQ)
    detach_role(area, SENDER_REC)
    try:
        out, err = receiver.communicate(timeout=WATCHDOG)
    except subprocess.TimeoutExpired:
        receiver.kill()
        fail(step, "the Rust receiver did not finish")
    if receiver.returncode != 0:
        fail(step, f"the Rust receiver refused: {err.strip()}")
    words.close()
    return out.strip()


def spsc_wrong_type(peer, name):
    """A ring this client labels i32: the Rust opener for u64 must refuse, naming both."""
    step = "layout guard"
    words = create_segment(name, 2, 64, "i32", 4, 4, SPSC_SLOTS + 64 * 4)
    words.close()
    r = subprocess.run([peer, "ring-recv", "spsc", name, "1"], capture_output=True, text=True,
                       timeout=WATCHDOG)
    if r.returncode == 0 or "i32" not in r.stderr or "u64" not in r.stderr:
        fail(step, f"a u64 receiver opened an i32 ring: exit {r.returncode}, {r.stderr!r}")


# ---------------------------------------------------------------- 5. mpmc: the only receiver

MPMC_TAIL, MPMC_HEAD = 0, 128
MPMC_SPACE_SEQ, MPMC_SPACE_WAITING = 384, 392
TOMBSTONE = 1 << 63


def mpmc_receive(peer, name, count=1000, capacity=64):
    step = "mpmc receiver"
    sender = subprocess.Popen([peer, "ring-send", "mpmc", name, str(count), str(capacity)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    words, info = map_ring(name, step, 3)
    if info["fingerprint"] != primitive_fingerprint("u64", 8, 8):
        fail(step, "the payload fingerprint is not u64's")
    area = Offset(words)
    cap = info["capacity"]
    a = max(8, info["slot_align"])
    stride = (a + info["slot_size"] + a - 1) // a * a
    slots = (9216 + a - 1) // a * a
    if slots + cap * stride != info["area_size"]:
        fail(step, f"area_size {info['area_size']} != {slots} + {cap} x {stride}")
    rec = join_table(area, 2, step)
    head = area.get(MPMC_HEAD)
    start = time.monotonic()
    got = 0
    while got < count:
        slot = head & (cap - 1)
        at = slots + slot * stride
        stamp = (area.get(at) + slot) & MASK64  # stored minus the slot index
        if stamp & ~TOMBSTONE == head + 1:
            area.put(rec + 64, head)  # the lane, before the claim
            area.put(MPMC_HEAD, head + 1)  # the claim (the only receiver: no CAS needed)
            if stamp & TOMBSTONE == 0:
                v = area.get(at + a)
                if v != value(got):
                    fail(step, f"message {got}: {v:#x}, expected {value(got):#x}")
                got += 1
            area.put(at, (head + cap - slot) & MASK64)  # released: p + capacity
            area.put(rec + 64, IDLE)
            head += 1
            if area.get(MPMC_SPACE_WAITING) != 0:
                area.wake(MPMC_SPACE_SEQ)
        elif stamp in (head, (head - cap + 1) & MASK64):
            if sender.poll() not in (None, 0):
                fail(step, f"the Rust sender failed: {sender.communicate()}")
            deadline_passed(start, step, f"message {got} never came")
            time.sleep(0.0002)
        else:
            fail(step, f"stamp {stamp:#x} at position {head}")
    leave_table(area, rec)
    out, err = sender.communicate(timeout=WATCHDOG)
    if sender.returncode != 0:
        fail(step, f"the Rust sender failed: {err.strip()}")
    words.close()
    return got


# ---------------------------------------------------------------- 6. framed: the receiver

FRAMED_DATA, FRAMED_CONSUMED = 768, 704


def framed_receive(peer, name, count=300, capacity=4096):
    step = "framed receiver"
    sender = subprocess.Popen([peer, "ring-send", "framed", name, str(count), str(capacity)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    words, info = map_ring(name, step, 4)
    area = Offset(words)
    cap = info["capacity"]
    mask = cap - 1
    max_message = min(cap // 2 - 8, 2**31 - 8)
    attach_role(area, RECEIVER_REC, DATA_WAITING, step)
    head = published = area.get(SPSC_HEAD)
    if area.get(FRAMED_CONSUMED) not in (0, head):
        fail(step, "a predecessor left taken messages (not expected in this test)")

    def hand_back():
        nonlocal published
        pos = published
        while pos < head:  # zero [published, head), across the wrap
            off = pos & mask
            n = min(head - pos, cap - off)
            words.mm[HEADER_SIZE + FRAMED_DATA + off:HEADER_SIZE + FRAMED_DATA + off + n] = bytes(n)
            pos += n
        area.put(SPSC_HEAD, head)
        published = head
        if area.get32(SPACE_WAITING) != 0:
            area.wake(SPACE_SEQ)

    got, paddings = 0, 0
    start = time.monotonic()
    while got < count:
        off = head & mask
        word = area.get(FRAMED_DATA + off)
        if word == 0:
            hand_back()  # found empty: hand back what was taken
            if sender.poll() not in (None, 0):
                fail(step, f"the Rust sender failed: {sender.communicate()}")
            deadline_passed(start, step, f"message {got} never came")
            time.sleep(0.0002)
            continue
        length, kind = word & 0xFFFFFFFF, word >> 32
        if length < 8 or off + length > cap:
            fail(step, f"record length {length} at {head}")
        if kind == PADDING:
            if off + length != cap:
                fail(step, f"padding at {head} does not run to the end")
            area.put(FRAMED_DATA + off, 0)
            head += length
            paddings += 1
            continue
        if length - 8 > max_message:
            fail(step, f"payload {length - 8} over the maximum {max_message}")
        begin = HEADER_SIZE + FRAMED_DATA + off + 8
        payload = bytes(words.mm[begin:begin + length - 8])
        if payload != message(got):
            fail(step, f"message {got} differs ({len(payload)} bytes)")
        if kind != 0:
            fail(step, f"message {got} has type {kind}")
        got += 1
        area.put(FRAMED_DATA + off, 0)
        head += (length + 7) // 8 * 8
        area.put(FRAMED_CONSUMED, head)
        if head - published >= cap // 4:
            hand_back()
    hand_back()
    detach_role(area, RECEIVER_REC)
    out, err = sender.communicate(timeout=WATCHDOG)
    if sender.returncode != 0:
        fail(step, f"the Rust sender failed: {err.strip()}")
    words.close()
    if paddings == 0:
        fail(step, "no padding record came (the test should wrap the ring)")
    return got, paddings


# ---------------------------------------------------------------- 7. POSIX message queue: a sender


class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


def mq_send_all(peer, name, count=200):
    step = "mq sender"
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    rt.mq_open.restype = ctypes.c_int
    rt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
    rt.mq_send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint]
    receiver = subprocess.Popen([peer, "recv", f"mq:/{name}", str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = receiver.stdout.readline()
    if not line.startswith("READY"):
        fail(step, f"the Rust receiver said {line!r}: {receiver.communicate()}")
    q = rt.mq_open(f"/{name}".encode(), os.O_WRONLY)
    if q < 0:
        fail(step, f"mq_open: {os.strerror(ctypes.get_errno())}")
    attr = MqAttr()
    rt.mq_getattr(q, ctypes.byref(attr))
    largest = attr.mq_msgsize - 1
    # The receiver's lock is held (it lives), and its hello is in the lock file.
    lock = f"/dev/shm/shmring-mq-{name}.receiver"
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fail(step, "nobody holds the receiver's lock")
    except BlockingIOError:
        pass
    os.close(fd)
    with open(lock, "rb") as f:
        hello_bytes = f.read()
    if hello_bytes[:8] != b"SHMRIPC\0":
        fail(step, f"the lock file holds {hello_bytes[:26]!r}, not a hello")
    version, flags, maximum, fingerprint, n = struct.unpack_from("<HHIQH", hello_bytes, 8)
    if (version, flags, fingerprint, n) != (1, 0, 0, 0) or maximum != largest:
        fail(step, f"receiver hello: version {version} flags {flags} max {maximum} "
                   f"(queue takes {largest}) fingerprint {fingerprint:#x}")
    senders = os.open(f"/dev/shm/shmring-mq-{name}.senders", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(senders, fcntl.LOCK_SH)

    def put(data):
        if rt.mq_send(q, data, len(data), 0) != 0:
            fail(step, f"mq_send: {os.strerror(ctypes.get_errno())}")

    put(b"\0" + hello(0))
    for i in range(count):
        put(b"\1" + message(i))
    rt.mq_close(q)
    try:
        out, err = receiver.communicate(timeout=WATCHDOG)
    except subprocess.TimeoutExpired:
        receiver.kill()
        fail(step, "the Rust receiver did not finish")
    os.close(senders)
    if receiver.returncode != 0:
        fail(step, f"the Rust receiver refused: {err.strip()}")
    return count


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    shmring, echo, peer = sys.argv[1:4]
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
    # 3. the stream codec, over a Unix socket and TCP
    echoed = talk_to_echo(echo, "uds:" + os.path.join(tempfile.mkdtemp(), "echo.sock"))
    talk_to_echo(echo, "tcp:127.0.0.1:0")
    # 4-7. every ring kind and the message queue, against the Rust peer
    registered = register_membarrier()
    names = [f"{name}-{k}" for k in ("spsc", "i32", "mpmc", "framed")]
    try:
        spsc = spsc_send(peer, names[0])
        spsc_wrong_type(peer, names[1])
        mpmc = mpmc_receive(peer, names[2])
        framed, paddings = framed_receive(peer, names[3])
    finally:
        subprocess.run([shmring, "rm", *names], capture_output=True)
    queued = mq_send_all(peer, name)
    print(f"conformance: header ok (kind {info['kind']}, checksum {info['checksum']:#018x}, "
          f"u8 fingerprint); framed-mpsc: 500 messages received as the ring's receiver, "
          f"500 left for shmring recv; stream codec over uds: and tcp:: hello and {echoed} "
          f"frames echoed each; spsc ring created here: {spsc!r}; an i32 label refused; "
          f"mpmc: {mpmc} values taken from a Rust sender; framed: {framed} messages, "
          f"{paddings} paddings; mq: {queued} messages sent to a Rust receiver "
          f"(membarrier {'registered' if registered else 'unavailable'})")


if __name__ == "__main__":
    main()
