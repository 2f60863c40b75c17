"""The shmring Python package across processes: with Rust peers (the `tick_peer` example of the
shmring crate) and Python peers (multiprocessing), including a killed peer and the layout
refusal. Every wait is bounded, so a bug fails instead of hanging."""

import multiprocessing as mp
import os
import signal
import subprocess
import threading
import time
import uuid

import numpy as np
import pytest

import shmring

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TICK_PEER = os.environ.get(
    "SHMRING_TICK_PEER", os.path.join(ROOT, "target", "release", "examples", "tick_peer")
)

TICK = np.dtype([("ts_ns", "<u8"), ("price", "<f8"), ("qty", "<i4"), ("side", "<u4")])
SWAPPED = np.dtype([("ts_ns", "<u8"), ("price", "<f8"), ("side", "<u4"), ("qty", "<i4")])


def ticks(start, n):
    """Ticks start..start+n as the Rust peer makes them."""
    i = np.arange(start, start + n, dtype=np.uint64)
    out = np.zeros(n, dtype=TICK)
    out["ts_ns"] = i
    out["price"] = i.astype(np.float64) * 0.5
    out["qty"] = -(i.astype(np.int64)).astype(np.int32)
    out["side"] = (i % 2).astype(np.uint32)
    return out


@pytest.fixture
def name():
    ring = f"shmring-py-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield ring
    try:
        os.unlink(f"/dev/shm/{ring}")
    except FileNotFoundError:
        pass


