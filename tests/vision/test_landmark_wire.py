"""Landmarks read from mediapipe's serialised message equal the ones read attribute by attribute."""
import numpy as np
import pytest
from mediapipe.framework.formats import landmark_pb2

from talkset.vision.face import landmark_xyz


def _landmarks(rng, n, **extra):
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in rng.normal(size=(n, 3)):
        msg.landmark.add(x=x, y=y, z=z, **extra)
    return msg


def _by_attribute(msg):
    return np.array([(p.x, p.y, p.z) for p in msg.landmark], np.float64).reshape(-1, 3)


@pytest.mark.parametrize("extra", [{}, {"visibility": 0.9}, {"presence": 0.5}])
def test_landmarks_read_in_one_go_equal_attribute_reads(extra):
    msg = _landmarks(np.random.default_rng(1), 478, **extra)
    assert np.array_equal(landmark_xyz(msg), _by_attribute(msg))


def test_a_landmark_without_z_or_an_empty_list_is_read_too():
    msg = _landmarks(np.random.default_rng(2), 5)
    msg.landmark[3].ClearField("z")  # the wire record is shorter: read attribute by attribute (z = 0)
    assert np.array_equal(landmark_xyz(msg), _by_attribute(msg))
    assert landmark_xyz(landmark_pb2.NormalizedLandmarkList()).shape == (0, 3)
