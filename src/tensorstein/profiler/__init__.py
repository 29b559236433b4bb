"""tensorstein.profiler: per-op CPU timing with torch.profiler's API (re-exports only)."""
from ._profile import ProfilerActivity, profile, record_function, schedule, supported_activities  # noqa: F401
