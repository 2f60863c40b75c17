"""Type stubs of the shmring extension module."""

from types import TracebackType
from typing import Iterator, Optional, Tuple, Type

import numpy as np
import numpy.typing as npt

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

class ByteReceiver:
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
    def close(self) -> None: ...
    def __enter__(self) -> "ByteReceiver": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...

class ByteSender:
    """A sending end of a byte ring."""

    @staticmethod
    def create(name: str, capacity: int) -> "ByteSender": ...
    @staticmethod
    def open(name: str) -> "ByteSender": ...
    def send(self, data: bytes, timeout: Optional[float] = None) -> None: ...
    def try_send(self, data: bytes) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> "ByteSender": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

class Receiver:
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
    def close(self) -> None: ...
    def __enter__(self) -> "Receiver": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...
    def __iter__(self) -> Iterator[np.void]: ...
    def __next__(self) -> np.void: ...

class Sender:
    """The sending end of a typed ring."""

    @staticmethod
    def create(name: str, capacity: int, dtype: npt.DTypeLike, type_name: str) -> "Sender": ...
    @staticmethod
    def open(name: str, dtype: npt.DTypeLike, type_name: Optional[str] = None) -> "Sender": ...
    @property
    def dtype(self) -> np.dtype: ...
    def send(self, record: object, timeout: Optional[float] = None) -> None: ...
    def send_many(self, array: npt.ArrayLike, timeout: Optional[float] = None) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Sender": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

def describe(dtype: npt.DTypeLike, type_name: str) -> Tuple[str, int]:
    """The layout description and fingerprint a ring of `dtype` records has."""
