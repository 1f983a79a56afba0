"""Renderer on real portraits: framing, the warp at rest, mouth, eyelids, head pose signs, errors."""
from __future__ import annotations

import inspect

import cv2
import numpy as np
import pytest

from talkset.animate.api import load_image
from talkset.animate.render import PortraitError, Renderer, piecewise_affine
from talkset.animate.rig import IRIS
from talkset.animate.track import MotionTrack
from talkset.vision.face import FaceDetector, FaceMesher, head_pose, mouth_shape


def _track(n: int) -> MotionTrack:
    t = MotionTrack.rest(n)
    for name in ("jaw", "lip_width", "lip_round", "brow", "scale"):  # rest() shares one zeros array
        setattr(t, name, getattr(t, name).copy())
    return t


def _mesh(rgb: np.ndarray) -> np.ndarray:
    boxes = FaceDetector()(rgb)
    assert boxes, "no face in the rendered frame"
    lm = FaceMesher(tracking=False)(rgb, boxes[0])
    assert lm is not None
    return lm


@pytest.fixture(scope="module")
def woman(media) -> Renderer:
    return Renderer(load_image(media / "images" / "woman_frontal_624.jpg"), size=256)


def test_crop_frame_and_rest_mesh(woman):
    assert woman.frame_size == (256, 256)
    assert woman.image.shape == (256, 256, 3)
    assert woman.landmarks.shape == (478, 3)
    # The face sits inside the crop with room for hair and neck.
    x, y = woman.landmarks[:, 0], woman.landmarks[:, 1]
    assert 0.2 * 256 < x.mean() < 0.8 * 256 and y.min() > 0.05 * 256 and y.max() < 0.9 * 256


def test_rest_track_reproduces_the_portrait(woman):
    frames = woman.render(_track(2))
    assert inspect.isgenerator(frames)  # streaming: frames are made on demand
    first = next(frames)
    assert np.abs(first.astype(int) - woman.image).mean() < 1.0


def test_jaw_opens_and_closes_the_mouth(woman):
    t = _track(2)
    t.jaw[1] = 0.8
    rest, open_ = (mouth_shape(_mesh(f))[1] for f in woman.render(t))
    assert rest < 0.02
    assert open_ > 0.2


def test_blink_covers_the_iris(woman):
    t = _track(2)
    t.blink[1] = 1.0
    open_, shut = list(woman.render(t))
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(float) for f in (open_, shut)]
    for eye in IRIS:
        cx, cy = woman.landmarks[eye[0], :2]
        r = max(2, int(0.6 * np.linalg.norm(woman.landmarks[eye[1], :2] - woman.landmarks[eye[3], :2]) / 2))
        y, x = int(cy), int(cx)
        iris_open = grey[0][y - r:y + r, x - r:x + r].mean()
        iris_shut = grey[1][y - r:y + r, x - r:x + r].mean()
        assert iris_shut > iris_open + 15, (iris_open, iris_shut)  # dark iris replaced by lighter lid skin


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_head_rotation_follows_head_pose_signs(woman, axis):
    t = _track(2)
    t.head[1, axis] = 8.0
    base, turned = (np.array(head_pose(_mesh(f))) for f in woman.render(t))
    change = turned - base
    assert change[axis] > 3.0, change
    assert np.abs(np.delete(change, axis)).max() < 3.0, change


def test_whole_image_has_even_sides(media):
    r = Renderer(load_image(media / "images" / "woman_upper_body_474.png")[:, :473], crop=False)
    assert r.frame_size == (472, 474)
    assert next(r.render(_track(1))).shape == (474, 472, 3)


def test_two_faces_and_no_face_are_errors(media):
    with pytest.raises(PortraitError, match="2 faces found"):
        Renderer(load_image(media / "images" / "two_faces_1126x661.jpg"))
    with pytest.raises(PortraitError, match="no face found"):
        Renderer(np.full((300, 300, 3), 128, np.uint8))


def test_piecewise_affine_is_exact_on_an_affine_map():
    rng = np.random.default_rng(0)
    targets = np.concatenate([rng.uniform(0, 100, (50, 2)), [[-1, -1], [101, -1], [-1, 101], [101, 101]]])
    a = np.array([[1.1, 0.2], [-0.1, 0.9]])
    sources = targets @ a.T + [3.0, -2.0]
    q = rng.uniform(0, 100, (500, 2))
    assert np.allclose(piecewise_affine(targets, sources, q), q @ a.T + [3.0, -2.0], atol=1e-6)
