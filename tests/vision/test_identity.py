"""dlib face descriptors on the real footage: other people far apart, the same man near, across the fakes."""
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from talkset.bench.identity import identity_similarity
from talkset.media.frames import decode_frames
from talkset.vision.identity import SAME_PERSON_DISTANCE, FaceEmbedder, distance, model_paths

REAL = "generated/real_man_suit_700_vfr.mp4"
FAKES = ["fake_retalking_from_real_man_suit.mp4", "fake_sadtalker_from_real_man_suit.mp4",
         "fake_sync_none_from_real_man_suit.mp4", "fake_wav2lip_from_real_man_suit.mp4"]


@pytest.fixture(scope="module")
def embedder():
    e = FaceEmbedder()
    yield e
    e.close()


def _image(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    out = {}
    for view in decode_frames(path, 0, work_max_side=1280, shot_max_side=1280):
        if view.index in indices:
            out[view.index] = view.work_rgb
        if len(out) == len(indices):
            break
    return out


def test_models_ship_in_the_wheel():
    paths = model_paths()
    for p in paths.values():
        assert Path(p).is_file() and Path(p).stat().st_size > 1_000_000


def test_other_people_are_farther_than_the_threshold(media, embedder):
    portrait = embedder.embed(_image(media / "images/man_cropped_256.png"))
    assert portrait is not None and portrait.shape == (128,)
    for clip in ["talking/man_worldmap_844.mp4", "talking/vox_man_tv_224.mp4", REAL]:
        frame = _frames(media / clip, {10})[10]
        other = embedder.embed(frame)
        assert other is not None, clip
        assert distance(portrait, other) > SAME_PERSON_DISTANCE, clip


def test_the_real_clip_matches_itself_across_frames(media, embedder):
    frames = _frames(media / REAL, {0, 40, 80, 120})
    first = embedder.embed(frames[0])
    for i in (40, 80, 120):
        d = distance(first, embedder.embed(frames[i]))
        assert d < SAME_PERSON_DISTANCE, (i, d)


@pytest.mark.parametrize("fake", FAKES)
def test_every_fake_keeps_the_identity_of_its_source(media, embedder, fake):
    reference = _frames(media / REAL, {0})[0]
    r = identity_similarity(reference, media / "generated" / fake, interval_s=0.7, embedder=embedder)
    assert r["frames"] >= 6 and r["frames_without_face"] == 0
    assert r["mean_distance"] < SAME_PERSON_DISTANCE
    assert r["same_person_fraction"] == 1.0
    assert 0.9 < r["mean_cosine_similarity"] <= 1.0


def test_a_different_person_scores_as_different(media, embedder):
    reference = _image(media / "images/man_cropped_256.png")
    r = identity_similarity(reference, media / REAL, interval_s=1.4, embedder=embedder)
    assert r["frames"] >= 4
    assert r["mean_distance"] > SAME_PERSON_DISTANCE and r["same_person_fraction"] == 0.0


def test_two_faces_embed_takes_the_largest_and_embed_all_reports_both(media, embedder):
    img = _image(media / "images/two_faces_1126x661.jpg")
    faces = embedder.embed_all(img)
    assert len(faces) == 2
    (big, a), (small, b) = faces
    assert big.area >= small.area
    assert np.allclose(embedder.embed(img), a)
    assert distance(a, b) > SAME_PERSON_DISTANCE  # two different men


def test_no_face_gives_none(embedder):
    assert embedder.embed(np.full((200, 200, 3), 127, np.uint8)) is None


def test_dlib_detector_agrees_with_mediapipe_boxes(media):
    img = _image(media / "images/man_cropped_256.png")
    e = FaceEmbedder(detector="dlib")
    mp_embedder = FaceEmbedder()
    try:
        d = distance(e.embed(img), mp_embedder.embed(img))
    finally:
        mp_embedder.close()
    assert d < 0.25  # same face, slightly different boxes: far below the identity threshold


def test_time_per_frame(media, embedder):
    frame = _frames(media / REAL, {5})[5]
    embedder.embed(frame)  # models loaded
    n = 10
    t0 = time.perf_counter()
    for _ in range(n):
        embedder.embed(frame)
    per_frame = (time.perf_counter() - t0) / n
    print(f"identity embedding: {per_frame * 1000:.1f} ms per 700x700 frame (detect + landmarks + ResNet)")
    assert per_frame < 1.0
