from talkset.curate.segment import candidates, join_speech, shots_from_cuts


def test_shots_between_cuts_cover_the_video():
    assert shots_from_cuts([2.0, 5.0, 99.0], 0.5, 10.0) == [(0.5, 2.0), (2.0, 5.0), (5.0, 10.0)]


def test_speech_joined_across_short_pauses_and_padded():
    assert join_speech([(1.0, 2.0), (2.3, 3.0), (5.0, 6.0)], 0.5, 0.1) == [(0.9, 3.1), (4.9, 6.1)]


def test_candidates_trim_at_cuts_but_not_at_video_ends():
    spans = candidates([(0.0, 4.0), (4.0, 10.0)], [(0.0, 10.0)], min_clip_s=3.0, max_clip_s=30.0,
                       boundary_trim_s=0.1, video_start_s=0.0, video_end_s=10.0)
    assert spans == [(0.0, 3.9), (4.1, 10.0)]


def test_short_intersections_dropped_and_long_speech_split_evenly():
    spans = candidates([(0.0, 70.0)], [(1.0, 2.5), (5.0, 70.0)], min_clip_s=3.0, max_clip_s=30.0,
                       boundary_trim_s=0.1, video_start_s=0.0, video_end_s=70.0)
    assert len(spans) == 3
    assert all(abs((b - a) - 65 / 3) < 1e-3 for a, b in spans)
    assert spans[0][0] == 5.0 and spans[-1][1] == 70.0
