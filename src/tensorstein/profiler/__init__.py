"""tensorstein.profiler: per-op CPU timing with torch.profiler's API (re-exports only)."""
from ._profile import (  # noqa: F401
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    supported_activities,
)
