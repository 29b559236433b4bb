"""DistributedDataParallel: one model replica per rank, gradients averaged during backward.

>>> import tensorstein as torch, tensorstein.distributed as dist
>>> from tensorstein.nn.parallel import DistributedDataParallel as DDP
>>> dist.init_process_group("mpi")                  # doctest: +SKIP
>>> model = DDP(torch.nn.Linear(4, 2))              # doctest: +SKIP
>>> model(torch.randn(8, 4)).sum().backward()       # doctest: +SKIP
"""
from __future__ import annotations

from contextlib import contextmanager

from ..._autograd.grad_mode import is_grad_enabled
from ...distributed._group import _resolve
from ..modules.module import Module
from ._reducer import Reducer

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wraps ``module``; rank 0's parameters and buffers are copied to every rank at construction."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, init_sync=True):
        super().__init__()
        group = _resolve(process_group)
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.__dict__.update(process_group=group, broadcast_buffers=broadcast_buffers, dim=dim,
                             find_unused_parameters=find_unused_parameters, require_backward_grad_sync=True,
                             bucket_cap_mb=25 if bucket_cap_mb is None else bucket_cap_mb)
        if init_sync:
            self._sync(list(module.parameters()) + list(module.buffers()))
        self.__dict__["reducer"] = Reducer(params, group, self.bucket_cap_mb, find_unused_parameters)

    def _sync(self, tensors) -> None:
        """Copy rank 0's values of ``tensors`` to every rank (one broadcast per dtype, not per tensor)."""
        import numpy as np

        from ...distributed._buffers import mpi_array

        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = np.concatenate([mpi_array(t._data).reshape(-1) for t in group])  # (numel,)
            self.process_group.comm.Bcast(flat, 0)
            off = 0
            for t in group:
                n = t._data.size
                t._data[...] = flat[off:off + n].view(t._data.dtype).reshape(t._data.shape)
                t._version[0] += 1
                off += n

    def forward(self, *inputs, **kwargs):
        sync = self.require_backward_grad_sync and is_grad_enabled()
        self.reducer.prepare(sync)
        if self.broadcast_buffers and self.process_group.size() > 1:
            buffers = list(self.module.buffers())
            if buffers:
                self._sync(buffers)
        out = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self.reducer.mark_unused(out)
        return out

    @contextmanager
    def no_sync(self):
        """Skip the gradient all-reduce for backward passes of forwards run inside; ``.grad`` accumulates
        locally and is averaged with the first synchronised backward after the context."""
        old = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = old
