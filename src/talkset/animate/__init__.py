"""Animate: a portrait plus speech (or a driving video) becomes a talking video, on a CPU, nothing downloaded.

``talkset.animate(image, audio, out, ...)`` is callable like a function (see :func:`talkset.animate.api.animate`)
while ``talkset.animate`` stays the package of motion sources and the renderer.
"""
from __future__ import annotations

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, image, audio, out, **kwargs):
        from talkset.animate.api import animate

        return animate(image, audio, out, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
