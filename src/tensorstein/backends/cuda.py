"""``torch.backends.cuda``: CUDA is never built into tensorstein; the flags exist so programs that set them run.

>>> is_built(), matmul.allow_tf32
(False, False)
"""
from __future__ import annotations

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    return False


def is_flash_attention_available() -> bool:
    return False


def _sdp_switch(name):
    def enabled() -> bool:
        return _sdp[name]

    def enable(flag: bool) -> None:
        _sdp[name] = bool(flag)

    return enabled, enable


flash_sdp_enabled, enable_flash_sdp = _sdp_switch("flash")
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _sdp_switch("mem_efficient")
math_sdp_enabled, enable_math_sdp = _sdp_switch("math")
cudnn_sdp_enabled, enable_cudnn_sdp = _sdp_switch("cudnn")
