"""``talkset train``: an audio-to-motion model learned from curated clips (see ``loop`` and ``model``).

Public API: :func:`train` with a :class:`TrainConfig`, :func:`load_motion_model` → :class:`MotionModel`, whose
``motion(audio, fps=..., n_frames=None, seed=0)`` returns the MotionTrack that ``motion_from_audio`` returns.
"""
from __future__ import annotations

from talkset.train.distributed import train
from talkset.train.loop import TrainConfig, TrainError, TrainResult
from talkset.train.model import ModelError, MotionModel, load_motion_model

__all__ = ["MotionModel", "ModelError", "TrainConfig", "TrainError", "TrainResult", "load_motion_model", "train"]
