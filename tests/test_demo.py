"""The demo video: its container, its speech, its faces and its lip sync."""
from __future__ import annotations

from pathlib import Path

import av
import mediapipe as mp
import numpy as np
import pytest
import torch
from silero_vad import get_speech_timestamps, load_silero_vad

from talkset.demo import FPS, SEGMENTS, SR, build_demo_video, synth_speech

TALK1, TALK2, SILENT, NO_FACE = SEGMENTS


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return build_demo_video(tmp_path_factory.mktemp("demo") / "raw" / "demo.mp4", seed=0)


@pytest.fixture(scope="module")
def frames(demo) -> list[np.ndarray]:
    with av.open(str(demo)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def audio(demo) -> np.ndarray:
    """The decoded sound track as 16 kHz mono float32."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
    with av.open(str(demo)) as c:
        chunks = [r.to_ndarray()[0] for f in c.decode(audio=0) for r in resampler.resample(f)]
    chunks += [r.to_ndarray()[0] for r in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def _overlap(spans: list[dict], a: float, b: float) -> float:
    return sum(max(0.0, min(b, s["end"]) - max(a, s["start"])) for s in spans)


def test_timeline_is_contiguous():
    assert SEGMENTS[0].start == 0.0
    assert all(p.end == q.start for p, q in zip(SEGMENTS, SEGMENTS[1:]))
    assert 20.0 <= SEGMENTS[-1].end <= 25.0


def test_container(demo):
    with av.open(str(demo)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264"
        assert v.average_rate == FPS
        assert (v.width, v.height) == (512, 512)
        assert a.codec_context.name == "aac"
        assert a.rate == SR and a.channels == 1
        assert c.duration / 1e6 == pytest.approx(NO_FACE.end, abs=0.1)
        n = sum(1 for _ in c.decode(video=0))
    assert n == round(NO_FACE.end * FPS)


def test_vad_hears_speech_only_where_spoken(audio):
    assert len(audio) == pytest.approx(NO_FACE.end * SR, abs=SR * 0.1)
    spans = get_speech_timestamps(torch.from_numpy(audio), load_silero_vad(onnx=True),
                                  sampling_rate=SR, return_seconds=True)
    for seg in (TALK1, TALK2, NO_FACE):
        a, b = seg.speech
        assert _overlap(spans, a, b) > 0.6 * (b - a), (seg, spans)
    # The VAD pads speech by 30 ms; leave it a little room at the edges of the silence.
    assert _overlap(spans, SILENT.start + 0.3, SILENT.end - 0.3) == 0.0, spans


def test_one_face_in_portrait_parts_none_in_landscape(frames):
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True,
                                         max_num_faces=2) as mesh:
        for seg in SEGMENTS:
            # Every half second, kept clear of the cuts.
            for t in np.arange(seg.start + 0.2, seg.end - 0.1, 0.5):
                found = mesh.process(frames[int(round(t * FPS))]).multi_face_landmarks or []
                assert len(found) == (1 if seg.framing else 0), (seg, t)


def test_lip_gap_follows_the_sound(frames, audio):
    first, last = int(TALK1.start * FPS), int(TALK1.end * FPS)
    gap = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=True) as mesh:
        for img in frames[first:last]:
            lm = mesh.process(img).multi_face_landmarks[0].landmark
            gap.append(abs(lm[14].y - lm[13].y) * img.shape[0])
    gap = np.array(gap)
    spf = SR // FPS
    rms = np.sqrt(np.mean(audio[first * spf:last * spf].reshape(-1, spf) ** 2, axis=1))
    assert gap.max() > 5.0  # pixels: the mouth does open visibly
    # r[lag] pairs video frame i with audio frame i + lag (positive: mouth leads).
    r = {lag: np.corrcoef(gap[max(0, -lag):len(gap) - max(0, lag)],
                          rms[max(0, lag):len(rms) - max(0, -lag)])[0, 1] for lag in range(-5, 6)}
    best = max(r, key=r.get)
    assert r[best] > 0.3, r
    assert 0 <= best <= 4, r  # the demo puts the mouth 2 frames ahead of the sound


def test_speech_synth_is_deterministic():
    n, spans = SR * 2, [(0.2, 1.8)]
    a, open_a = synth_speech(np.random.default_rng(3), n, spans)
    b, open_b = synth_speech(np.random.default_rng(3), n, spans)
    c, _ = synth_speech(np.random.default_rng(4), n, spans)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(open_a, open_b)
    assert not np.array_equal(a, c)
    assert open_a.max() > 0.5 and open_a[: int(0.1 * SR)].max() == 0.0
