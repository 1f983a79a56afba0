"""talkset: curate, benchmark and animate talking-head video on a CPU, with nothing downloaded at run time.

Python API (mirrors the CLI)::

    import talkset
    summary = talkset.curate(["raw/"], "out/", workers=2)   # talkset curate raw/ -o out/ -w 2
    talkset.filter("out/", "strict.toml")                    # talkset filter out/ -c strict.toml
    talkset.animate("face.jpg", "speech.wav", "out.mp4")      # talkset animate --image … --audio … -o …
    talkset.dub("talk.mp4", "new_speech.wav", "dubbed.mp4")  # talkset dub talk.mp4 --audio … -o …
    from talkset.report import build_report; build_report("out/")  # talkset report out/
"""
from __future__ import annotations

from talkset import animate, curate

__version__ = "0.1.0"


def filter(out_dir, config):
    """Re-judges an output folder's manifest with the thresholds of ``config`` (a TOML path or Config)."""
    from talkset.curate.run import filter_manifest

    return filter_manifest(out_dir, config)


def dub(video, audio, out, **kwargs):
    """Re-lip-syncs a talking video to new speech (:func:`talkset.animate.dub.dub`); mirrors `talkset dub`."""
    from talkset.animate.dub import dub as run_dub

    return run_dub(video, audio, out, **kwargs)


__all__ = ["animate", "curate", "dub", "filter", "__version__"]
