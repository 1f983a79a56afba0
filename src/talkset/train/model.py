"""The audio-to-motion network, its saved form, and :class:`MotionModel`, which turns audio into a MotionTrack.

The network is a small non-causal temporal convolution net (dilated residual 1-D convolutions over frames) on
``MODEL_FPS`` frames: per frame it predicts the canonical displacements of lips, jaw line, lids and brows from the
rest face and the head pose. No batch statistics (no batch norm): a frame's output depends only on the audio
within ``receptive_radius`` frames, which is what makes chunked inference exact and data-parallel training equal
to single-worker training.

Saved file (``torch.save``, loads with ``torch.load(weights_only=True)``): ``{"format": FORMAT, "config": {...
plain numbers and strings ...}, "state_dict": {...}, "template": (478, 3) tensor, "history": [...]}``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from talkset.animate.track import MotionTrack
from talkset.audio.io import Audio
from talkset.errors import TalksetError
from talkset.train import canonical
from talkset.train.data import MODEL_FPS, OUTPUT_DIM
from talkset.train.features import FEATURE_DIM, audio_features, to_16k

FORMAT = "talkset-motion-1"
HEAD_DIMS = 3
TARGET_SCALE = 10.0  # displacements are learned in tenths of the inter-ocular distance
HEAD_SCALE = 0.1  # head pose in tens of degrees


class ModelError(TalksetError):
    """A model file that cannot be used; one line naming the file and why."""


@dataclass
class NetConfig:
    """The network's shape (saved with the weights)."""

    input_dim: int = FEATURE_DIM
    output_dim: int = OUTPUT_DIM
    channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    kernel: int = 5
    dropout: float = 0.1
    model_fps: float = MODEL_FPS
    target_points: tuple[int, ...] = field(default_factory=lambda: tuple(canonical.TARGET_POINTS))

    @property
    def receptive_radius(self) -> int:
        """Frames on each side that can change one output frame."""
        return sum(d * (self.kernel // 2) for d in self.dilations)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dilations"], d["target_points"] = list(self.dilations), list(self.target_points)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        d = dict(d)
        d["dilations"], d["target_points"] = tuple(d["dilations"]), tuple(d["target_points"])
        return cls(**d)


class _Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.norm = nn.LayerNorm(channels)  # per frame: an output never depends on frames beyond the kernel
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)
        return x + self.drop(torch.nn.functional.gelu(h))


class MotionNet(nn.Module):
    """(B, T, input_dim) features → (B, T, output_dim) scaled targets."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.inp = nn.Linear(cfg.input_dim, cfg.channels)
        self.blocks = nn.ModuleList(_Block(cfg.channels, cfg.kernel, d, cfg.dropout) for d in cfg.dilations)
        self.out = nn.Linear(cfg.channels, cfg.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x).transpose(1, 2)
        for b in self.blocks:
            h = b(h)
        return self.out(h.transpose(1, 2))


def scale_targets(y: np.ndarray | torch.Tensor):
    """Targets in canonical units and degrees → the scale the network learns in."""
    s = np.full(y.shape[-1], TARGET_SCALE, np.float32)
    s[-HEAD_DIMS:] = HEAD_SCALE
    return y * (torch.from_numpy(s) if isinstance(y, torch.Tensor) else s)


def unscale_targets(y: np.ndarray) -> np.ndarray:
    s = np.full(y.shape[-1], TARGET_SCALE, np.float32)
    s[-HEAD_DIMS:] = HEAD_SCALE
    return y / s


def predict_frames(net: MotionNet, feats: np.ndarray, *, chunk: int = 2000) -> np.ndarray:
    """Network outputs (unscaled: canonical units, degrees) for (T, F) features, in overlapping chunks.

    Each chunk is run with ``receptive_radius`` frames of context on both sides and only its centre kept, so
    memory does not grow with T.
    """
    r = net.cfg.receptive_radius
    n = len(feats)
    out = np.empty((n, net.cfg.output_dim), np.float32)
    net.eval()
    with torch.inference_mode():
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            lo, hi = max(0, a - r), min(n, b + r)
            y = net(torch.from_numpy(np.ascontiguousarray(feats[lo:hi]))[None])[0].numpy()
            out[a:b] = y[a - lo:a - lo + (b - a)]
    return unscale_targets(out)


# ---------------------------------------------------------------------------------------------- to a MotionTrack


class RigProjection:
    """Projects canonical displacements onto the portrait rig's blend shapes (jaw, spread, narrow, round,
    brow) built on a rest face, by non-negative least squares on the lip, jaw-line and brow points.

    That is how learned mesh motion becomes a MotionTrack for any portrait (the rig re-applies the same shapes
    to the portrait's own face), and how a MotionTrack is turned back into mesh motion to compare with
    annotations (``displacements``).
    """

    PX = 100.0  # the rest face is placed at 100 px per canonical unit for the rig
    SHAPES = (0, 1, 2, 3, 6)  # rig basis rows: jaw, spread, narrow, round, brow

    def __init__(self, rest: np.ndarray, target_points: tuple[int, ...] = canonical.TARGET_POINTS):
        from talkset.animate.rig import Rig

        px = np.asarray(rest, np.float64) * self.PX
        px[:, :2] += 4 * self.PX
        self.rig = Rig(px, int(8 * self.PX), int(8 * self.PX))
        basis = self.rig.basis.reshape(len(self.rig.basis), -1, 2) / self.PX  # (K, 478, 2) canonical per unit
        self.basis = basis[:, list(target_points)]  # (K, P, 2)
        fit = [i for i, p in enumerate(target_points) if p not in canonical.REGIONS["eyelids"]]
        self._fit_rows = np.array(fit)
        a = self.basis[list(self.SHAPES)][:, self._fit_rows].reshape(len(self.SHAPES), -1).T  # (2P', 5)
        self._a = a

    def coefficients(self, disp: np.ndarray) -> np.ndarray:
        """(N, 5) non-negative jaw, spread, narrow, round, brow for (N, P, 2) displacements."""
        from scipy.optimize import nnls

        b = disp[:, self._fit_rows].reshape(len(disp), -1)
        return np.array([nnls(self._a, row)[0] if np.isfinite(row).all() else np.zeros(len(self.SHAPES))
                         for row in b])

    def reconstruct(self, disp: np.ndarray) -> np.ndarray:
        """(N, P, 2) the part of ``disp`` the rig's shapes can show (its projection): the rig's ceiling."""
        c = self.coefficients(disp)
        return np.einsum("nk,kpd->npd", c, self.basis[list(self.SHAPES)]).astype(np.float32)

    def track_fields(self, disp: np.ndarray) -> dict[str, np.ndarray]:
        """MotionTrack jaw, lip_width, lip_round, brow for (N, P, 2) displacements from this rest face."""
        c = self.coefficients(disp)
        return {"jaw": np.clip(c[:, 0] + self.rig.jaw0, 0, 1), "lip_width": np.clip(c[:, 1] - c[:, 2], -1, 1),
                "lip_round": np.clip(c[:, 3], 0, 1), "brow": np.clip(c[:, 4], 0, 1)}

    def displacements(self, track: MotionTrack) -> np.ndarray:
        """(N, P, 2) canonical displacements the rig makes for a track's expression (pose not applied)."""
        coef = np.stack([self.rig.coefficients(track, i) for i in range(len(track))])  # (N, K)
        return np.einsum("nk,kpd->npd", coef, self.basis).astype(np.float32)


class MotionModel:
    """A trained audio-to-motion model: ``motion(audio, fps=...)`` gives a MotionTrack for any portrait.

    Mouth, jaw and brows come from the network (projected onto the rig's shapes, ``RigProjection``), head
    pose from the network; blinks and gaze stay procedural (``talkset.animate.motion``), as the network does not
    predict them from audio.
    """

    def __init__(self, net: MotionNet, template: np.ndarray, info: dict[str, Any] | None = None):
        self.net = net.eval()
        self.template = np.asarray(template, np.float32)
        self.info = info or {}
        self._projection: RigProjection | None = None

    @property
    def cfg(self) -> NetConfig:
        return self.net.cfg

    @property
    def projection(self) -> RigProjection:
        if self._projection is None:
            self._projection = RigProjection(self.template, self.cfg.target_points)
        return self._projection

    def predict(self, audio: Audio, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(displacements (N, P, 2) canonical units, head (N, 3) degrees) at times from the audio's start."""
        audio = to_16k(audio)
        times_s = np.asarray(times_s, np.float64)
        end = float(times_s.max()) if len(times_s) else 0.0
        grid = np.arange(int(math.ceil(end * self.cfg.model_fps)) + 2) / self.cfg.model_fps
        y = predict_frames(self.net, audio_features(audio, grid))
        y = np.stack([np.interp(times_s, grid, y[:, j]) for j in range(y.shape[1])], axis=1)
        p = len(self.cfg.target_points)
        return y[:, :2 * p].reshape(-1, p, 2).astype(np.float32), y[:, 2 * p:].astype(np.float32)

    def motion(self, audio: Audio, *, fps: float, n_frames: int | None = None, seed: int = 0) -> MotionTrack:
        """A MotionTrack for speech audio, frame i at ``audio.start_s + i / fps`` (as ``motion_from_audio``).

        Args:
            audio: mono speech at any rate.
            fps: output frames per second.
            n_frames: frames to return (default ``ceil(duration * fps)``).
            seed: seeds the procedural blinks and gaze.
        """
        from talkset.animate.motion import blink_track, gaze_track

        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        n = math.ceil(audio.duration_s * fps - 1e-9) if n_frames is None else int(n_frames)
        if n <= 0:
            return MotionTrack.rest(0, fps)
        disp, head = self.predict(audio, np.arange(n) / fps)
        f = self.projection.track_fields(disp)
        s_blink, _, s_gaze, _ = np.random.SeedSequence(seed).spawn(4)  # the streams motion_from_audio uses
        # Turns and nods shift the face a little, as in motion_from_audio.
        offset = np.stack([head[:, 1] * 0.004, head[:, 0] * 0.003], axis=1)
        return MotionTrack(fps=fps, jaw=f["jaw"], lip_width=f["lip_width"], lip_round=f["lip_round"],
                           blink=blink_track(n, fps, np.random.default_rng(s_blink)), brow=f["brow"], head=head,
                           offset=offset, scale=1.0 + 0.002 * head[:, 0],
                           gaze=np.clip(gaze_track(n, fps, np.random.default_rng(s_gaze)), -1, 1))


# ---------------------------------------------------------------------------------------------- files


def model_payload(net: MotionNet, template: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
    """What ``talkset train`` saves: only tensors, numbers, strings, lists and dicts (weights_only loads it)."""
    return {"format": FORMAT, "config": net.cfg.to_dict(),
            "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
            "template": torch.from_numpy(np.asarray(template, np.float32)), **extra}


def load_motion_model(path: str | Path) -> MotionModel:
    """Loads a model saved by ``talkset train`` (``torch.load(weights_only=True)``: no code runs from the file).

    Raises:
        ModelError: missing or unreadable file, or not a talkset motion model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (pickle, zip, unsupported global) for a bad file
        raise ModelError(f"{path}: cannot load ({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path}: not a talkset motion model (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    try:
        net = MotionNet(NetConfig.from_dict(payload["config"]))
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ModelError(f"{path}: config and weights do not match ({' '.join(str(e).split())[:160]})") from None
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "template")}
    return MotionModel(net, payload["template"].numpy(), info)
