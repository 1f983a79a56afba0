"""pocketsphinx phones: recognition (chunked), forced alignment, letter-to-sound guesses, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkset.audio.io import Audio, load_audio
from talkset.audio.phonemes import (
    SR,
    Phone,
    PhonemeError,
    align_phones,
    chunk_bounds,
    guess_pronunciation,
    normalize_text,
    recognize_phones,
    word_starts,
)

# What pocketsphinx's word recogniser hears in english_hdtf_16k_stereo.wav (close to the radio address).
HDTF_TEXT = ("holidays are a time of celebrating with loved ones enjoying the festivities and many are back to "
             "school but for many this year has been")
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


@pytest.fixture(scope="module")
def english(media: Path) -> Audio:
    return load_audio(media / "audio" / "english_hdtf_16k_stereo.wav", sr=SR)


def _check_timeline(phones, start_s: float, end_s: float) -> None:
    starts = np.array([p.start_s for p in phones])
    ends = np.array([p.end_s for p in phones])
    assert (ends > starts).all()
    assert (np.diff(starts) > 0).all()
    assert starts[0] >= start_s - 1e-6 and ends[-1] <= end_s + 0.011


def test_recognize_phones_on_english(english: Audio) -> None:
    phones = recognize_phones(english)
    _check_timeline(phones, 0.0, english.duration_s)
    names = [p.phone for p in phones]
    # 8 s of fluent speech: roughly 10 phones a second, a third or more of them vowels.
    assert 50 <= len(names) <= 150
    assert sum(n in VOWELS for n in names) > 0.3 * len(names)
    assert len([p for p in phones if p.phone == "SIL" and p.end_s - p.start_s > 0.2]) >= 1  # the pause at ~2.7 s


def test_chunked_recognition_agrees_and_keeps_the_clock(english: Audio) -> None:
    whole = recognize_phones(english)
    shifted = Audio(english.samples, SR, start_s=10.0)
    chunked = recognize_phones(shifted, chunk_s=2.5)
    _check_timeline(chunked, 10.0, 10.0 + english.duration_s)
    assert abs(len(chunked) - len(whole)) < 0.2 * len(whole)
    # The same sound is found at the same time: speech/silence labels agree on most of 10 ms frames.
    def speech_frames(phones, t0):
        lab = np.zeros(800, bool)
        for p in phones:
            if p.phone != "SIL":
                lab[int(round((p.start_s - t0) * 100)) : int(round((p.end_s - t0) * 100))] = True
        return lab
    assert np.mean(speech_frames(whole, 0.0) == speech_frames(chunked, 10.0)) > 0.85


def test_chunk_bounds_cut_in_the_quiet() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.3, 10 * SR).astype(np.float32)
    x[int(3.5 * SR) : int(3.6 * SR)] = 0.0  # a 100 ms pause just before the nominal 4 s boundary
    bounds = chunk_bounds(x, chunk_s=4.0, search_s=1.0)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(x)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert 3.5 * SR <= bounds[0][1] < 3.6 * SR


def test_forced_alignment_follows_the_text(english: Audio) -> None:
    phones = align_phones(english, HDTF_TEXT)
    _check_timeline(phones, 0.0, english.duration_s)
    spoken = [p.phone for p in phones if p.phone != "SIL"]
    assert spoken[:5] == ["HH", "AA", "L", "AH", "D"]  # "holidays" as the CMU dictionary says it
    assert spoken.count("B") >= 2 and "M" in spoken  # celebrating, back, but; time, many
    # "the festivities": the word recogniser hears "the" at 3.51 s; the aligner must put it there too.
    names = [p.phone for p in phones]
    i = next(i for i in range(len(names) - 2) if names[i : i + 3] == ["DH", "AH", "F"])
    assert 3.3 < phones[i].start_s < 3.7


def test_unknown_words_get_a_guess(english: Audio) -> None:
    assert guess_pronunciation("zorbl") == "Z AO R B L"
    assert guess_pronunciation("cheap") == "CH IY P"
    assert guess_pronunciation("city") == "S IH T IY"
    phones = align_phones(english, HDTF_TEXT.replace("festivities", "festivitiez zorblat"))
    assert [p.phone for p in phones if p.phone != "SIL"][:3] == ["HH", "AA", "L"]


def test_normalize_text() -> None:
    assert normalize_text("Don't STOP, it's 5 o'clock!") == ["don't", "stop", "it's", "o'clock"]


def test_errors_are_one_line(english: Audio) -> None:
    with pytest.raises(PhonemeError, match="16000 Hz") as e:
        recognize_phones(Audio(np.zeros(8000, np.float32), 8000))
    assert "\n" not in str(e.value)
    with pytest.raises(PhonemeError, match="no words"):
        align_phones(english, "123 ... !!")
    with pytest.raises(PhonemeError, match="pronunciation"):
        guess_pronunciation("'")


def test_long_audio_is_aligned_in_chunks(english: Audio) -> None:
    pause = np.zeros(SR // 2, np.float32)
    audio = Audio(np.concatenate([english.samples, pause, english.samples, pause]), SR, start_s=3.0)
    text = " ".join([HDTF_TEXT] * 2)
    whole = align_phones(audio, text, chunk_s=60.0)
    chunked = align_phones(audio, text, chunk_s=6.0)  # three chunks, the text split between them
    _check_timeline(chunked, 3.0, 3.0 + audio.duration_s)
    assert [p.phone for p in chunked if p.phone != "SIL"] == [p.phone for p in whole if p.phone != "SIL"]

    def labels(phones):
        lab = np.full(int(audio.duration_s * 100), "", dtype=object)
        for p in phones:
            lab[int(round((p.start_s - 3.0) * 100)) : int(round((p.end_s - 3.0) * 100))] = p.phone
        return lab
    assert np.mean(labels(whole) == labels(chunked)) > 0.9


def test_word_starts_by_edit_distance() -> None:
    prons = {"map": ["M", "AE", "P"], "see": ["S", "IY"], "tea": ["T", "IY"]}
    heard = ["SIL", "M", "EH", "P", "SIL", "S", "IH", "T", "IY", "SIL"]  # two vowels misheard
    recognised = [Phone(ph, 0.1 * i, 0.1 * (i + 1)) for i, ph in enumerate(heard)]
    np.testing.assert_allclose(word_starts(["map", "see", "tea"], prons, recognised), [0.1, 0.5, 0.7])


def test_phones_do_not_depend_on_what_was_decoded_before(media):
    """pocketsphinx's cepstral mean adapts across utterances; a worker's earlier files must not change a file's phones."""
    from talkset.audio.io import load_audio
    from talkset.audio.phonemes import english_score, recognize_phones

    english = load_audio(media / "talking/vox_man_tv_224.mp4")
    first = recognize_phones(english)
    recognize_phones(load_audio(media / "audio/german_16k.wav"))
    english_score(load_audio(media / "audio/japanese_16k.wav"))
    assert recognize_phones(english) == first
