"""FID and FVD with feature networks the user supplies as TorchScript files; nothing is downloaded.

The usual standalone files are TorchScript archives: StyleGAN2-ADA's ``inception-2015-12-05.pt`` (the
TensorFlow FID Inception, 2048-d pool features) and StyleGAN-V's ``i3d_torchscript.pt`` (the TF-Hub
Kinetics-400 I3D used by FVD). Without such a file the metrics cannot be computed, and callers report
``skipped(reason)`` instead of a number.

Preprocessing (documented because a Fréchet distance is only comparable across papers when it matches):

* FID: every sampled frame is resized (stretched, like pytorch-fid and clean-fid) to 299×299 RGB and fed as
  a float tensor ``(N, 3, 299, 299)`` with values in ``value_range``, by default ``(0, 255)``: what the
  StyleGAN2-ADA Inception expects (it normalises internally). pytorch-fid style networks want ``(0, 1)``.
* FVD: clips of 16 consecutive frames; each frame's shorter side is scaled to 224 and the centre cropped
  to 224×224 (StyleGAN-V's preprocessing), fed as ``(N, 3, 16, 224, 224)`` with values in ``(-1, 1)``.

When the network's ``forward`` takes ``return_features`` / ``rescale`` / ``resize`` arguments (both files
above do), they are passed as ``True`` / ``False`` / ``False``: raw features before the classifier, and no
second rescaling or resizing inside the network. Any other network is called with the tensor alone and
must return one tensor per sample (extra dimensions are flattened).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import scipy.linalg

from talkset.errors import TalksetError
from talkset.media.frames import decode_frames, upright

INCEPTION_SIZE = 299
I3D_SIZE = 224
CLIP_FRAMES = 16

# A video is a file or decoded RGB frames, (T, H, W, 3) uint8.
Video = str | Path | np.ndarray


class FeatureNetworkError(TalksetError):
    """A feature network file that cannot be used; the message is one line naming the file."""


@dataclass
class FeatureNetwork:
    """A loaded TorchScript feature network and the optional arguments its ``forward`` accepts."""

    module: object  # torch.jit.ScriptModule; typed loosely so importing this module does not import torch
    path: str = ""
    arguments: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, x):
        """Features of a batch as a float64 array (N, D)."""
        import torch

        kwargs = {k: v for k, v in (("return_features", True), ("rescale", False), ("resize", False))
                  if k in self.arguments}
        with torch.inference_mode():
            out = self.module(x, **kwargs)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(out.shape[0], -1).double().numpy()


def load_feature_network(path: str | Path) -> FeatureNetwork:
    """Loads a TorchScript feature network (``torch.jit.save`` output) for CPU inference.

    Only TorchScript archives are accepted: they are read by TorchScript's own restricted loader, which
    rebuilds tensors and compiled code but never runs arbitrary Python, unlike a pickled ``nn.Module``
    (``torch.load``), which is refused.

    Args:
        path: the ``.pt`` file, e.g. ``inception-2015-12-05.pt`` or ``i3d_torchscript.pt``.

    Raises:
        FeatureNetworkError: missing file, or a file that is not TorchScript (a state dict, a pickle).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FeatureNetworkError(f"{path}: feature network file not found")
    try:
        with warnings.catch_warnings():
            # torch 2.13 deprecates TorchScript, yet the published Inception and I3D files are TorchScript.
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated",
                                    category=DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError/ValueError with multi-line C++ traces
        text = str(e).strip()
        reason = text.splitlines()[0].split(". ")[0][:160] if text else type(e).__name__
        raise FeatureNetworkError(f"{path}: not a TorchScript file ({reason}); export the network with "
                                  "torch.jit.script or torch.jit.trace and save that") from None
    module.eval()
    try:
        names = frozenset(a.name for a in module.forward.schema.arguments[1:])
    except AttributeError:  # no introspectable forward: call with the tensor alone
        names = frozenset()
    return FeatureNetwork(module, str(path), names)


def skipped(reason: str) -> dict:
    """The report of a metric that was not computed, e.g. ``skipped("no Inception network given")``.

    Shaped like a computed report (``{"value": ..., "skipped": False}``) so tables need no special case.
    """
    return {"value": None, "skipped": True, "reason": reason}


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d² = |mu1 − mu2|² + Tr(sigma1 + sigma2 − 2·(sigma1·sigma2)^½), computed like pytorch-fid: when the
    product is singular enough that its square root is not finite, ``eps`` is added to both diagonals; a
    tiny imaginary part left by rounding is dropped, a large one is an error.

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D).
        eps: diagonal offset used only when the plain square root fails.

    Raises:
        ValueError: the shapes differ, or the square root has a large imaginary part.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"Gaussians of different dimension: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # scipy warns on singular products; few samples in many dimensions always are, and the
        # non-finite case is handled below.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of features (N, D); at least two samples are needed for a covariance."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def features_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (N, D) and (M, D)."""
    return frechet_distance(*gaussian(a), *gaussian(b))


