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


def test_one_pause_does_not_split_five_seconds_of_talk():
    """Two 2.3 s stretches of speech around a 1.2 s pause are one 5.8 s candidate with the default config."""
    from talkset.curate.config import Config

    seg = Config.load().segment
    speech = [(0.2, 2.5), (3.7, 6.0)]
    utterances = join_speech(speech, seg["speech_join_gap_s"], seg["speech_pad_s"])
    spans = candidates([(0.0, 6.2)], utterances, min_clip_s=seg["min_clip_s"], max_clip_s=seg["max_clip_s"],
                       boundary_trim_s=seg["boundary_trim_s"], video_start_s=0.0, video_end_s=6.2)
    assert len(spans) == 1 and 5.5 < spans[0][1] - spans[0][0] <= seg["max_clip_s"]
    # A pause longer than the join gap still ends an utterance.
    assert len(join_speech([(0.0, 2.0), (2.0 + seg["speech_join_gap_s"] + 0.1, 5.0)],
                           seg["speech_join_gap_s"], 0.0)) == 2
