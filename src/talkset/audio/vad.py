"""Silero VAD run through onnxruntime and numpy alone, so that using it never imports torch.

The model I/O and the segment logic follow silero_vad 6.2.3 (``utils_vad.OnnxWrapper`` and
``get_speech_timestamps_from_probs``) at 16 kHz, without the max-speech-length splitting.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from talkset.audio.io import Audio

SR = 16000
WINDOW = 512  # samples per model call at 16 kHz, i.e. 32 ms
CONTEXT = 64  # samples of the previous window that the model sees before each window


def default_model_path() -> Path:
    """Path of the ``silero_vad.onnx`` shipped inside the silero-vad package.

    ``importlib.resources.files("silero_vad")`` would import the package, whose ``__init__``
    imports torch (about 2 s), so the package directory is found with ``find_spec``, which
    locates a top-level package without executing it.

    Raises:
        FileNotFoundError: silero-vad is not installed or lacks the model file.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero-vad is not installed; it ships the VAD model")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"silero VAD model not found at {path}")
    return path


class SileroVAD:
    """Silero voice activity detector on one CPU thread.

    Construction only stores configuration; the onnxruntime session is created on first use,
    so building one per worker process is cheap until it actually runs.

    Args:
        model_path: the silero ``.onnx`` file; defaults to the one shipped with silero-vad.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self._session = None

    @property
    def session(self):
        """The onnxruntime.InferenceSession, created on first access."""
        if self._session is None:
            import onnxruntime  # deferred: importing it costs time callers may never need to spend

            opts = onnxruntime.SessionOptions()
            # One thread each: the model is tiny and sequential, and curate runs one VAD per process.
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            path = self.model_path or default_model_path()
            self._session = onnxruntime.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return self._session

    def speech_probs(self, samples16k: np.ndarray) -> np.ndarray:
        """Speech probability of each 512-sample (32 ms) window of 16 kHz audio.

        The recurrent state starts from zero on every call, as in silero's ``get_speech_timestamps``;
        a final partial window is zero-padded.

        Args:
            samples16k: 1-D mono samples at 16 kHz.

        Returns:
            float32 array of length ``ceil(len(samples16k) / 512)``; element i covers samples
            ``[512 * i, 512 * (i + 1))``.
        """
        x = np.asarray(samples16k, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected 1-D samples, got shape {x.shape}")
        n_windows = -(-len(x) // WINDOW)
        probs = np.empty(n_windows, dtype=np.float32)
        if n_windows == 0:
            return probs
        padded = np.zeros(CONTEXT + n_windows * WINDOW, dtype=np.float32)
        padded[CONTEXT : CONTEXT + len(x)] = x
        session = self.session
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(SR, dtype=np.int64)
        for i in range(n_windows):
            # Window i plus the 64 samples before it (zeros before the first window), as OnnxWrapper
            # keeps them as context; the slice is a contiguous view, so no copy is made.
            chunk = padded[i * WINDOW : (i + 1) * WINDOW + CONTEXT].reshape(1, -1)
            out, state = session.run(None, {"input": chunk, "state": state, "sr": sr})
            probs[i] = out[0, 0]
        return probs

    def speech_segments(
        self,
        audio: Audio,
        *,
        threshold: float = 0.5,
        min_speech_s: float = 0.25,
        min_silence_s: float = 0.1,
        speech_pad_s: float = 0.03,
    ) -> list[tuple[float, float]]:
        """Speech segments of 16 kHz audio, as silero's ``get_speech_timestamps`` finds them.

        Args:
            audio: mono audio at 16 kHz (``load_audio(path, sr=16000)``).
            threshold: a window at or above this probability starts or continues speech.
            min_speech_s: segments this short or shorter (before padding) are dropped.
            min_silence_s: speech ends only after this long below ``threshold - 0.15``.
            speech_pad_s: padding added to each side of a segment, halved between close segments.

        Returns:
            (start_s, end_s) pairs on the container clock (``audio.start_s`` added), in order.

        Raises:
            ValueError: ``audio.sr`` is not 16000.
        """
        if audio.sr != SR:
            raise ValueError(f"silero VAD needs {SR} Hz audio, got {audio.sr} Hz; use load_audio(path, sr={SR})")
        probs = self.speech_probs(audio.samples)
        spans = segments_from_probs(
            probs,
            n_samples=len(audio.samples),
            threshold=threshold,
            min_speech_samples=round(min_speech_s * SR),
            min_silence_samples=round(min_silence_s * SR),
            pad_samples=round(speech_pad_s * SR),
        )
        return [(audio.start_s + s / SR, audio.start_s + e / SR) for s, e in spans]


def segments_from_probs(
    probs: np.ndarray,
    *,
    n_samples: int,
    threshold: float,
    min_speech_samples: int,
    min_silence_samples: int,
    pad_samples: int,
) -> list[tuple[int, int]]:
    """silero's hysteresis over window probabilities, in sample indices.

    A port of ``get_speech_timestamps_from_probs`` with ``max_speech_duration_s=inf``: speech
    starts at a window >= ``threshold``, and ends where probabilities first fell below
    ``max(threshold - 0.15, 0.01)`` once they have stayed there ``min_silence_samples``.

    Args:
        probs: one probability per 512-sample window.
        n_samples: length of the audio, which bounds the last segment and the padding.
        threshold: speech threshold.
        min_speech_samples: segments of this length or shorter are dropped.
        min_silence_samples: silence needed to end a segment.
        pad_samples: padding each side.

    Returns:
        (start, end) sample indices, end exclusive.
    """
    neg_threshold = max(threshold - 0.15, 0.01)
    speeches: list[list[int]] = []
    start: int | None = None  # start of the open segment; None while not in speech
    temp_end: int | None = None  # where the current run of silence inside a segment began
    for i, p in enumerate(probs.tolist()):
        cur = WINDOW * i
        if p >= threshold:
            temp_end = None
            if start is None:
                start = cur
            continue
        if start is not None and p < neg_threshold:
            if temp_end is None:
                temp_end = cur
            if cur - temp_end < min_silence_samples:
                continue
            if temp_end - start > min_speech_samples:
                speeches.append([start, temp_end])
            start = temp_end = None
    if start is not None and n_samples - start > min_speech_samples:
        speeches.append([start, n_samples])

    # Pad each side; where two segments are closer than two pads, split the gap between them.
    for i, sp in enumerate(speeches):
        if i == 0:
            sp[0] = max(0, sp[0] - pad_samples)
        if i < len(speeches) - 1:
            nxt = speeches[i + 1]
            gap = nxt[0] - sp[1]
            if gap < 2 * pad_samples:
                sp[1] += gap // 2
                nxt[0] = max(0, nxt[0] - gap // 2)
            else:
                sp[1] = min(n_samples, sp[1] + pad_samples)
                nxt[0] = max(0, nxt[0] - pad_samples)
        else:
            sp[1] = min(n_samples, sp[1] + pad_samples)
    return [(s, e) for s, e in speeches]