def fid(pred_videos: Sequence[Video], ref_videos: Sequence[Video], network: FeatureNetwork | str | Path,
        frames_per_video: int = 16, value_range: tuple[float, float] = (0.0, 255.0),
        batch_size: int = 16) -> float:
    """Fréchet Inception Distance between frames of generated and reference videos.

    Args:
        pred_videos: generated videos (files or (T, H, W, 3) uint8 RGB arrays).
        ref_videos: reference videos, same forms.
        network: a loaded network or the path of a TorchScript Inception.
        frames_per_video: frames taken from each video, evenly spread over it (all when it has fewer).
        value_range: the (min, max) the network expects pixel values in; see the module docstring.
        batch_size: frames per forward pass.

    Returns:
        The distance (0 for identical feature distributions).
    """
    network = _network(network)
    a = frame_features(pred_videos, network, frames_per_video, value_range, batch_size)
    b = frame_features(ref_videos, network, frames_per_video, value_range, batch_size)
    return features_distance(a, b)


def fvd(pred_videos: Sequence[Video], ref_videos: Sequence[Video], network: FeatureNetwork | str | Path,
        clips_per_video: int = 4, clip_frames: int = CLIP_FRAMES,
        value_range: tuple[float, float] = (-1.0, 1.0), batch_size: int = 2) -> float:
    """Fréchet Video Distance between clip-level features (I3D) of generated and reference videos.

    Args:
        pred_videos: generated videos (files or (T, H, W, 3) uint8 RGB arrays).
        ref_videos: reference videos, same forms.
        network: a loaded network or the path of a TorchScript I3D.
        clips_per_video: windows of ``clip_frames`` consecutive frames per video, evenly spread and not
            overlapping where the video is long enough; a video shorter than one window gives none.
        clip_frames: frames per window (16 is the FVD convention).
        value_range: the (min, max) the network expects pixel values in; see the module docstring.
        batch_size: clips per forward pass.
    """
    network = _network(network)
    a = clip_features(pred_videos, network, clips_per_video, clip_frames, value_range, batch_size)
    b = clip_features(ref_videos, network, clips_per_video, clip_frames, value_range, batch_size)
    return features_distance(a, b)


def frame_features(videos: Sequence[Video], network: FeatureNetwork, frames_per_video: int = 16,
                   value_range: tuple[float, float] = (0.0, 255.0), batch_size: int = 16,
                   size: int = INCEPTION_SIZE) -> np.ndarray:
    """Per-frame features (N, D) of evenly sampled frames, each stretched to ``size``×``size``."""
    frames: list[np.ndarray] = []
    for video in videos:
        all_frames = list(_frames(video, lambda f: cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)))
        idx = _spread(len(all_frames), frames_per_video)
        frames.extend(all_frames[i] for i in idx)
    if not frames:
        raise ValueError("no frames decoded from the videos")
    return _run(network, frames, batch_size, value_range, lambda x: x.permute(0, 3, 1, 2))


def clip_features(videos: Sequence[Video], network: FeatureNetwork, clips_per_video: int = 4,
                  clip_frames: int = CLIP_FRAMES, value_range: tuple[float, float] = (-1.0, 1.0),
                  batch_size: int = 2, size: int = I3D_SIZE) -> np.ndarray:
    """Per-clip features (N, D) of windows of ``clip_frames`` frames, centre-cropped to ``size``."""
    clips = []
    for video in videos:
        frames = list(_frames(video, lambda f: _short_side_crop(f, size)))
        n_windows = len(frames) // clip_frames
        for w in _spread(n_windows, clips_per_video):
            clips.append(np.stack(frames[w * clip_frames:(w + 1) * clip_frames]))
    if not clips:
        raise ValueError(f"no video has {clip_frames} frames for a clip")
    # (N, T, H, W, C) -> (N, C, T, H, W), the I3D layout
    return _run(network, clips, batch_size, value_range, lambda x: x.permute(0, 4, 1, 2, 3))


def _network(network: FeatureNetwork | str | Path) -> FeatureNetwork:
    return network if isinstance(network, FeatureNetwork) else load_feature_network(network)


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices evenly spread over ``range(n)`` (all of them when ``n <= k``)."""
    if n <= k:
        return list(range(n))
    return [int(i * n / k) for i in range(k)]


def _short_side_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = size / min(h, w)
    nw, nh = max(size, math.ceil(w * s)), max(size, math.ceil(h * s))
    img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    return img[y0:y0 + size, x0:x0 + size]


def _frames(video: Video, prepare) -> Iterator[np.ndarray]:
    """RGB frames of a file or an array, each passed through ``prepare`` as soon as it is decoded."""
    if isinstance(video, np.ndarray):
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"a video array must be (T, H, W, 3) RGB, got {video.shape}")
        for frame in video:
            yield prepare(np.ascontiguousarray(frame))
        return
    from talkset.media.probe import probe

    rotation = probe(video).rotation_deg
    # Kept small right away: a decoded frame is resized before the next one, so memory is per video
    # at the network's input size, not at the source's.
    for view in decode_frames(video, rotation, work_max_side=1 << 16, shot_max_side=1 << 16):
        yield prepare(upright(view.frame.to_ndarray(format="rgb24"), rotation))


def _run(network: FeatureNetwork, items: list[np.ndarray], batch_size: int,
         value_range: tuple[float, float], to_layout) -> np.ndarray:
    import torch

    lo, hi = value_range
    out = []
    for i in range(0, len(items), batch_size):
        x = torch.from_numpy(np.stack(items[i:i + batch_size])).float()
        x = lo + x * ((hi - lo) / 255.0)
        out.append(network(to_layout(x).contiguous()))
    return np.concatenate(out)
