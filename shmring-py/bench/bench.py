"""Python throughput of 8-byte records between two processes, in one run, paired:

* shmring `recv_many` (a typed ring of a one-field dtype; the producer `send_many`s arrays),
* shmring single `recv`,
* multiprocessing.Queue (`put`/`get` of ints, the standard library's answer),
* multiprocessing.shared_memory with a hand-written numpy SPSC ring (batches in, batches out).

Each row runs SECONDS in its own pair of processes; the rows alternate for REPS rounds and the
medians are reported. `python bench.py [SECONDS] [REPS]`.
"""

import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid

import numpy as np

import shmring

SEQ = np.dtype([("seq", "<u8")])
BATCH = 65536


def _ring_producer(name, stop):
    tx = shmring.Sender.open(name, SEQ)
    base = np.zeros(BATCH, dtype=SEQ)
    start = 0
    try:
        while not stop.is_set():
            base["seq"] = np.arange(start, start + BATCH, dtype=np.uint64)
            tx.send_many(base, timeout=1.0)
            start += BATCH
    except (shmring.DisconnectedError, TimeoutError):
        pass


def shmring_rate(seconds, many):
    name = f"shmring-py-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    rx = shmring.Receiver.create(name, 1 << 16, SEQ, "Seq")
    stop = mp.Event()
    p = mp.Process(target=_ring_producer, args=(name, stop))
    p.start()
    expected = 0
    count = 0
    rx.recv_many(1, timeout=10)  # the producer is there
    expected = 1
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if many:
            batch = rx.recv_many(BATCH, timeout=10)
            seq = batch["seq"]
            if seq[0] != expected or seq[-1] != expected + len(seq) - 1:
                raise AssertionError("records out of order")
            expected += len(seq)
            count += len(seq)
        else:
            for _ in range(1000):
                if rx.recv(timeout=10)["seq"] != expected:
                    raise AssertionError("records out of order")
                expected += 1
            count += 1000
    took = time.perf_counter() - t0
    stop.set()
    rx.close()
    p.join(timeout=10)
    os.unlink(f"/dev/shm/{name}")
    return count / took


def _queue_producer(q, stop):
    i = 0
    while not stop.is_set():
        q.put(i)
        i += 1


def queue_rate(seconds):
    q = mp.Queue(maxsize=1 << 16)
    stop = mp.Event()
    p = mp.Process(target=_queue_producer, args=(q, stop))
    p.start()
    expected = q.get(timeout=10) + 1
    count = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            if q.get(timeout=10) != expected:
                raise AssertionError("out of order")
            expected += 1
        count += 1000
    took = time.perf_counter() - t0
    stop.set()
    while p.is_alive():
        try:
            q.get(timeout=0.1)
        except Exception:
            pass
    p.join(timeout=10)
    return count / took


# The hand-written ring: a shared block of [head, tail, pad..., slots], numpy views over it.
SLOTS = 1 << 16


def _views(shm):
    ctrl = np.ndarray((16,), dtype=np.uint64, buffer=shm.buf)
    slots = np.ndarray((SLOTS,), dtype=np.uint64, buffer=shm.buf, offset=128)
    return ctrl, slots


def _shm_producer(shm_name, stop):
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=shm_name)
    ctrl, slots = _views(shm)
    tail = 0
    while not stop.is_set():
        head = int(ctrl[0])
        free = SLOTS - (tail - head)
        if free == 0:
            continue
        n = min(free, BATCH, SLOTS - tail % SLOTS)
        slots[tail % SLOTS : tail % SLOTS + n] = np.arange(tail, tail + n, dtype=np.uint64)
        tail += n
        ctrl[8] = tail  # its own cache line
    del ctrl, slots
    shm.close()


def shm_ring_rate(seconds):
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=128 + 8 * SLOTS)
    ctrl, slots = _views(shm)
    ctrl[:] = 0
    stop = mp.Event()
    p = mp.Process(target=_shm_producer, args=(shm.name, stop))
    p.start()
    head = 0
    count = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        tail = int(ctrl[8])
        if tail == head:
            continue
        n = min(tail - head, SLOTS - head % SLOTS)
        got = slots[head % SLOTS : head % SLOTS + n].copy()
        if got[0] != head or got[-1] != head + n - 1:
            raise AssertionError("out of order")
        head += n
        ctrl[0] = head
        count += n
    took = time.perf_counter() - t0
    stop.set()
    p.join(timeout=10)
    del ctrl, slots
    shm.close()
    shm.unlink()
    return count / took


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = {
        "shmring recv_many (8 B records)": lambda: shmring_rate(seconds, True),
        "multiprocessing.shared_memory, hand-written numpy ring (batches)": lambda: shm_ring_rate(seconds),
        "shmring recv (one record a call)": lambda: shmring_rate(seconds, False),
        "multiprocessing.Queue get (one int a call)": lambda: queue_rate(seconds),
    }
    results = {k: [] for k in rows}
    for _ in range(reps):
        for k, f in rows.items():
            results[k].append(f())
    for k, v in results.items():
        print(f"{k}: median {statistics.median(v) / 1e6:.2f} M records/s "
              f"(runs {', '.join(f'{x / 1e6:.2f}' for x in v)})")


if __name__ == "__main__":
    main()
