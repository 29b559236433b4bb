"""torch.distributed's API on MPI (mpi4py): process groups, collectives, point-to-point.

>>> import tensorstein.distributed as dist
>>> dist.is_initialized()
False
"""
from ._group import (  # noqa: F401
    Backend, ReduceOp, ProcessGroup, Work, GroupMember, group, is_available, is_initialized, is_mpi_available,
    init_process_group, destroy_process_group, new_group, get_rank, get_world_size, get_backend,
    get_global_rank, get_process_group_ranks, barrier, default_pg_timeout,
)
from ._collectives import (  # noqa: F401
    all_reduce, broadcast, reduce, all_gather, all_gather_into_tensor, reduce_scatter_tensor, gather, scatter,
    all_to_all_single, send, recv, isend, irecv, broadcast_object_list, all_gather_object, gather_object,
)
