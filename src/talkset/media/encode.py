"""Encoder settings shared by everything that writes video (cut clips, animate, dub): one place to change them.

Clips are H.264 (yuv420p) + AAC in MP4, encoded so that the same input gives the same bytes on every executor.
"""
from __future__ import annotations

import av

X264_PRESET = "veryfast"
X264_CRF = 20
AUDIO_BIT_RATE = 128_000
AAC_FRAME = 1024  # samples per AAC frame; the encoder wants exactly this many

# x264's output depends on its thread count, and "auto" follows the CPUs a process may use (which
# libraries and schedulers change). A fixed count gives the same clip bytes on every executor.
X264_THREADS = 2


def x264_cpu_options() -> dict[str, str]:
    """x264 options that keep its output a function of its input on this CPU.

    With its AVX-512 code, x264 (core 165, in PyAV's wheel) wrote different bytes for the same frames
    from call to call: the same clip 8 times in one process gave 4 versions, while the AVX2 code gave one,
    whatever the threads (so the result depends on memory x264 did not write). On AVX-512 CPUs x264 is
    held to AVX2, which every such CPU has; elsewhere it picks its own code.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        return {}
    if features.get("AVX512F"):
        return {"x264-params": "asm=AVX2,BMI2,LZCNT,Cache64"}
    return {}


def x264_options(preset: str = X264_PRESET, crf: int = X264_CRF) -> dict[str, str]:
    """libx264 options: speed preset, quality, and a fixed thread count and CPU code path (same bytes)."""
    return {"preset": preset, "crf": str(crf), "threads": str(X264_THREADS), **x264_cpu_options()}


def add_h264(container, rate, size: tuple[int, int], options: dict[str, str] | None = None):
    """An H.264 yuv420p video stream of ``size`` (width, height) on ``container``."""
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.options = dict(options if options is not None else x264_options())
    return stream


def add_aac(container, rate: int, layout: str = "mono"):
    """An AAC audio stream (``rate`` must be one AAC supports: see ``aac_rate``)."""
    stream = container.add_stream("aac", rate=rate)
    stream.codec_context.layout = layout
    stream.codec_context.bit_rate = AUDIO_BIT_RATE
    return stream


def aac_rate(rate: int) -> int:
    """The source rate when AAC supports it (the usual case), else the nearest one."""
    supported = av.codec.Codec("aac", "w").audio_rates or (rate,)
    return rate if rate in supported else min(supported, key=lambda r: abs(r - rate))
