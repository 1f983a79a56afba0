"""MotionTrack: the contract between motion sources and the renderer."""
from __future__ import annotations

import numpy as np
import pytest

from talkset.animate.track import MotionTrack


def test_rest_fields_are_separate_arrays():
    track = MotionTrack.rest(5)
    track.jaw[0] = 1.0
    assert track.lip_width[0] == 0 and track.lip_round[0] == 0 and track.brow[0] == 0
    assert np.all(track.scale == 1) and track.head.shape == (5, 3)


def test_slice_and_length_check():
    track = MotionTrack.rest(10, fps=30)
    part = track.slice(2, 5)
    assert len(part) == 3 and part.fps == 30 and part.blink.shape == (3, 2)
    with pytest.raises(ValueError, match="lip_width has 4 frames, jaw has 5"):
        MotionTrack(25, np.zeros(5), np.zeros(4), np.zeros(5), np.zeros((5, 2)), np.zeros(5), np.zeros((5, 3)),
                    np.zeros((5, 2)), np.ones(5), np.zeros((5, 2)))


def test_talkset_animate_is_callable_like_the_cli(monkeypatch):
    import talkset
    import talkset.animate.api as api

    calls = []
    monkeypatch.setattr(api, "animate", lambda *a, **k: calls.append((a, k)) or "done")
    assert talkset.animate("face.jpg", "speech.wav", "out.mp4", seed=3) == "done"
    assert calls == [(("face.jpg", "speech.wav", "out.mp4"), {"seed": 3})]
