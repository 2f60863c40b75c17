"""shmring for Python: messages between processes on one Linux machine through shared memory.

Byte rings (`ByteSender` / `ByteReceiver`: any number of senders, one receiver, messages of any
length), broadcast rings (`BroadcastSender` / `BroadcastReceiver`: one writer, every receiver
sees every message, lossless or overwrite with `LaggedError`), typed rings (`Sender` /
`Receiver`: one sender, one receiver, records of a numpy structured dtype) and typed broadcast
rings (`TypedBroadcastSender` / `TypedBroadcastReceiver`: records of a dtype to every receiver) — the same rings Rust, C and the `shmring` command use. A typed ring's dtype
is checked field by field against the ring's layout, the one `#[derive(ShmType)]` gives the Rust
struct: a dtype with two fields swapped is refused with `IncompatibleLayoutError` naming both
layouts. Blocking calls release the GIL and honour Ctrl-C. docs/bindings.md has the walkthrough.
"""

from ._shmring import (
    BroadcastReceiver,
    BroadcastSender,
    ByteReceiver,
    ByteSender,
    CorruptedError,
    DisconnectedError,
    IncompatibleLayoutError,
    LaggedError,
    NotFoundError,
    Receiver,
    Sender,
    ShmringError,
    TypedBroadcastReceiver,
    TypedBroadcastSender,
    describe,
)

__all__ = [
    "BroadcastReceiver",
    "BroadcastSender",
    "ByteReceiver",
    "ByteSender",
    "CorruptedError",
    "DisconnectedError",
    "IncompatibleLayoutError",
    "LaggedError",
    "NotFoundError",
    "Receiver",
    "Sender",
    "ShmringError",
    "TypedBroadcastReceiver",
    "TypedBroadcastSender",
    "describe",
]
