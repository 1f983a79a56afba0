"""The deterministic caption: one paragraph built only from measured facts, the same every run.

Words are chosen by fixed bands over the numbers (named constants below) so a caption can be checked against
its facts, which are stored beside it (``annotations.facts``).
"""
from __future__ import annotations

from typing import Any

SHOT_PHRASE = {"close-up": "A close-up", "half-body": "A half-body shot", "full-body": "A full-body shot"}
LANGUAGE_NAMES = {"en": "English", "de": "German", "ja": "Japanese", "zh": "Chinese", "fr": "French",
                  "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "ko": "Korean",
                  "ar": "Arabic", "hi": "Hindi", "nl": "Dutch", "pl": "Polish", "tr": "Turkish"}
# Bands (lower bound, word); the first band whose bound the value reaches is used.
YAW_BANDS = ((60.0, "in profile"), (30.0, "in three-quarter view"), (12.0, "turned slightly away from the camera"),
             (0.0, "facing the camera"))
BRIGHTNESS_BANDS = ((0.7, "bright"), (0.35, "moderately bright"), (0.2, "dim"), (0.0, "dark"))
CONTRAST_BANDS = ((0.22, "high-contrast"), (0.1, "even"), (0.0, "flat"))
RATE_BANDS = ((5.5, "fast"), (3.0, "moderate"), (0.0, "slow"))
LOUDNESS_BANDS = ((-14.0, "loud"), (-30.0, "normal"), (-200.0, "quiet"))
MOVEMENT_BANDS = ((6.0, "moving the head a lot"), (2.5, "moving the head a little"), (0.0, "holding the head still"))


def _band(value: float, bands: tuple[tuple[float, str], ...]) -> str:
    return next(word for bound, word in bands if value >= bound)


def _position(center: list[float]) -> str:
    x, y = center
    horizontal = "left of centre" if x < 0.4 else "right of centre" if x > 0.6 else "centred"
    return f"{horizontal}, in the upper part of the frame" if y < 0.3 else horizontal


def template_caption(facts: dict[str, Any]) -> str:
    """A caption from measured facts; unknown facts are left out rather than guessed.

    Args:
        facts: keys as written by curate's annotation (all optional): shot_type, face_area (fraction of the
            frame), face_center (x, y as fractions), head_pose (pitch, yaw, roll degrees), head_pose_spread
            (degrees), face_brightness and face_contrast (0–1), speech_rate_sps (syllables per second),
            loudness_dbfs, language (ISO 639-1), duration (s), resolution ("WxH"), fps.
    """
    first = SHOT_PHRASE.get(facts.get("shot_type") or "", "A shot") + " of one person speaking"
    pose = facts.get("head_pose")
    if pose:
        pitch, yaw, _roll = pose
        first += f", {_band(abs(yaw), YAW_BANDS)}"
        if abs(yaw) >= 12:
            first += f" (yaw {abs(yaw):.0f}°)"
        if abs(pitch) >= 15:
            first += ", head tilted " + ("up" if pitch > 0 else "down")
    spread = facts.get("head_pose_spread")
    if spread:
        first += f", {_band(sum(spread) / len(spread), MOVEMENT_BANDS)}"
    sentences = [first + "."]
    if facts.get("face_area") is not None:
        where = f", {_position(facts['face_center'])}" if facts.get("face_center") else ""
        sentences.append(f"The face fills {100 * facts['face_area']:.0f}% of the frame{where}.")
    if facts.get("face_brightness") is not None:
        light = _band(facts["face_brightness"], BRIGHTNESS_BANDS)
        if facts.get("face_contrast") is not None:
            light += f", {_band(facts['face_contrast'], CONTRAST_BANDS)}"
        sentences.append(f"Lighting on the face: {light}.")
    audio = []
    if facts.get("speech_rate_sps"):
        rate = facts["speech_rate_sps"]
        audio.append(f"{_band(rate, RATE_BANDS)} speech (about {rate:.1f} syllables per second)")
    if facts.get("loudness_dbfs") is not None:
        audio.append(f"{_band(facts['loudness_dbfs'], LOUDNESS_BANDS)} level ({facts['loudness_dbfs']:.0f} dBFS)")
    language = facts.get("language")
    if audio or language:
        text = "Audio: " + ", ".join(audio) if audio else "Audio"
        if language:
            text += (", " if audio else ": ") + f"in {LANGUAGE_NAMES.get(language, language)}"
        sentences.append(text + ".")
    if facts.get("duration") is not None:
        tech = f"{facts['duration']:.1f} s"
        if facts.get("resolution"):
            tech += f", {facts['resolution']}"
        if facts.get("fps"):
            tech += f" at {facts['fps']:g} fps"
        sentences.append(tech + ".")
    return " ".join(sentences)