def open_when_there(opener, timeout=10.0):
    """Opens a ring another process is creating."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return opener()
        except shmring.NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_a_dtype_describes_itself_as_the_rust_struct():
    out = subprocess.run([TICK_PEER, "describe"], capture_output=True, text=True, check=True)
    description, fingerprint = out.stdout.splitlines()
    assert shmring.describe(TICK, "Tick") == (description, int(fingerprint))
    # Alignment is a C struct's (its largest field), whatever numpy's align flag.
    assert shmring.describe(np.dtype(TICK.descr, align=True), "Tick")[1] == int(fingerprint)


def test_python_receives_a_rust_tick_ring(name):
    n = 20_000
    peer = subprocess.Popen([TICK_PEER, "send", name, str(n)])
    try:
        with open_when_there(lambda: shmring.Receiver.open(name, TICK)) as rx:
            got = []
            count = 0
            while count < n:
                batch = rx.recv_many(4096, timeout=10)
                got.append(batch)
                count += len(batch)
            assert np.array_equal(np.concatenate(got), ticks(0, n))
        assert peer.wait(timeout=30) == 0
    finally:
        peer.kill()


def test_python_sends_to_a_rust_receiver(name):
    n = 20_000
    with shmring.Sender.create(name, 256, TICK, "Tick") as tx:
        peer = subprocess.Popen([TICK_PEER, "recv", name, str(n)], stdout=subprocess.PIPE, text=True)
        try:
            tx.send_many(ticks(0, n - 1), timeout=10)
            tx.send(tuple(ticks(n - 1, 1)[0]), timeout=10)
            out, _ = peer.communicate(timeout=30)
            assert peer.returncode == 0
            assert out == f"received {n}\n"
        finally:
            peer.kill()


def test_a_dtype_with_fields_swapped_is_refused_naming_both(name):
    peer = subprocess.Popen([TICK_PEER, "send", name, "1"])
    try:
        open_when_there(lambda: shmring.Receiver.open(name, TICK)).close()
        with pytest.raises(shmring.IncompatibleLayoutError) as err:
            shmring.Receiver.open(name, SWAPPED)
        text = str(err.value)
        assert "qty: i32 @16, side: u32 @20" in text and "side: u32 @16, qty: i32 @20" in text
        with pytest.raises(shmring.IncompatibleLayoutError):
            narrow = np.dtype([("ts_ns", "<u8"), ("price", "<f8"), ("qty", "u1"), ("pad", "u1", (3,)), ("side", "<u4")])
            shmring.Receiver.open(name, narrow)
        # The right dtype still attaches and gets the tick.
        with shmring.Receiver.open(name, TICK) as rx:
            assert rx.recv(timeout=10)["ts_ns"] == 0
    finally:
        peer.kill()
        peer.wait()


def test_timeouts_and_an_empty_ring(name):
    with shmring.ByteReceiver.create(name, 1 << 12) as rx:
        assert rx.try_recv() is None
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            rx.recv(timeout=0.05)
        assert time.monotonic() - start >= 0.04
    with pytest.raises(shmring.ShmringError, match="closed"):
        rx.recv(timeout=0.01)


def test_ctrl_c_interrupts_a_blocking_receive(name):
    with shmring.ByteReceiver.create(name, 1 << 12) as rx:
        threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            rx.recv(timeout=20)


def _send_bytes(name, n):
    with shmring.ByteSender.open(name) as tx:
        for i in range(n):
            tx.send(i.to_bytes(8, "little") * (1 + i % 20), timeout=10)


def test_python_to_python_bytes_through_multiprocessing(name):
    n = 10_000
    with shmring.ByteReceiver.create(name, 1 << 16) as rx:
        child = mp.get_context("spawn").Process(target=_send_bytes, args=(name, n))
        child.start()
        got = 0
        for msg in rx:  # ends when the sender is gone and everything was received
            assert msg == got.to_bytes(8, "little") * (1 + got % 20)
            got += 1
        child.join(timeout=30)
        assert child.exitcode == 0
        assert got == n


def _send_forever(name):
    _send_bytes(name, 1 << 62)


def test_a_killed_python_sender_leaves_the_receiver_whole(name):
    with shmring.ByteReceiver.create(name, 1 << 14) as rx:
        child = mp.get_context("spawn").Process(target=_send_forever, args=(name,))
        child.start()
        got = 0
        for _ in range(2_000):
            msg = rx.recv(timeout=10)
            assert msg == got.to_bytes(8, "little") * (1 + got % 20)
            got += 1
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=10)
        while True:
            try:
                msg = rx.recv(timeout=10)
            except shmring.DisconnectedError:
                break
            assert msg == got.to_bytes(8, "little") * (1 + got % 20)
            got += 1
        assert got >= 2_000


def test_a_typed_ring_between_python_processes(name):
    n = 5_000
    with shmring.Receiver.create(name, 64, TICK, "Tick") as rx:
        child = mp.get_context("spawn").Process(target=_send_ticks, args=(name, n))
        child.start()
        got = [rx.recv_many(1000, timeout=10) for _ in range(1)]
        count = len(got[0])
        while count < n:
            batch = rx.recv_many(1000, timeout=10)
            got.append(batch)
            count += len(batch)
        child.join(timeout=30)
        assert child.exitcode == 0
        assert np.array_equal(np.concatenate(got), ticks(0, n))


def _send_ticks(name, n):
    with shmring.Sender.open(name, TICK) as tx:
        tx.send_many(ticks(0, n), timeout=10)


def _broadcast_reader(name, ready, results, n):
    with shmring.BroadcastReceiver.open(name) as rx:
        ready.set()
        got = [rx.recv(timeout=10) for _ in range(n)]
    results.put([int.from_bytes(m[:8], "little") for m in got] == list(range(n))
                and all(len(m) == 8 + i % 50 for i, m in enumerate(got)))


def test_a_broadcast_fans_out_to_two_python_readers(name):
    n = 5_000
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    with shmring.BroadcastSender.create(name, 256) as tx:  # cells
        readers = []
        for _ in range(2):
            ready = ctx.Event()
            p = ctx.Process(target=_broadcast_reader, args=(name, ready, results, n))
            p.start()
            assert ready.wait(timeout=30)
            readers.append(p)
        assert tx.receiver_count == 2
        for i in range(n):
            tx.send(i.to_bytes(8, "little") + bytes(i % 50), timeout=10)
        assert [results.get(timeout=30), results.get(timeout=30)] == [True, True]
        for p in readers:
            p.join(timeout=10)
            assert p.exitcode == 0


def test_an_overwritten_broadcast_receiver_is_told_how_many_it_missed(name):
    with shmring.BroadcastSender.create(name, 16, overwrite=True) as tx:  # 16 cells
        with shmring.BroadcastReceiver.open(name) as rx:
            for i in range(1000):
                tx.send(i.to_bytes(8, "little"), timeout=10)
            with pytest.raises(shmring.LaggedError) as lag:
                rx.recv(timeout=10)
            missed = lag.value.args[1]
            assert missed > 0
            # Goes on with the oldest still held, in order, up to the last.
            first = int.from_bytes(rx.recv(timeout=10), "little")
            assert first == missed
            last = first
            while last < 999:
                last = int.from_bytes(rx.recv(timeout=10), "little")
            assert last == 999


def _typed_broadcast_reader(name, results, n):
    rx = open_when_there(lambda: shmring.TypedBroadcastReceiver.open(name, TICK))
    with rx:
        got, count = [], 0
        while count < n:
            batch = rx.recv_many(1024, timeout=10)
            got.append(batch)
            count += len(batch)
        with pytest.raises(shmring.DisconnectedError):
            rx.recv(timeout=10)
    results.put(np.array_equal(np.concatenate(got), ticks(0, n)))


def test_a_rust_tick_broadcast_fans_out_to_two_python_readers(name):
    n = 20_000
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    peer = subprocess.Popen([TICK_PEER, "broadcast", name, str(n), "2"])
    try:
        readers = [ctx.Process(target=_typed_broadcast_reader, args=(name, results, n))
                   for _ in range(2)]
        for p in readers:
            p.start()
        assert [results.get(timeout=60), results.get(timeout=60)] == [True, True]
        for p in readers:
            p.join(timeout=10)
            assert p.exitcode == 0
        assert peer.wait(timeout=30) == 0
    finally:
        peer.kill()


def test_a_typed_broadcast_refuses_a_swapped_dtype_and_reports_lag(name):
    with shmring.TypedBroadcastSender.create(name, 8, TICK, "Tick", overwrite=True) as tx:
        with pytest.raises(shmring.IncompatibleLayoutError) as refused:
            shmring.TypedBroadcastReceiver.open(name, SWAPPED)
        text = str(refused.value)
        assert "qty: i32 @16, side: u32 @20" in text and "side: u32 @16, qty: i32 @20" in text
        with shmring.TypedBroadcastReceiver.open(name, TICK) as rx:
            assert tx.receiver_count == 1
            tx.send_many(ticks(0, 3), timeout=10)
            assert np.array_equal(rx.recv_many(10, timeout=10), ticks(0, 3))
            # 20 more into a ring of 8: the oldest 7 are left, 13 missed.
            tx.send_many(ticks(3, 20), timeout=10)
            with pytest.raises(shmring.LaggedError) as lag:
                rx.recv(timeout=10)
            assert lag.value.args[1] == 13
            assert rx.recv(timeout=10) == ticks(16, 1)[0]
            assert np.array_equal(rx.recv_many(10, timeout=10), ticks(17, 6))
            # recv_many reports a lag too, then goes on from the oldest held.
            tx.send_many(ticks(23, 2), timeout=10)
            assert rx.recv(timeout=10) == ticks(23, 1)[0]
            tx.send_many(ticks(25, 30), timeout=10)
            with pytest.raises(shmring.LaggedError) as lag:
                rx.recv_many(10, timeout=10)
            assert lag.value.args[1] == 48 - 24
            assert np.array_equal(rx.recv_many(10, timeout=10), ticks(48, 7))
            with pytest.raises(TimeoutError):
                rx.recv(timeout=0.01)
        # A late joiner from the oldest sees the history.
        with shmring.TypedBroadcastReceiver.open(name, TICK, from_oldest=True) as late:
            assert np.array_equal(late.recv_many(10, timeout=10), ticks(48, 7))
