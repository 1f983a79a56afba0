"""Curate: raw videos → clips of one person speaking to camera, plus one manifest.

``talkset.curate(inputs, out_dir, ...)`` is callable like a function (see :func:`talkset.curate.run.curate`)
while ``talkset.curate`` stays the package of the curate stages. A plain function bound over the package name
in ``talkset/__init__`` was tried: ``import talkset.curate.run as m`` then fails (the import resolves ``run`` as an
attribute of the function), so the package keeps a callable module class.
"""
from __future__ import annotations

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, inputs, out_dir, **kwargs):
        from talkset.curate.run import curate

        return curate(inputs, out_dir, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
