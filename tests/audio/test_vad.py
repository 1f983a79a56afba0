"""SileroVAD against silero_vad's own reference, on real and synthetic audio; no torch import; speed."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from talkset.audio.io import Audio, load_audio
from talkset.audio.vad import SR, WINDOW, SileroVAD


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD()


@pytest.fixture(scope="module")
def german(media: Path) -> Audio:
    return load_audio(media / "audio" / "german_16k.wav")


def test_module_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "from talkset.audio.vad import SileroVAD\n"
        "SileroVAD().speech_probs(np.zeros(16000, dtype=np.float32))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'silero_vad' not in sys.modules, 'silero_vad (which imports torch) was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_construction_is_lazy() -> None:
    assert SileroVAD()._session is None


def test_one_probability_per_window(vad: SileroVAD) -> None:
    assert vad.speech_probs(np.zeros(0, dtype=np.float32)).shape == (0,)
    assert vad.speech_probs(np.zeros(WINDOW, dtype=np.float32)).shape == (1,)
    assert vad.speech_probs(np.zeros(WINDOW + 1, dtype=np.float32)).shape == (2,)


def test_silence_has_no_segments(vad: SileroVAD) -> None:
    assert vad.speech_segments(Audio(np.zeros(SR, dtype=np.float32), SR)) == []


def test_rejects_other_sample_rates(vad: SileroVAD) -> None:
    with pytest.raises(ValueError, match="16000"):
        vad.speech_segments(Audio(np.zeros(8000, dtype=np.float32), 8000))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside silero_vad.load_silero_vad
def test_matches_silero_reference(vad: SileroVAD, german: Audio) -> None:
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    model = load_silero_vad(onnx=True)
    wav = torch.from_numpy(german.samples)
    ref_probs = model.audio_forward(wav, SR).numpy()[0]
    probs = vad.speech_probs(german.samples)
    assert probs.shape == ref_probs.shape
    np.testing.assert_allclose(probs, ref_probs, atol=1e-3)

    ref = [(d["start"] / SR, d["end"] / SR) for d in get_speech_timestamps(wav, model)]
    ours = vad.speech_segments(german)
    assert len(ours) == len(ref) >= 1
    np.testing.assert_allclose(np.array(ours), np.array(ref), atol=0.05)


def test_real_speech_is_mostly_covered(vad: SileroVAD, german: Audio) -> None:
    segments = vad.speech_segments(german)
    assert segments
    assert sum(e - s for s, e in segments) > 0.7 * german.duration_s


def test_inserted_silence_becomes_a_gap(vad: SileroVAD, german: Audio) -> None:
    t0 = 4.0  # mid-sentence: the original file is one segment from 0.64 s to 8.0 s
    i = int(t0 * SR)
    samples = np.concatenate([german.samples[:i], np.zeros(2 * SR, dtype=np.float32), german.samples[i:]])
    segments = vad.speech_segments(Audio(samples, SR))
    gaps = [(a[1], b[0]) for a, b in zip(segments, segments[1:])]
    # Tolerances: speech ends only after 0.1 s of silence, plus 32 ms windows and 30 ms padding.
    covering = [g for g in gaps if g[0] <= t0 + 0.2 and g[1] >= t0 + 2.0 - 0.1]
    assert len(covering) == 1, segments


def test_segments_are_on_the_container_clock(vad: SileroVAD, german: Audio) -> None:
    shifted = Audio(german.samples, SR, start_s=12.5)
    base = vad.speech_segments(german)
    np.testing.assert_allclose(np.array(vad.speech_segments(shifted)), np.array(base) + 12.5, atol=1e-9)


def test_runs_at_least_50x_real_time(vad: SileroVAD, german: Audio) -> None:
    vad.speech_probs(german.samples[:WINDOW])  # session creation is a one-off, not per-second cost
    best = min(_timed(vad, german.samples) for _ in range(3))
    assert german.duration_s / best >= 50


def _timed(vad: SileroVAD, samples: np.ndarray) -> float:
    t = time.perf_counter()
    vad.speech_probs(samples)
    return time.perf_counter() - t
