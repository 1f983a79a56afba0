"""A corpus of bad and odd inputs for ``talkset curate``: importable (``make_corpus``) and runnable as a script.

    python tests/curate/bad_inputs.py DEST [--media ../shared/media]

writes the corpus into DEST and prints each case and the ``talkset curate`` command that runs all of them.

Every case says what curate must do with it:

* ``expect="reason"``: the source cannot be used and gets exactly one failed record whose single reason is
  one line naming the file (``Case.shown_name``: the name after ``os.fsdecode``, unless ``named`` says).
* ``expect="ok"``: handled correctly, with no failed record; the optional fields (``resolution``,
  ``duration``, ``max_end``, ``kept``, ``records``) and ``check`` say what "correct" means for it.

Layout of DEST (curate gets ``curate_inputs(dest, cases)``: the folder, the two list files, the direct files):

    tree/          given as a folder (recursive walk: only video extensions, no symlinked folders followed)
    direct/        each file given directly by path (any extension is taken as a video)
    lists/sub/     list.csv and list.jsonl, whose rows climb out with ../ into lists/climb/
    lists/climb/   the files the list rows name

Media is generated with PyAV (no ffmpeg binary needed); where a case needs real talking content it is made
from ``talking/vox_man_tv_224.mp4`` of the shared footage (a copy, or its frames and audio re-encoded), only
ever inside DEST. The corpus is about 4 MB and takes 5-10 s to write (the 4K HEVC case is most of it).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

VOX = "talking/vox_man_tv_224.mp4"
SR = 16000  # sample rate of every generated audio track


@dataclass
class Case:
    """One input of the corpus and what curate must make of it.

    Attributes:
        name: short id (a pytest parameter id).
        path: the input the case is about, as curate is given it or finds it (it may not exist).
        expect: "reason" (one failed record, one line naming the file) or "ok" (no failed record).
        via: how curate gets it: "folder" (inside ``tree/``), "direct" (its own input), "list" (a list-file row).
        note: what the input is and why its expectation is the correct outcome.
        named: the name the reason must contain; default ``os.fsdecode(path.name)``.
        also_named: other spellings of the name a reason may use instead (escapes of undecodable bytes).
        reason_has: further lower-case words the reason must contain.
        resolution: "WxH" (display size, after rotation) every record of the source must report.
        duration: (lo, hi) seconds the probed duration must lie in (checked on the source's stored part).
        max_end: clip spans must end by this time (seconds on the container clock): what is decodable.
        kept: at least one clip must be kept, and its file written.
        records: False when the input must give no record at all (skipped by design, e.g. a folder loop).
        vanish: the test deletes the file after curate has listed its inputs and before a worker reads it.
        check: extra check ``check(records, out_dir) -> str | None`` (None: fine, else what is wrong), given
            every manifest record whose source path resolves to the same file as ``path``.
    """

    name: str
    path: Path
    expect: str
    via: str
    note: str = ""
    named: str | None = None
    also_named: tuple[str, ...] = ()
    reason_has: tuple[str, ...] = ()
    resolution: str | None = None
    duration: tuple[float, float] | None = None
    max_end: float | None = None
    kept: bool = False
    records: bool = True
    vanish: bool = False
    check: Callable[[list[dict], Path], str | None] | None = field(default=None, repr=False)

    @property
    def shown_name(self) -> str:
        return self.named if self.named is not None else os.fsdecode(self.path.name)


# ---------------------------------------------------------------------------------------------------------
# Media generation (PyAV only)


@dataclass
class Source:
    """The decoded real clip: RGB frames, their times, and mono speech samples at ``SR``."""

    frames: list[np.ndarray]
    times: list[float]
    speech: np.ndarray


def load_source(media: Path) -> Source:
    frames, times = [], []
    with av.open(str(media / VOX)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.time))
    with av.open(str(media / VOX)) as c:
        rs = av.AudioResampler(format="s16", layout="mono", rate=SR)
        chunks = [fr.to_ndarray().ravel() for frame in c.decode(audio=0) for fr in rs.resample(frame)]
        chunks += [fr.to_ndarray().ravel() for fr in rs.resample(None)]
    return Source(frames, times, np.concatenate(chunks).astype(np.int16))


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def pattern(w: int, h: int, i: int) -> np.ndarray:
    """A moving gradient, RGB."""
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    img = np.stack([(x + 8 * i) % 256 + 0 * y, (y + 4 * i) % 256 + 0 * x, np.full((h, w), 128.0)], axis=-1)
    return img.astype(np.uint8)


def write_video(path: Path, frames, pts: list[int], time_base: Fraction, *, rate: Fraction | int = 25,
                codec: str = "libx264", pix_fmt: str = "yuv420p", audio: np.ndarray | None = None,
                rotation: int | None = None, fmt: str | None = None, options: dict | None = None,
                container_options: dict | None = None) -> None:
    """Encodes RGB ``frames`` (arrays, or 10-bit yuv planes when ``pix_fmt`` is 10-bit) at ``pts`` ticks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(os.fsdecode(path), "w", format=fmt or "mp4", options=container_options or {}) as out:
        first = frames[0]
        vs = out.add_stream(codec, rate=rate)
        vs.height, vs.width = first.shape[:2]
        if pix_fmt == "yuv420p10le":  # planes stacked: luma rows, then both chroma planes
            vs.height = first.shape[0] * 2 // 3
        vs.pix_fmt = pix_fmt
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        vs.codec_context.options = {"preset": "ultrafast", **(options or {})} if codec.startswith("libx") else \
            dict(options or {})
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = None
        if audio is not None:
            aus = out.add_stream("aac", rate=SR)
            aus.layout = "mono"
        for img, p in zip(frames, pts):
            if pix_fmt == "yuv420p10le":
                frame = av.VideoFrame.from_ndarray(img, format="yuv420p10le")
            else:
                frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            frame.pts = p
            frame.time_base = time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus is not None:
            for start in range(0, len(audio), 1024):
                chunk = audio[start:start + 1024][None, :]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout="mono")
                af.sample_rate = SR
                af.pts = start
                af.time_base = Fraction(1, SR)
                out.mux(aus.encode(af))
            out.mux(aus.encode(None))


