"""SyncNet LSE-D / LSE-C with user-supplied weights: joonson/syncnet_python reproduced in torch and numpy.

Nothing is downloaded: pass the path of ``syncnet_v2.model`` (the file syncnet_python's ``download_model.sh``
fetches) to :func:`load_syncnet`. The network (:class:`SyncNet`) is syncnet_python's ``SyncNetModel.S``
layer for layer, with the same module names, so that file's state dict loads by name.

:func:`lse` follows ``SyncNetInstance.evaluate`` on a face-track crop:

* video resampled to 25 fps (nearest frame by presentation time, as ffmpeg ``-r 25`` does for
  run_pipeline), a 224x224 BGR crop per frame with run_pipeline's ``crop_video`` geometry
  (``crop_scale`` 0.4, box size and centre median-filtered over 13 frames, padding value 110);
* audio as 16-bit PCM at 16 kHz, 13 MFCCs every 10 ms (python_speech_features' defaults, reimplemented
  in :func:`mfcc`);
* one window per frame: 5 frames against the 20 MFCC steps starting at 4x the frame index;
* distances over +-``vshift`` (15) frames, averaged over time; LSE-D is the smallest mean distance,
  the offset ``vshift - argmin`` and LSE-C ``median - min`` of the mean distances.

One deliberate difference: syncnet_python finds faces with S3FD, which needs weights of its own; here the
box comes from mediapipe's BlazeFace (:class:`talkset.vision.face.FaceDetector`, the largest face of
each frame). BlazeFace boxes sit a little lower and tighter than S3FD's (brows to chin rather than
forehead to chin), so the crop shows slightly less forehead and absolute LSE values can differ a little
from syncnet_python's on the same clip; offsets and rankings between models are what it is meant for.
"""
from __future__ import annotations

import math
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from scipy.fft import dct
from scipy.signal import medfilt
from torch import nn

from talkset.audio.io import Audio
from talkset.errors import TalksetError, one_line

SAMPLE_RATE = 16000
SYNCNET_FPS = 25
CROP_SIZE = 224
CROP_SCALE = 0.40  # run_pipeline's --crop_scale
CROP_PAD_VALUE = 110  # run_pipeline pads frames with this grey before cropping
BOX_SMOOTH_FRAMES = 13  # run_pipeline's medfilt kernel over box size and centre
VIDEO_WINDOW = 5  # frames per video window
AUDIO_WINDOW = 20  # MFCC steps per audio window (0.2 s, the 5 frames at 25 fps)


class SyncNetLoadError(TalksetError, ValueError):
    """A weights file that is not a usable SyncNet; the message is one line naming the file."""


