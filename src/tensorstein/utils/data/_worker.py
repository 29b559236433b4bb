"""What a DataLoader worker process runs: seeding as torch's, fetching batches, reporting errors.

>>> get_worker_info() is None   # in the main process
True
"""
from __future__ import annotations

import random
import sys
import traceback

import numpy as np


class WorkerInfo:
    """``id``, ``num_workers``, ``seed`` and ``dataset`` (this worker's copy) inside a worker process."""

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_keys", tuple(kwargs))

    def __setattr__(self, key, val):
        raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self._keys)
        return f"{self.__class__.__name__}({items})"


_worker_info = None


def get_worker_info():
    """The current worker's ``WorkerInfo``, or None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, re-raised in the main process with the worker's traceback."""

    def __init__(self, where: str):
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # noqa: BLE001 - a type that cannot take one message: RuntimeError, as torch
            raise RuntimeError(msg) from None
        raise exception


class KeyErrorMessage(str):
    def __repr__(self):
        return self


class IterableStop:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


RESUME = "__resume__"


class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python, tensorstein and NumPy's legacy generator exactly as a torch worker does."""
    from ..._ops.random import manual_seed
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]).generate_state(4))
    return seed


def worker_loop(iterable, dataset, index_queue, data_queue, auto_collation, collate_fn, drop_last, base_seed,
                init_fn, worker_id, num_workers):
    """Serve ``(idx, batch_indices)`` tasks from ``index_queue`` until a None arrives."""
    global _worker_info
    try:
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        make = IterableFetcher if iterable else MapFetcher
        error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make(dataset, auto_collation, collate_fn, drop_last)
        except Exception:  # noqa: BLE001 - every error goes back to the main process
            error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        ended = False
        while True:
            task = index_queue.get()
            if task is None:
                break
            if task == RESUME:
                data_queue.put((RESUME, None))
                ended = False
                if error is None:
                    fetcher = make(dataset, auto_collation, collate_fn, drop_last)
                continue
            idx, index = task
            if error is not None:
                data, error = error, None
            elif ended:
                data = IterableStop(worker_id)
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        raise
                    data, ended = IterableStop(worker_id), True
                except Exception:  # noqa: BLE001 - every error goes back to the main process
                    data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data
    except KeyboardInterrupt:
        pass
    finally:
        data_queue.cancel_join_thread()
        data_queue.close()
