"""talkset: curate, benchmark and animate talking-head video on a CPU, with nothing downloaded at run time.

Python API (mirrors the CLI)::

    import talkset
    summary = talkset.curate(["raw/"], "out/", workers=2)   # talkset curate raw/ -o out/ -w 2
    talkset.filter("out/", "strict.toml")                    # talkset filter out/ -c strict.toml
    talkset.animate("face.jpg", "speech.wav", "out.mp4")      # talkset animate --image … --audio … -o …
    from talkset.report import build_report; build_report("out/")  # talkset report out/
"""
from __future__ import annotations

from talkset import animate, curate

__version__ = "0.1.0"


def filter(out_dir, config):
    """Re-judges an output folder's manifest with the thresholds of ``config`` (a TOML path or Config)."""
    from talkset.curate.run import filter_manifest

    return filter_manifest(out_dir, config)


__all__ = ["animate", "curate", "filter", "__version__"]