def write_audio(path: Path, samples: np.ndarray, *, fmt: str, codec: str) -> None:
    with av.open(os.fsdecode(path), "w", format=fmt) as out:
        aus = out.add_stream(codec, rate=SR)
        aus.layout = "mono"
        for start in range(0, len(samples), 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[start:start + 1024][None, :]),
                                            format="s16", layout="mono")
            af.sample_rate = SR
            af.pts = start
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))


def small_video(path: Path, *, seconds: float = 1.0, size=(64, 48), audio: np.ndarray | None = None,
                **kw) -> None:
    """A short synthetic H.264 video at 25 fps with a tone (or ``audio``): processed quickly, no speech."""
    n = int(seconds * 25)
    write_video(path, [pattern(*size, i) for i in range(n)], list(range(n)), Fraction(1, 25),
                audio=tone(seconds) if audio is None else audio, **kw)


def faststart_copy(src: Path, dst: Path) -> None:
    """Remuxes ``src`` (no re-encoding) with the moov atom before the media data."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[s for s in inp.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def atoms(data: bytes) -> list[tuple[int, bytes, int]]:
    """Top-level MP4 boxes: (offset, type, size)."""
    found, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        elif size == 0:
            size = len(data) - i
        found.append((i, kind, size))
        if size < 8:
            break
        i += size
    return found


def decodable_end(path: Path) -> float:
    """End (last frame time + one frame) of what PyAV decodes from ``path`` before an error or EOF."""
    last, step = None, 0.04
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        step = 1 / float(vs.guessed_rate or 25)
        try:
            for f in c.decode(vs):
                if f.time is not None:
                    last = f.time
        except av.FFmpegError:
            pass
    return (last if last is not None else 0.0) + step


# ---------------------------------------------------------------------------------------------------------
# Checks on an "ok" case's records


def _clip_file_size(out: Path, rec: dict) -> tuple[int, int]:
    with av.open(str(out / rec["video-path"])) as c:
        vs = c.streams.video[0]
        return vs.codec_context.width, vs.codec_context.height


def kept_clip_size(expected: tuple[int, int]) -> Callable[[list[dict], Path], str | None]:
    """Every kept clip file is ``expected`` (w, h) pixels: rotation applied to the pixels, not only the label."""
    def check(records: list[dict], out: Path) -> str | None:
        for rec in records:
            if rec["status"] == "kept" and rec.get("video-path"):
                got = _clip_file_size(out, rec)
                if got != expected:
                    return f"clip {rec['id']} is {got[0]}x{got[1]}, expected {expected[0]}x{expected[1]}"
        return None
    return check


def one_source_only(records: list[dict], out: Path) -> str | None:
    """All records of the file (matched by resolved path) belong to one source: it was curated once."""
    ids = sorted({r["video-id"] for r in records})
    return None if len(ids) == 1 else f"the same file was curated {len(ids)} times, as {ids}"


# ---------------------------------------------------------------------------------------------------------
# The corpus


# Every case make_corpus returns, in order (tests are parametrized by these before the corpus exists).
CASE_NAMES = (
    "zero_bytes", "truncated_1pct", "truncated_10pct", "truncated_50pct", "truncated_90pct",
    "faststart_truncated_before_data", "faststart_truncated_60pct", "garbage_appended", "moov_missing",
    "mp4_named_txt_direct", "mp4_named_mov", "text_named_mp4", "wav_named_mp4", "audio_only_mp4",
    "audio_only_m4a_direct", "audio_only_wav_direct", "video_without_audio", "one_by_one_pixel", "hevc_4k_10bit",
    "rotation_minus_90", "variable_frame_rate", "fps_2000", "fps_one_per_1000s", "absurd_duration",
    "name_with_spaces", "name_unicode", "name_not_utf8", "symlink_loop", "broken_symlink",
    "symlink_to_listed_file", "directory_named_mp4", "video_inside_dir_named_mp4", "directory_named_mp4_direct",
    "hidden_file", "removed_after_listing", "csv_row_climbing_out", "csv_row_missing",
    "csv_video_without_audio_plus_audio_path", "csv_audio_path_missing", "jsonl_row_climbing_out",
    "jsonl_row_missing",
)


def make_corpus(dest: Path, media: Path) -> list[Case]:
    """Writes the corpus into ``dest`` (created) and returns its cases (named as ``CASE_NAMES``)."""
    dest = Path(dest)
    media = Path(media)
    tree, direct, lists = dest / "tree", dest / "direct", dest / "lists"
    sub, climb = lists / "sub", lists / "climb"
    for d in (tree, direct, sub, climb):
        d.mkdir(parents=True, exist_ok=True)
    vox_bytes = (media / VOX).read_bytes()
    src = load_source(media)
    n = len(src.frames)
    vox_pts = [round(t * 25) for t in src.times]
    cases: list[Case] = []

    def add(name, path, expect, via, note, **kw):
        cases.append(Case(name, path, expect, via, note, **kw))

    # --- empty, truncated, missing moov, garbage --------------------------------------------------------
    (tree / "zero.mp4").write_bytes(b"")
    add("zero_bytes", tree / "zero.mp4", "reason", "folder", "0 bytes", reason_has=("empty",))

    moov_at = next(off for off, kind, _ in atoms(vox_bytes) if kind == b"moov")
    for pct in (1, 10, 50, 90):
        p = tree / f"truncated_{pct:02d}.mp4"
        p.write_bytes(vox_bytes[: len(vox_bytes) * pct // 100])
        add(f"truncated_{pct}pct", p, "reason", "folder",
            f"the shared clip cut at {pct}%: its moov atom is at the end (offset {moov_at} of {len(vox_bytes)}), "
            "so every truncation loses the index and nothing is decodable: a reason, not a partial result")

    fast = dest / "faststart.tmp.mp4"
    faststart_copy(media / VOX, fast)
    fast_bytes = fast.read_bytes()
    fast.unlink()
    mdat_at = next(off for off, kind, _ in atoms(fast_bytes) if kind == b"mdat")
    p = tree / "faststart_truncated_moov_only.mp4"
    p.write_bytes(fast_bytes[: mdat_at + 200])
    add("faststart_truncated_before_data", p, "reason", "folder",
        "moov first (faststart) then cut 200 bytes into the media data: an index and no decodable frame")
    p = tree / "faststart_truncated_60.mp4"
    p.write_bytes(fast_bytes[: len(fast_bytes) * 60 // 100])
    add("faststart_truncated_60pct", p, "ok", "folder",
        "moov first, cut at 60%: the first part decodes, so it is usable; correct = processed without failure, "
        "clips only from what decodes (the index still claims the full 7 s)",
        max_end=decodable_end(p) + 0.05)

    p = tree / "garbage_appended.mp4"
    p.write_bytes(vox_bytes + np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes())
    add("garbage_appended", p, "ok", "folder", "the shared clip + 300 kB of random bytes after moov: "
        "a player ignores the tail, so the clip must still be kept", kept=True, duration=(6.9, 7.1))

    data = bytearray(vox_bytes)
    # The index becomes an unknown box that demuxers skip: full size, no moov ('free' would not do: FFmpeg
    # looks inside a free box for a lost moov and finds it).
    data[moov_at + 4: moov_at + 8] = b"junk"
    p = tree / "no_moov.mp4"
    p.write_bytes(bytes(data))
    add("moov_missing", p, "reason", "folder", "full-length mp4 whose moov box is renamed 'junk'")

    # --- wrong extensions, not media, no video -----------------------------------------------------------
    p = direct / "real_mp4.txt"
    p.write_bytes(vox_bytes)
    add("mp4_named_txt_direct", p, "ok", "direct",
        "a real mp4 named .txt given directly: a direct file is taken whatever its extension", kept=True)
    small_video(tree / "real_mp4_named.mov")
    add("mp4_named_mov", tree / "real_mp4_named.mov", "ok", "folder",
        "an mp4 named .mov in the folder (a video extension): opened by content", resolution="64x48")
    (tree / "notes.mp4").write_text("this is a text file, not a video\n" * 20)
    add("text_named_mp4", tree / "notes.mp4", "reason", "folder", "a text file named .mp4")
    sf.write(tree / "speech_wav.mp4", src.speech, SR, format="WAV", subtype="PCM_16")
    add("wav_named_mp4", tree / "speech_wav.mp4", "reason", "folder", "a WAV file named .mp4: no video",
        reason_has=("audio only",))
    p = tree / "audio_only.mp4"
    write_audio(p, src.speech, fmt="mp4", codec="aac")
    add("audio_only_mp4", p, "reason", "folder", "AAC in mp4, no video stream", reason_has=("audio only",))
    p = direct / "audio_only.m4a"
    write_audio(p, src.speech, fmt="ipod", codec="aac")
    add("audio_only_m4a_direct", p, "reason", "direct", ".m4a given directly (a folder walk would skip it)",
        reason_has=("audio only",))
    p = direct / "speech.wav"
    sf.write(p, src.speech, SR, subtype="PCM_16")
    add("audio_only_wav_direct", p, "reason", "direct", "a WAV given directly", reason_has=("audio only",))

    p = tree / "video_no_audio.mp4"
    write_video(p, src.frames, vox_pts, Fraction(1, 25))
    add("video_without_audio", p, "reason", "folder",
        "the talking frames, no audio stream and no audio_path: unusable for a talking-head set",
        reason_has=("no audio",))

    # --- sizes, codecs, rotation, timing ----------------------------------------------------------------
    p = tree / "one_pixel.mp4"
    write_video(p, [np.full((1, 1, 3), 40 + i, np.uint8) for i in range(n)], vox_pts, Fraction(1, 25),
                pix_fmt="yuv444p", audio=src.speech)
    add("one_by_one_pixel", p, "ok", "folder",
        "1x1 px H.264 (yuv444p: libx264 refuses 1x1 in 4:2:0) with 7 s of real speech: every stage runs on "
        "it; correct = rejected clips or a rejected source, never a failure", resolution="1x1")

    if "libx265" in av.codecs_available:
        w4, h4 = 3840, 2160
        luma = np.tile(np.linspace(64, 940, w4).astype(np.uint16), (h4, 1))
        chroma = np.full(w4 * h4 // 2, 512, np.uint16)
        planes = [np.concatenate([np.roll(luma, 32 * i, axis=1).ravel(), chroma]).reshape(-1, w4)
                  for i in range(10)]
        p = tree / "uhd_hevc_10bit.mp4"
        write_video(p, planes, list(range(10)), Fraction(1, 10), rate=10, codec="libx265",
                    pix_fmt="yuv420p10le", audio=src.speech[: SR], options={"x265-params": "log-level=error"})
        add("hevc_4k_10bit", p, "ok", "folder", "3840x2160 HEVC Main10 (yuv420p10le), 1 s at 10 fps",
            resolution="3840x2160", duration=(0.9, 1.15))
    else:  # pragma: no cover - PyAV wheels ship libx265
        p = tree / "uhd_mpeg4.mp4"
        write_video(p, [pattern(3840, 2160, i) for i in range(10)], list(range(10)), Fraction(1, 10), rate=10,
                    codec="mpeg4", audio=src.speech[: SR])
        add("hevc_4k_10bit", p, "ok", "folder", "no libx265 in this PyAV: 3840x2160 mpeg4 (8-bit) instead",
            resolution="3840x2160")

    # Portrait phone video: stored landscape 288x224, display matrix -90 (270 counter-clockwise).
    pad = [np.pad(f, ((32, 32), (0, 0), (0, 0))) for f in src.frames]  # upright 224 wide, 288 high
    # The pipeline turns stored pixels counter-clockwise by the display angle (270): store them turned by 90.
    stored = [np.ascontiguousarray(np.rot90(f, 1)) for f in pad]
    p = tree / "phone_rotated.mp4"
    write_video(p, stored, vox_pts, Fraction(1, 25), audio=src.speech, rotation=-90)
    add("rotation_minus_90", p, "ok", "folder",
        "stored 288x224 with display rotation -90: displays 224x288 portrait; the manifest and the clip file "
        "must both be 224x288", resolution="224x288", kept=True, check=kept_clip_size((224, 288)))

    # Variable frame rate: real frames, every 4th dropped and the rest jittered, on a 1/1000 clock.
    rng = np.random.default_rng(1)
    keep = [i for i in range(n) if i % 4 != 3]
    vfr_pts = sorted({int(round(src.times[i] * 1000 + rng.integers(-8, 9))) for i in keep})
    p = tree / "variable_fps.mp4"
    write_video(p, [src.frames[i] for i in keep][: len(vfr_pts)], vfr_pts, Fraction(1, 1000), rate=25,
                audio=src.speech)
    add("variable_frame_rate", p, "ok", "folder",
        "the talking clip with a quarter of the frames dropped and +-8 ms jitter (1 ms clock)",
        duration=(6.5, 7.2), max_end=7.2)

    p = tree / "fps_2000.mp4"
    write_video(p, [pattern(32, 32, i) for i in range(200)], list(range(200)), Fraction(1, 2000), rate=2000,
                audio=tone(1.0))
    add("fps_2000", p, "reason", "folder", "200 frames 0.5 ms apart (2000 fps): beyond probe's 1000 fps limit",
        reason_has=("frame rate",))

    p = tree / "fps_0.001.mp4"
    write_video(p, [pattern(64, 48, i) for i in range(3)], [0, 1, 2], Fraction(1000, 1), rate=Fraction(1, 1000),
                audio=src.speech)
    add("fps_one_per_1000s", p, "ok", "folder",
        "3 frames 1000 s apart (0.001 fps, 2000+ s) with 7 s of speech: a slideshow, not an error",
        duration=(1999.0, 3001.0))

    p = tree / "absurd_duration.mp4"
    # A 1 ms track clock: the mp4 muxer would otherwise pick 1/16000 s and overflow 32-bit sample deltas.
    write_video(p, [pattern(64, 48, i) for i in range(2)], [0, 999_999_000], Fraction(1, 1000),
                audio=src.speech, container_options={"video_track_timescale": "1000"})
    add("absurd_duration", p, "ok", "folder",
        "two frames, the second at 999 999 s (11.6 days), 7 s of speech: must finish quickly, no failure",
        duration=(0.0, 2_000_000.0))

    # --- names -------------------------------------------------------------------------------------------
    small_video(tree / "with  spaces and 'quotes'.mp4")
    add("name_with_spaces", tree / "with  spaces and 'quotes'.mp4", "ok", "folder", "spaces and quotes in the name")
    p = tree / "vidéo 日本.mp4"
    p.write_bytes(vox_bytes)
    add("name_unicode", p, "ok", "folder", "a unicode name (accents, CJK) on the real clip: clip files written",
        kept=True)
    # Given directly (a folder walk yields the same str): a test can then leave it out of a run.
    raw = os.fsencode(direct) + b"/caf\xe9.mp4"
    small_video(Path(os.fsdecode(raw)))
    add("name_not_utf8", Path(os.fsdecode(raw)), "reason", "direct",
        "a valid video whose name is Latin-1 bytes (b'caf\\xe9.mp4'), not UTF-8; Python sees 'caf\\udce9.mp4'. "
        "The manifest is UTF-8 JSON and Parquet, which cannot hold that name as it is, so a one-line reason "
        "naming it (undecodable bytes shown as U+FFFD) is the expected outcome",
        also_named=("caf\ufffd.mp4",), reason_has=("not valid utf-8",))

    # --- folders and links -------------------------------------------------------------------------------
    os.symlink(".", tree / "loop")  # tree/loop -> tree
    add("symlink_loop", tree / "loop", "ok", "folder", "tree/loop -> tree: the walk must end, nothing recorded",
        records=False)
    os.symlink("nowhere.mp4", tree / "broken_link.mp4")
    add("broken_symlink", tree / "broken_link.mp4", "reason", "folder", "a symlink to a missing file",
        reason_has=("no such file",))
    os.symlink(media / VOX, tree / "link_to_good.mp4")
    add("symlink_to_listed_file", tree / "link_to_good.mp4", "ok", "folder",
        "a link (another name) to the shared clip that is also given directly: the same file, so one source "
        "curated once, not two sets of identical clips", check=one_source_only)
    (tree / "dir_named.mp4").mkdir()
    small_video(tree / "dir_named.mp4" / "inside.mp4")
    add("directory_named_mp4", tree / "dir_named.mp4", "ok", "folder",
        "a folder named x.mp4 is walked into, not opened as a video", records=False)
    add("video_inside_dir_named_mp4", tree / "dir_named.mp4" / "inside.mp4", "ok", "folder",
        "the video inside the folder named .mp4 is found", resolution="64x48")
    (direct / "given_dir.mp4").mkdir()
    add("directory_named_mp4_direct", direct / "given_dir.mp4", "ok", "direct",
        "an empty folder named .mp4 given directly: walked as a folder, nothing in it", records=False)
    small_video(tree / ".hidden.mp4")
    add("hidden_file", tree / ".hidden.mp4", "ok", "folder", "dot files are skipped by the walk", records=False)

    p = tree / "vanishing.mp4"
    small_video(p)
    add("removed_after_listing", p, "reason", "folder",
        "found by the folder walk, then deleted by the test (a wrapper around talkset.curate.run.expand_inputs) "
        "before any worker opens it", reason_has=("no such file",), vanish=True)

    # --- list files --------------------------------------------------------------------------------------
    small_video(climb / "csv_row.mp4")
    small_video(climb / "jsonl_row.mp4")
    write_video(climb / "silent_video.mp4", src.frames, vox_pts, Fraction(1, 25))
    sf.write(climb / "silent_video_audio.wav", src.speech, SR, subtype="PCM_16")
    write_video(climb / "silent_video2.mp4", [pattern(64, 48, i) for i in range(25)], list(range(25)),
                Fraction(1, 25))
    (sub / "list.csv").write_text(
        "path,audio_path,subtitle_path\n"
        "../climb/csv_row.mp4,,\n"
        "missing_from_csv.mp4,,\n"
        "../climb/silent_video.mp4,../climb/silent_video_audio.wav,\n"
        "../climb/silent_video2.mp4,../climb/no_such_audio.wav,\n", encoding="utf-8")
    (sub / "list.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"path": "../climb/jsonl_row.mp4"},
        {"path": "../../nowhere/missing_from_jsonl.mp4"},
    ]) + "\n", encoding="utf-8")
    add("csv_row_climbing_out", climb / "csv_row.mp4", "ok", "list",
        "CSV row '../climb/csv_row.mp4': resolved against the list file's folder and processed",
        resolution="64x48")
    add("csv_row_missing", sub / "missing_from_csv.mp4", "reason", "list", "a CSV row naming a missing file",
        reason_has=("no such file",))
    add("csv_video_without_audio_plus_audio_path", climb / "silent_video.mp4", "ok", "list",
        "a video without audio whose speech is given by audio_path (../ relative): usable, clip kept",
        kept=True)
    add("csv_audio_path_missing", climb / "silent_video2.mp4", "reason", "list",
        "a video without audio whose audio_path names a missing file: the reason names the audio file",
        named="no_such_audio.wav")
    add("jsonl_row_climbing_out", climb / "jsonl_row.mp4", "ok", "list",
        "JSONL row '../climb/jsonl_row.mp4' resolved against the list's folder", resolution="64x48")
    add("jsonl_row_missing", lists.parent / "nowhere" / "missing_from_jsonl.mp4", "reason", "list",
        "a JSONL row '../../nowhere/...' (out of lists/) naming a missing file", reason_has=("no such file",))
    return cases


def curate_inputs(dest: Path, cases: list[Case]) -> list[Path]:
    """What curate is given: the folder, both list files, and every direct case."""
    dest = Path(dest)
    return [dest / "tree", dest / "lists" / "sub" / "list.csv", dest / "lists" / "sub" / "list.jsonl",
            *[c.path for c in cases if c.via == "direct"]]


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path, help="folder to write the corpus into (created; should be empty)")
    ap.add_argument("--media", type=Path, default=here.parents[3] / "shared" / "media",
                    help="the shared footage folder (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        ap.error(f"{args.dest} is not empty")
    cases = make_corpus(args.dest, args.media)
    out = sys.stdout.buffer  # raw bytes: one path is not UTF-8, and the command line must name it exactly
    for c in cases:
        out.write(f"{c.expect:6} {c.via:6} {c.name:42} ".encode() + os.fsencode(c.path) + b"\n")
    out.write(b"\nrun all of them (with the real clip, for one good video):\n")
    paths = [*curate_inputs(args.dest, cases), args.media / VOX]
    out.write(b"talkset curate " + b" ".join(shlex.quote(os.fsdecode(p)).encode("utf-8", "surrogateescape")
                                             for p in paths) + b" OUT\n")
    out.write(b"(removed_after_listing is only removed by the test; in a manual run it is an ordinary video)\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
