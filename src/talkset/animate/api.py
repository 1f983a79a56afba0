"""``animate``: a portrait plus speech (or a driving video) becomes an H.264 + AAC talking video, streamed."""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from talkset.animate.render import PortraitError, Renderer
from talkset.animate.track import MotionTrack
from talkset.audio.io import Audio, AudioError, load_audio
from talkset.errors import TalksetError
from talkset.files import atomic_output
from talkset.media.encode import AAC_FRAME, X264_CRF, X264_PRESET, aac_rate, add_aac, add_h264, x264_options

log = logging.getLogger(__name__)

MOTION_SR = 16_000  # the rate motion sources read audio at
STRATEGIES = ("fix_face", "no_retarget", "offset_retarget", "naive_retarget")


class AnimateError(TalksetError):
    """Input or output that cannot be used; one line naming the file and why."""


def load_image(path: str | Path) -> np.ndarray:
    """Any image OpenCV or Pillow reads, as RGB uint8 (alpha dropped, grey expanded).

    Raises:
        AnimateError: missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise AnimateError(f"{path}: no such file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is not None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    try:
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:  # Pillow raises many types for bad files
        raise AnimateError(f"{path}: cannot read image ({type(e).__name__})") from None


def _source_rate(path: Path) -> int:
    with av.open(str(path)) as c:
        return int(c.streams.audio[0].codec_context.sample_rate or 48_000)


def animate(image: str | Path | np.ndarray, audio: str | Path | None, out: str | Path, *, fps: float = 25,
            size: int = 512, crop: bool = True, seed: int = 0, text: str | None = None,
            language: str | None = None, driving: str | Path | None = None, retarget: str = "fix_face",
            export_kps: str | Path | None = None, progress: bool = True, overwrite: bool = False,
            motion_model=None) -> Path:
    """Renders a talking video of ``image`` speaking ``audio`` and writes it to ``out`` (H.264 + AAC mp4).

    Frames are rendered and encoded one at a time (memory does not grow with the audio's length), into a
    temporary file renamed to ``out`` when complete. The video is as long as the audio; the audio track is
    the input audio (mono, at the nearest AAC rate).

    Args:
        image: portrait file (anything OpenCV or Pillow reads) or an RGB uint8 array; exactly one face.
        audio: speech file (any format FFmpeg reads); with ``driving`` it may be None (the driving video's
            own audio is used).
        out: output .mp4 path.
        fps: output frame rate, frames per second.
        size: output side in pixels for the face crop (even).
        crop: False renders the whole image (sides rounded down to even).
        seed: makes the motion (blinks, head motion) reproducible.
        text: transcript of English speech, for forced alignment.
        language: ISO code of the speech; None detects it.
        driving: a video whose speaker's mouth and head motion drive the portrait.
        retarget: head placement for ``driving``: fix_face, no_retarget, offset_retarget or naive_retarget.
        export_kps: also write V-Express keypoints (kps.pth) of the output here.
        progress: show a progress bar over frames.
        overwrite: replace existing output files instead of refusing.
        motion_model: a model file from ``talkset train`` (or a loaded ``talkset.train.MotionModel``) that
            drives mouth, brows and head from the audio instead of the rules; blinks and gaze stay procedural.

    Returns:
        ``out`` as a Path.

    Raises:
        AnimateError: unreadable or unusable inputs (one line naming the file and the reason), or an
            existing output without ``overwrite``.
    """
    out = Path(out)
    for target in (out, export_kps):
        if target is not None and Path(target).exists() and not overwrite:
            raise AnimateError(f"{target}: already exists; pass overwrite=True (--force) to replace it")
    if retarget not in STRATEGIES:
        raise AnimateError(f"unknown retarget strategy {retarget!r} (choose {', '.join(STRATEGIES)})")
    if not fps > 0:
        raise AnimateError(f"fps must be positive, got {fps}")
    if audio is None and driving is None:
        raise AnimateError("no audio: give an audio file or a driving video")
    if motion_model is not None and driving is not None:
        raise AnimateError("give a motion model or a driving video, not both")
    if motion_model is not None and not hasattr(motion_model, "motion"):
        from talkset.train.model import ModelError, load_motion_model

        try:
            motion_model = load_motion_model(motion_model)
        except ModelError as e:
            raise AnimateError(str(e)) from None
    name = "image" if isinstance(image, np.ndarray) else str(image)
    rgb = image if isinstance(image, np.ndarray) else load_image(image)
    try:
        renderer = Renderer(rgb, size=size, crop=crop)
    except PortraitError as e:
        raise AnimateError(f"{name}: {e}") from None
    except ValueError as e:
        raise AnimateError(str(e)) from None

    source = audio if audio is not None else driving
    assert source is not None  # checked above: one of them is given
    audio_path = Path(source)
    try:
        speech = load_audio(audio_path, sr=MOTION_SR)
    except AudioError as e:
        raise AnimateError(str(e)) from None
    n_frames = math.ceil(speech.duration_s * fps - 1e-9)
    if n_frames < 1:
        raise AnimateError(f"{audio_path}: audio shorter than one frame ({speech.duration_s:.3f} s)")
    track = _motion(speech, renderer, fps=fps, n_frames=n_frames, seed=seed, text=text, language=language,
                    driving=driving, retarget=retarget, audio_from_driving=audio is None, progress=progress,
                    motion_model=motion_model)
    out_sr = aac_rate(_source_rate(audio_path))
    sound = speech if out_sr == MOTION_SR else load_audio(audio_path, sr=out_sr)

    from tqdm import tqdm

    frames = renderer.render(track)
    with tqdm(total=len(track), unit="frame", desc="animate", disable=not progress, leave=False) as bar:
        write_video(out, _counted(frames, bar), renderer.frame_size, fps, sound)
    if export_kps is not None:
        from talkset.vision.kps import save_kps, video_kps

        save_kps(video_kps(out), export_kps)
    return out


def _counted(frames: Iterable[np.ndarray], bar) -> Iterable[np.ndarray]:
    for f in frames:
        yield f
        bar.update(1)


def _motion(speech: Audio, renderer: Renderer, *, fps: float, n_frames: int, seed: int, text: str | None,
            language: str | None, driving: str | Path | None, retarget: str, audio_from_driving: bool,
            progress: bool, motion_model=None) -> MotionTrack:
    if driving is not None:
        from tqdm import tqdm

        from talkset.animate.driving import DrivingError, motion_from_video

        try:
            with tqdm(unit="frame", desc="driving video", disable=not progress, leave=False) as bar:
                return motion_from_video(driving, fps=fps, retarget=retarget, portrait_landmarks=renderer.landmarks,
                                         portrait_size=renderer.frame_size, n_frames=n_frames,
                                         start_s=speech.start_s if audio_from_driving else None,
                                         progress=bar.update)
        except DrivingError as e:
            raise AnimateError(str(e)) from None
    if motion_model is not None:
        return motion_model.motion(speech, fps=fps, n_frames=n_frames, seed=seed)
    from talkset.animate.motion import motion_from_audio

    track = motion_from_audio(speech, fps=fps, language=language, text=text, seed=seed)
    return track.slice(0, n_frames)


def write_video(out: Path, frames: Iterable[np.ndarray], frame_size: tuple[int, int], fps: float,
                sound: Audio, crf: int = X264_CRF, preset: str = X264_PRESET) -> Path:
    """Encodes RGB frames (H.264, yuv420p) and mono audio (AAC) into ``out`` through a temporary file.

    Args:
        out: destination .mp4; replaced atomically when complete.
        frames: RGB uint8 frames of ``frame_size`` (width, height), consumed one at a time.
        frame_size: (width, height) in pixels, both even.
        fps: frame rate, frames per second.
        sound: the audio track; its first sample plays with the first frame.
        crf: x264's constant rate factor (lower keeps more detail, in bigger files).
        preset: x264's speed preset.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    samples = sound.samples
    with atomic_output(out) as part:
        with av.open(str(part), "w", format="mp4") as container:
            video = add_h264(container, rate, frame_size, x264_options(preset, crf))
            video.codec_context.time_base = 1 / rate
            aac = add_aac(container, sound.sr)
            sent = 0  # audio samples encoded so far
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                container.mux(video.encode(frame))
                # Audio up to the end of this frame, in whole AAC frames, interleaved with the video.
                until = min(len(samples), int(round((i + 1) / fps * sound.sr)))
                while until - sent >= AAC_FRAME:
                    container.mux(aac.encode(_audio_frame(samples[sent:sent + AAC_FRAME], sent, sound.sr)))
                    sent += AAC_FRAME
            container.mux(video.encode(None))
            while sent < len(samples):
                chunk = samples[sent:sent + AAC_FRAME]
                container.mux(aac.encode(_audio_frame(chunk, sent, sound.sr)))
                sent += len(chunk)
            container.mux(aac.encode(None))
    return out


def _audio_frame(chunk: np.ndarray, pts: int, sr: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk, np.float32)[None, :], format="fltp",
                                       layout="mono")
    frame.sample_rate = sr
    frame.pts = pts
    frame.time_base = Fraction(1, sr)
    return frame
