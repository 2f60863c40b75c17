"""Type stubs of the shmring extension module."""

from types import TracebackType
from typing import Iterator, Optional, Tuple, Type, TypeVar

import numpy as np
import numpy.typing as npt

_H = TypeVar("_H", bound="_Handle")

class _Handle:
    """What every handle has (not a runtime base class): closing, and `with` closing it."""

    def close(self) -> None:
        """Detaches (also done by `with`, and when the object is collected)."""
    def __enter__(self: _H) -> _H: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

class ShmringError(Exception):
    """Every shmring error."""

class IncompatibleLayoutError(ShmringError):
    """The ring holds another payload type; the message names both layouts."""

class NotFoundError(ShmringError):
    """No ring of that name."""

class DisconnectedError(ShmringError):
    """The other side is gone (for a receiver: and everything sent was received)."""

class CorruptedError(ShmringError):
    """A peer damaged the ring's shared state."""

class LaggedError(ShmringError):
    """A broadcast receiver missed `args[1]` messages (overwrite rings); the next call goes on."""

class BroadcastSender(_Handle):
    """The writer of a broadcast ring of byte messages."""

    @staticmethod
    def create(name: str, capacity: int, overwrite: bool = False) -> "BroadcastSender":
        """`capacity` in 64-byte cells (a message of up to 40 bytes takes one)."""
    @staticmethod
    def open(name: str) -> "BroadcastSender": ...
    def send(self, data: bytes, timeout: Optional[float] = None) -> None: ...
    @property
    def receiver_count(self) -> int: ...

class BroadcastReceiver(_Handle):
    """A receiver of a broadcast ring: sees every message from where it joined."""

    @staticmethod
    def open(name: str, from_oldest: bool = False) -> "BroadcastReceiver": ...
    def recv(self, timeout: Optional[float] = None) -> bytes: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...

class ByteReceiver(_Handle):
    """The receiving end of a byte ring: messages of any length from any number of senders."""

    @staticmethod
    def create(name: str, capacity: int) -> "ByteReceiver": ...
    @staticmethod
    def open(name: str) -> "ByteReceiver": ...
    def recv(self, timeout: Optional[float] = None) -> bytes:
        """The next message, waiting for one; TimeoutError after `timeout` seconds,
        DisconnectedError once every sender is gone and everything was received."""
    def try_recv(self) -> Optional[bytes]: ...
    @property
    def max_message(self) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...

class ByteSender(_Handle):
    """A sending end of a byte ring."""

    @staticmethod
    def create(name: str, capacity: int) -> "ByteSender": ...
    @staticmethod
    def open(name: str) -> "ByteSender": ...
    def send(self, data: bytes, timeout: Optional[float] = None) -> None: ...
    def try_send(self, data: bytes) -> bool: ...

class Receiver(_Handle):
    """The receiving end of a typed ring: records of a numpy structured dtype."""

    @staticmethod
    def create(name: str, capacity: int, dtype: npt.DTypeLike, type_name: str) -> "Receiver": ...
    @staticmethod
    def open(name: str, dtype: npt.DTypeLike, type_name: Optional[str] = None) -> "Receiver": ...
    @property
    def dtype(self) -> np.dtype: ...
    def recv(self, timeout: Optional[float] = None) -> np.void: ...
    def recv_many(self, n: int, timeout: Optional[float] = None) -> npt.NDArray[np.void]:
        """Up to `n` records in one call: waits for the first, then takes what is there."""
    def __iter__(self) -> Iterator[np.void]: ...
    def __next__(self) -> np.void: ...

class Sender(_Handle):
    """The sending end of a typed ring."""

    @staticmethod
    def create(name: str, capacity: int, dtype: npt.DTypeLike, type_name: str) -> "Sender": ...
    @staticmethod
    def open(name: str, dtype: npt.DTypeLike, type_name: Optional[str] = None) -> "Sender": ...
    @property
    def dtype(self) -> np.dtype: ...
    def send(self, record: object, timeout: Optional[float] = None) -> None: ...
    def send_many(self, array: npt.ArrayLike, timeout: Optional[float] = None) -> None: ...

class TypedBroadcastSender(_Handle):
    """The writer of a typed broadcast ring: every receiver sees every record of its dtype."""

    @staticmethod
    def create(
        name: str, capacity: int, dtype: npt.DTypeLike, type_name: str, overwrite: bool = False
    ) -> "TypedBroadcastSender":
        """Lossless (the default) waits for the slowest receiver; `overwrite=True` never waits."""
    @staticmethod
    def open(
        name: str, dtype: npt.DTypeLike, type_name: Optional[str] = None
    ) -> "TypedBroadcastSender": ...
    @property
    def dtype(self) -> np.dtype: ...
    @property
    def receiver_count(self) -> int: ...
    def send(self, record: object, timeout: Optional[float] = None) -> None: ...
    def send_many(self, array: npt.ArrayLike, timeout: Optional[float] = None) -> None: ...

class TypedBroadcastReceiver(_Handle):
    """A receiver of a typed broadcast ring: sees every record from where it joined."""

    @staticmethod
    def open(
        name: str,
        dtype: npt.DTypeLike,
        type_name: Optional[str] = None,
        from_oldest: bool = False,
    ) -> "TypedBroadcastReceiver": ...
    @property
    def dtype(self) -> np.dtype: ...
    def recv(self, timeout: Optional[float] = None) -> np.void:
        """`LaggedError` (overwrite rings) when records were missed; the next call goes on."""
    def recv_many(self, n: int, timeout: Optional[float] = None) -> npt.NDArray[np.void]: ...
    def __iter__(self) -> Iterator[np.void]: ...
    def __next__(self) -> np.void: ...

def describe(dtype: npt.DTypeLike, type_name: str) -> Tuple[str, int]:
    """The layout description and fingerprint a ring of `dtype` records has."""