class SyncNet(nn.Module):
    """syncnet_python's ``SyncNetModel.S``: audio and lip streams mapped into one embedding space.

    Module names and layer order are the original's, so its ``state_dict`` keys (``netcnnaud.0.weight``,
    ``netfcaud.0.weight``, ``netcnnlip.0.weight``, ``netfclip.0.weight``, ...) load unchanged.

    Args:
        num_layers_in_fc_layers: embedding size (1024 in the published model).
    """

    def __init__(self, num_layers_in_fc_layers: int = 1024):
        super().__init__()
        # Audio: (N, 1, 13, 20) MFCC windows -> (N, 512, 1, 1).
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),

            nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(192),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),

            nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(384),
            nn.ReLU(inplace=True),

            nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),

            nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),

            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)),
            nn.BatchNorm2d(512),
            nn.ReLU(),
        )
        self.netfcaud = nn.Sequential(
            nn.Linear(512, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, num_layers_in_fc_layers),
        )
        self.netfclip = nn.Sequential(
            nn.Linear(512, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, num_layers_in_fc_layers),
        )
        # Lips: (N, 3, 5, 224, 224) BGR windows, 0-255 -> (N, 512, 1, 1, 1).
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            nn.BatchNorm3d(96),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),

            nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),

            nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
            nn.BatchNorm3d(512),
            nn.ReLU(inplace=True),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """Audio embeddings: (N, 1, 13, 20) MFCC windows -> (N, num_layers_in_fc_layers)."""
        mid = self.netcnnaud(x)
        return self.netfcaud(mid.view(mid.size(0), -1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """Lip embeddings: (N, 3, 5, 224, 224) BGR frames in 0-255 -> (N, num_layers_in_fc_layers)."""
        mid = self.netcnnlip(x)
        return self.netfclip(mid.view(mid.size(0), -1))

    def forward_lipfeat(self, x: torch.Tensor) -> torch.Tensor:
        """The lip stream's 512-d convolutional features, before the fully connected layers."""
        mid = self.netcnnlip(x)
        return mid.view(mid.size(0), -1)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(lip embeddings, audio embeddings) of matching windows."""
        return self.forward_lip(video), self.forward_aud(audio)


def load_syncnet(path: str | Path) -> SyncNet:
    """Loads SyncNet weights from a user-supplied file, in eval mode on the CPU.

    Accepts what syncnet_python's ``loadParameters`` reads (a state dict keyed like ``SyncNetModel.S``),
    also wrapped as ``{"state_dict": ...}`` / ``{"model_state_dict": ...}`` or with a ``module.`` or
    ``__S__.`` prefix. Files saved before PyTorch 0.4.1 lack BatchNorm's ``num_batches_tracked``
    counters; those are filled in (eval mode never reads them). Everything else must match exactly.

    Only tensors and plain containers are unpickled (``weights_only=True``): a file holding a pickled
    full model is refused rather than executed.

    Args:
        path: the weights file, e.g. syncnet_python's ``data/syncnet_v2.model``.

    Raises:
        SyncNetLoadError: unreadable, not a state dict, or a different architecture (one line naming
            the file).
    """
    path = Path(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise SyncNetLoadError(f"{path}: no such file") from e
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as e:
        raise SyncNetLoadError(
            f"{path}: not loadable as plain weights ({one_line(e)}); if it is a pickled full model, "
            "re-save it with torch.save(model.state_dict(), ...) where it was made - "
            "talkset does not unpickle arbitrary objects") from e
    state = _state_dict_of(loaded)
    if state is None:
        raise SyncNetLoadError(f"{path}: holds a {type(loaded).__name__}, not a SyncNet state dict")
    model = SyncNet()
    expected = model.state_dict()
    state = {_strip_prefix(k): v for k, v in state.items()}
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value.clone()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or mismatched:
        parts = [f"{len(names)} {what} (e.g. {names[0]}{_shape_note(names[0], state, expected, what)})"
                 for what, names in (("missing keys", missing), ("unexpected keys", unexpected),
                                     ("shape mismatches", mismatched)) if names]
        raise SyncNetLoadError(f"{path}: not syncnet_python's SyncNet architecture: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return model.eval()


def _state_dict_of(loaded: object) -> Mapping[str, torch.Tensor] | None:
    if isinstance(loaded, Mapping):
        state: Mapping[Any, Any] = loaded
        for wrapper in ("state_dict", "model_state_dict", "model"):
            if isinstance(state.get(wrapper), Mapping):
                state = state[wrapper]
                break
        if all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
            return state
    return None


def _strip_prefix(key: str) -> str:
    for prefix in ("module.", "__S__."):  # DataParallel / SyncNetInstance wrappers
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _shape_note(key: str, state: Mapping, expected: Mapping, what: str) -> str:
    if what != "shape mismatches":
        return ""
    return f": file {tuple(state[key].shape)}, SyncNet {tuple(expected[key].shape)}"


# ---------------------------------------------------------------------------------------------------------
# MFCC: python_speech_features.mfcc with its defaults (what syncnet_python calls), in numpy.


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray | float:
    """HTK mel scale, as python_speech_features uses."""
    return 2595 * np.log10(1 + np.asarray(hz) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray | float:
    """Inverse of :func:`hz_to_mel`."""
    return 700 * (10 ** (np.asarray(mel) / 2595.0) - 1)


def mel_filterbank(nfilt: int = 26, nfft: int = 512, samplerate: int = SAMPLE_RATE, lowfreq: float = 0,
                   highfreq: float | None = None) -> np.ndarray:
    """(nfilt, nfft // 2 + 1) triangular filters on FFT bins, python_speech_features' ``get_filterbanks``.

    The band edges are floored to whole bins with ``(nfft + 1)`` in the numerator, as the original does.
    """
    highfreq = highfreq or samplerate / 2
    melpoints = np.linspace(hz_to_mel(lowfreq), hz_to_mel(highfreq), nfilt + 2)
    bins = np.floor((nfft + 1) * mel_to_hz(melpoints) / samplerate)
    fbank = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        for i in range(int(lo), int(mid)):
            fbank[j, i] = (i - lo) / (mid - lo)
        for i in range(int(mid), int(hi)):
            fbank[j, i] = (hi - i) / (hi - mid)
    return fbank


def mfcc(signal: np.ndarray, samplerate: int = SAMPLE_RATE, winlen: float = 0.025, winstep: float = 0.01,
         numcep: int = 13, nfilt: int = 26, nfft: int = 512, lowfreq: float = 0, highfreq: float | None = None,
         preemph: float = 0.97, ceplifter: int = 22, append_energy: bool = True) -> np.ndarray:
    """MFCCs exactly as ``python_speech_features.mfcc`` computes them with its default arguments.

    Rectangular (no) window; frames zero-padded at the end so the last one is whole; power spectrum
    ``|FFT|^2 / nfft``; log filterbank energies; orthonormal DCT-II; sinusoidal lifter; coefficient 0
    replaced by the log of the frame's total power. Zero energies become float eps before the log.

    Args:
        signal: 1-D samples. syncnet_python passes 16-bit integers read from a wav, so the scale matters
            (it shifts the log energies): give int16-scale values for its numbers.
        samplerate: Hz.
        winlen: frame length in seconds.
        winstep: frame step in seconds.
        numcep: coefficients kept.
        nfilt: mel filters.
        nfft: FFT size.
        lowfreq: lowest filter edge, Hz.
        highfreq: highest filter edge, Hz (default: Nyquist).
        preemph: pre-emphasis coefficient.
        ceplifter: lifter length (0 disables).
        append_energy: replace coefficient 0 by the log frame energy.

    Returns:
        (n_frames, numcep) float64, n_frames = 1 + ceil((len - frame_len) / step) (at least 1).
    """
    signal = np.asarray(signal, dtype=np.float64).reshape(-1)
    if len(signal) == 0:
        raise ValueError("mfcc of an empty signal")
    emphasized = np.append(signal[0], signal[1:] - preemph * signal[:-1])
    frame_len, step = _round_half_up(winlen * samplerate), _round_half_up(winstep * samplerate)
    n_frames = 1 if len(emphasized) <= frame_len else 1 + math.ceil((len(emphasized) - frame_len) / step)
    padded = np.concatenate([emphasized, np.zeros((n_frames - 1) * step + frame_len - len(emphasized))])
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_len)[::step][:n_frames]
    pspec = np.square(np.abs(np.fft.rfft(frames, nfft))) / nfft
    eps = np.finfo(float).eps
    energy = pspec.sum(axis=1)
    energy = np.where(energy == 0, eps, energy)
    feat = pspec @ mel_filterbank(nfilt, nfft, samplerate, lowfreq, highfreq).T
    feat = np.where(feat == 0, eps, feat)
    cep = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :numcep]
    if ceplifter > 0:
        cep = cep * (1 + (ceplifter / 2.0) * np.sin(np.pi * np.arange(numcep) / ceplifter))
    if append_energy:
        cep[:, 0] = np.log(energy)
    return cep


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def to_pcm16_scale(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as the 16-bit integers ffmpeg's ``pcm_s16le`` would write (as float64).

    syncnet_python reads such a wav, and the MFCC energies depend on the scale.
    """
    return np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767)


# ---------------------------------------------------------------------------------------------------------
# Video: 25 fps resampling, face boxes, run_pipeline's crop.


def resample_indices(times: np.ndarray, fps: float = SYNCNET_FPS, end_s: float | None = None) -> np.ndarray:
    """For each slot of a constant-rate grid, the index of the source frame nearest in time.

    The grid starts at the first frame and runs while slots are before ``end_s`` (default: the last
    frame's time plus the last frame interval, i.e. where the last frame stops being shown). Ties go to
    the earlier frame.

    Args:
        times: increasing presentation times of the source frames, seconds.
        fps: the grid's rate.
        end_s: end of the last frame's display.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    if end_s is None:
        end_s = times[-1] + (times[-1] - times[-2] if len(times) > 1 else 1.0 / fps)
    n = max(1, math.ceil((end_s - times[0]) * fps - 1e-6))
    grid = times[0] + np.arange(n) / fps
    # Nearest frame: the later neighbour wins only when strictly closer.
    right = np.clip(np.searchsorted(times, grid, side="left"), 0, len(times) - 1)
    left = np.clip(right - 1, 0, len(times) - 1)
    take_left = np.abs(grid - times[left]) <= np.abs(times[right] - grid)
    return np.where(take_left, left, right)


def smooth_boxes(boxes: np.ndarray) -> np.ndarray:
    """(n, 4) x0, y0, x1, y1 per frame (NaN rows: no face) -> (n, 3) half-size, centre x, centre y.

    Frames without a face take values interpolated from their neighbours; then each series is
    median-filtered over 13 frames with scipy's ``medfilt`` (zero-padded at the ends), as run_pipeline's
    ``crop_video`` does.
    """
    s = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    x = (boxes[:, 0] + boxes[:, 2]) / 2
    y = (boxes[:, 1] + boxes[:, 3]) / 2
    out = []
    for series in (s, x, y):
        ok = np.isfinite(series)
        filled = np.interp(np.arange(len(series)), np.flatnonzero(ok), series[ok])
        out.append(medfilt(filled, kernel_size=BOX_SMOOTH_FRAMES))
    return np.stack(out, axis=1)


def crop_face(image: np.ndarray, half_size: float, cx: float, cy: float, crop_scale: float = CROP_SCALE,
              size: int = CROP_SIZE) -> np.ndarray:
    """run_pipeline's ``crop_video`` crop: from the box top to well below the chin, resized to ``size``.

    The frame is padded with grey 110 by ``half_size * (1 + 2 * crop_scale)`` so crops near the border
    keep their shape; the crop spans ``2 * half_size * (1 + crop_scale)`` each way.
    """
    bs = half_size
    bsi = int(bs * (1 + 2 * crop_scale))
    padded = np.pad(image, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(CROP_PAD_VALUE,))
    my, mx = cy + bsi, cx + bsi
    face = padded[int(my - bs):int(my + bs * (1 + 2 * crop_scale)),
                  int(mx - bs * (1 + crop_scale)):int(mx + bs * (1 + crop_scale))]
    return cv2.resize(face, (size, size))


def _source_frames(path: Path) -> Iterator:
    from talkset.media.frames import decode_frames
    from talkset.media.probe import probe

    rotation = probe(path).rotation_deg
    return decode_frames(path, rotation, 640, 256)


def _detect_boxes(path: Path, detector) -> tuple[np.ndarray, np.ndarray]:
    """Times and (n, 4) largest-face boxes (NaN: none) of every decoded frame, in full-resolution pixels."""
    times, boxes = [], []
    for view in _source_frames(path):
        work = view.work_rgb
        faces = detector(work)
        full_w = view.frame.height if view.rotation_deg % 180 else view.frame.width
        full_h = view.frame.width if view.rotation_deg % 180 else view.frame.height
        sx, sy = full_w / work.shape[1], full_h / work.shape[0]
        times.append(view.t)
        if faces:
            b = faces[0]
            boxes.append((b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy))
        else:
            boxes.append((np.nan,) * 4)
    return np.asarray(times, dtype=np.float64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _crops(path: Path, slots: np.ndarray, smoothed: np.ndarray) -> np.ndarray:
    """(n_slots, 224, 224, 3) uint8 BGR crops, one per grid slot, from a second decode pass."""
    from talkset.media.frames import upright

    out = np.empty((len(slots), CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    wanted: dict[int, list[int]] = {}
    for slot, src in enumerate(slots):
        wanted.setdefault(int(src), []).append(slot)
    for view in _source_frames(path):
        if view.index not in wanted:
            continue
        bgr = upright(view.frame.to_ndarray(format="bgr24"), view.rotation_deg)
        for slot in wanted.pop(view.index):
            out[slot] = crop_face(bgr, *smoothed[slot])
        if not wanted:
            break
    if wanted:
        raise ValueError(f"{path}: decoding gave fewer frames on the second pass")
    return out


# ---------------------------------------------------------------------------------------------------------
# LSE


def lse(video_path: str | Path, audio_samples_16k: np.ndarray | Audio, model: SyncNet, *,
        fps: float = SYNCNET_FPS, vshift: int = 15, batch_size: int = 20, max_windows: int | None = None,
        detector=None) -> dict:
    """LSE-D, LSE-C and the audio-video offset of a talking-face video, as syncnet_python measures them.

    Args:
        video_path: the video; its largest face is cropped (see the module docstring).
        audio_samples_16k: mono audio at 16 kHz. A plain array is taken to start with the first video
            frame (a driving-audio file); an :class:`~talkset.audio.io.Audio` is placed by its
            ``start_s`` on the container clock (``load_audio(video_path)`` for the video's own track).
        model: from :func:`load_syncnet`.
        fps: the rate the video is resampled to. SyncNet was trained at 25: its 20-step audio window
            spans exactly 5 frames only there.
        vshift: largest offset searched, in frames each way.
        batch_size: windows per forward pass (memory only; BatchNorm is in eval mode).
        max_windows: evaluate only the first this many windows (about one per frame) to bound the
            time on long videos; None: all, as syncnet_python does.
        detector: face detector returning boxes largest first (default: a new ``FaceDetector``).

    Returns:
        ``lse_d`` (min over shifts of the time-averaged embedding distance, lower is better synced),
        ``lse_c`` (median minus min of those distances, higher is more confident), ``offset_frames``
        (``vshift - argmin``, syncnet_python's sign: positive when the audio is ahead of the video,
        negative when it lags) and ``n_windows`` (windows compared, about one per frame).

    Raises:
        ValueError: no face in any frame, audio not at 16 kHz, or too short for one window.
    """
    video_path = Path(video_path)
    own_detector = detector is None
    if own_detector:
        from talkset.vision.face import FaceDetector

        detector = FaceDetector()
    try:
        times, boxes = _detect_boxes(video_path, detector)
    finally:
        if own_detector:
            detector.close()
    if len(times) == 0:
        raise ValueError(f"{video_path}: no video frames")
    if not np.isfinite(boxes).all(axis=1).any():
        raise ValueError(f"{video_path}: no face found in any frame")
    slots = resample_indices(times, fps)

    if isinstance(audio_samples_16k, Audio):
        audio = audio_samples_16k
    else:
        audio = Audio(samples=np.asarray(audio_samples_16k, dtype=np.float32), sr=SAMPLE_RATE,
                      start_s=float(times[0]))
    if audio.sr != SAMPLE_RATE:
        raise ValueError(f"{video_path}: audio must be at {SAMPLE_RATE} Hz, got {audio.sr}")
    # Audio from the first frame's time on (zeros where it starts later), as far as it goes.
    audio_end = audio.start_s + audio.duration_s
    pcm = to_pcm16_scale(audio.slice(times[0], max(times[0], audio_end)))

    samples_per_frame = SAMPLE_RATE / fps
    min_length = min(len(slots), int(math.floor(len(pcm) / samples_per_frame)))
    lastframe = min_length - VIDEO_WINDOW  # syncnet_python's range(0, lastframe): one window short of all
    if max_windows is not None:
        lastframe = min(lastframe, max_windows)
    if lastframe < 1:
        raise ValueError(f"{video_path}: too short for SyncNet ({min_length} frames at {fps:g} fps with "
                         f"audio; at least {VIDEO_WINDOW + 1} needed)")
    n_frames_used = lastframe + VIDEO_WINDOW - 1
    smoothed = smooth_boxes(boxes[slots])
    crops = _crops(video_path, slots[:n_frames_used], smoothed[:n_frames_used])
    cc = mfcc(pcm, SAMPLE_RATE).T.astype(np.float32)  # (13, n_steps)
    steps_per_frame = 100.0 / fps  # MFCC steps are 10 ms

    im_feat, cc_feat = [], []
    model.eval()
    with torch.inference_mode():
        video = torch.from_numpy(crops).permute(3, 0, 1, 2)  # (3, T, H, W) uint8
        audio_t = torch.from_numpy(cc)
        for i in range(0, lastframe, batch_size):
            frames = range(i, min(lastframe, i + batch_size))
            im_in = torch.stack([video[:, v:v + VIDEO_WINDOW] for v in frames]).float()
            cc_in = torch.stack([_audio_window(audio_t, int(round(v * steps_per_frame))) for v in frames])
            im_feat.append(model.forward_lip(im_in))
            cc_feat.append(model.forward_aud(cc_in.unsqueeze(1)))
        im = torch.cat(im_feat)
        au = torch.cat(cc_feat)
        mdist = _mean_distances(im, au, vshift)
        minval, minidx = torch.min(mdist, 0)
        conf = torch.median(mdist) - minval
    return {"lse_d": float(minval), "lse_c": float(conf), "offset_frames": int(vshift - int(minidx)),
            "n_windows": int(lastframe)}


def _audio_window(cc: torch.Tensor, start: int) -> torch.Tensor:
    """(13, 20) MFCC steps from ``start``, zero-padded if the audio ends first (only at odd rates)."""
    win = cc[:, start:start + AUDIO_WINDOW]
    if win.shape[1] < AUDIO_WINDOW:
        win = torch.nn.functional.pad(win, (0, AUDIO_WINDOW - win.shape[1]))
    return win


def _mean_distances(im_feat: torch.Tensor, cc_feat: torch.Tensor, vshift: int) -> torch.Tensor:
    """syncnet_python's ``calc_pdist`` averaged over time: (2 * vshift + 1,) mean distance per shift.

    Audio embeddings are zero-padded by ``vshift`` at both ends, so windows near the ends compare
    against zeros at large shifts, as in the original.
    """
    win_size = vshift * 2 + 1
    padded = torch.nn.functional.pad(cc_feat, (0, 0, vshift, vshift))
    dists = [torch.nn.functional.pairwise_distance(im_feat[[i], :].repeat(win_size, 1), padded[i:i + win_size, :])
             for i in range(len(im_feat))]
    return torch.mean(torch.stack(dists, 1), 1)
