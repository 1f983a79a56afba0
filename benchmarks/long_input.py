"""Long 16:9 benchmark inputs made of the real talking clips (issue 3).

``build_long_input`` concatenates every video under ``talking/`` and then ``edge/`` of the media folder
(each folder sorted by name), looping that list until the asked duration is reached. Nothing is copied
into the repository: the result and its cached segments go where ``dest`` says (use /tmp).

It works in two steps with the ffmpeg binary of ``imageio-ffmpeg`` (else the one on PATH):

1. each source is normalised once into a cached segment (``<dest folder>/talkset_segments_<W>x<H>_<preset>/``)
   with identical stream parameters, video and audio exactly as long as each other::

       ffmpeg -hide_banner -nostats -loglevel error -y -i SRC [-i SRC.wav]            # sidecar audio if no audio stream
         -map 0:v:0 -map 0:a:0 (or 1:a:0)                                               # or a silent lavfi anullsrc
         -vf "setpts=PTS-STARTPTS,fps=25,scale=1920:1080:force_original_aspect_ratio=decrease:force_divisible_by=2,
              pad=1920:1080:(ow-iw)/2:(oh-ih)/2:black,setsar=1,format=yuv420p"           # keep aspect, pad
         -af "asetpts=PTS-STARTPTS,aresample=44100,apad" -ac 2 -ar 44100                # 44.1 kHz stereo
         -t D                                                                           # D = video length on the 25 fps grid
         -c:v libx264 -preset ultrafast -crf 23 -g 50 -c:a pcm_s16le SEG.mov

2. one concat-demuxer call joins the segment list (repeated as often as needed), copies the video and
   encodes the audio once, and stops at the asked duration::

       ffmpeg -hide_banner -nostats -loglevel error -y -f concat -safe 0 -i list.txt -t SECONDS
         -c:v copy -c:a aac -b:a 128k -movflags +faststart DEST.mp4

   The segments keep PCM audio because AAC segments joined by stream copy each bring their encoder
   priming and last-frame padding (~35 ms): curate's audio loader concatenates decoded samples, so
   the audio would drift ahead of the video by that much per segment (2 s over 10 minutes). PCM
   segments of exactly D x 44100 samples join without a gap or an overlap.

``split_long_input`` cuts such a file into N parts of about equal length with the segment muxer
(stream copy, cut at the next keyframe; keyframes are at most 2 s apart)::

    ffmpeg -hide_banner -nostats -loglevel error -y -i DEST.mp4 -map 0 -c copy -f segment
      -segment_times T1,T2,... -reset_timestamps 1 DIR/part%03d.mp4

Both reuse what they find: a ``dest`` whose size and duration are right, cached segments, and a split
folder whose ``split.json`` names the same source file (size and mtime) and part count.

Run it from the project root (the default media folder is ``../shared/media``)::

    python benchmarks/long_input.py --minutes 10 --out /tmp/talkset_long10.mp4
    python benchmarks/long_input.py --minutes 10 --out /tmp/talkset_long10.mp4 --split 10
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

FOLDERS = ("talking", "edge")
VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
FPS = 25
SAMPLE_RATE = 44100
PRESET = "ultrafast"
CRF = 23
GOP = 2 * FPS
DURATION_TOLERANCE_S = 1.0
DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def ffmpeg_exe() -> str:
    """imageio-ffmpeg's static ffmpeg, else the one on PATH.

    Raises:
        SystemExit: neither is available.
    """
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        on_path = shutil.which("ffmpeg")
        if on_path:
            return on_path
    raise SystemExit("no ffmpeg: pip install -e '.[bench]' or put ffmpeg on PATH")


def media_info(path: Path) -> tuple[float, int, int, bool]:
    """(duration in seconds, width, height, has audio) of a media file, from its container."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0] if c.streams.video else None
        if vs is not None and vs.duration and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        else:
            duration = (c.duration or 0) / av.time_base
        width = vs.codec_context.width if vs is not None else 0
        height = vs.codec_context.height if vs is not None else 0
        return duration, width, height, bool(c.streams.audio)


def source_videos(media: Path) -> list[Path]:
    """The videos under ``media``'s talking/ and edge/ folders, folder by folder, sorted by name.

    Raises:
        SystemExit: a folder is missing or holds no video.
    """
    videos = []
    for name in FOLDERS:
        folder = media / name
        if not folder.is_dir():
            raise SystemExit(f"missing media folder {folder}")
        videos += sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if not videos:
        raise SystemExit(f"no videos under {media}")
    return videos


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(cmd)}\n{tail}")


def normalise(src: Path, dest: Path, width: int, height: int, exe: str, preset: str = PRESET) -> Path:
    """Re-encodes ``src`` to ``width``x``height`` (aspect kept, padded), 25 fps, 44.1 kHz stereo AAC.

    A source without an audio stream takes the ``.wav`` of the same name next to it, else silence.
    Audio is padded or cut to the video's length, so every segment starts both streams together.
    Reuses ``dest`` if it exists.
    """
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    duration, _, _, has_audio = media_info(src)
    frames = max(1, int(duration * FPS + 1e-6))
    seconds = frames / FPS
    sidecar = src.with_suffix(".wav")
    cmd = [exe, "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-i", str(src)]
    if has_audio:
        audio_map = "0:a:0"
    elif sidecar.is_file():
        cmd += ["-i", str(sidecar)]
        audio_map = "1:a:0"
    else:
        cmd += ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
        audio_map = "1:a:0"
    vf = (f"setpts=PTS-STARTPTS,fps={FPS},"
          f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
          f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:black,setsar=1,format=yuv420p")
    af = f"asetpts=PTS-STARTPTS,aresample={SAMPLE_RATE},apad"
    tmp = dest.with_name(f".{dest.name}.part{dest.suffix}")
    cmd += ["-map", "0:v:0", "-map", audio_map, "-vf", vf, "-af", af, "-ac", "2", "-ar", str(SAMPLE_RATE),
            "-t", f"{seconds:.3f}", "-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-g", str(GOP),
            "-c:a", "pcm_s16le", str(tmp)]
    _run(cmd)
    os.replace(tmp, dest)
    return dest


def _is_built(dest: Path, seconds: float, width: int, height: int) -> bool:
    if not dest.is_file():
        return False
    try:
        duration, w, h, has_audio = media_info(dest)
    except (av.FFmpegError, IndexError, ValueError):
        return False
    return abs(duration - seconds) <= DURATION_TOLERANCE_S and (w, h) == (width, height) and has_audio


def build_long_input(dest: Path, minutes: float, media: Path = DEFAULT_MEDIA, height: int = 1080, *,
                     preset: str = PRESET, verbose: bool = False) -> Path:
    """Builds (or reuses) a ``minutes``-long 16:9 H.264 + AAC file of the real talking clips, looped.

    Args:
        dest: the .mp4 to write; its folder also holds the cached segments.
        minutes: length of the result.
        media: the media folder with talking/ and edge/.
        height: frame height; the width is 16/9 of it (1080 -> 1920x1080).
        preset: libx264 preset of the segments.
        verbose: print what is being done to stderr.

    Returns:
        ``dest``.
    """
    dest = Path(dest)
    width = int(round(height * 16 / 9 / 2)) * 2
    seconds = minutes * 60
    if _is_built(dest, seconds, width, height):
        if verbose:
            print(f"reusing {dest}", file=sys.stderr)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    exe = ffmpeg_exe()
    seg_dir = dest.parent / f"talkset_segments_{width}x{height}_{preset}"
    seg_dir.mkdir(exist_ok=True)
    tic = time.perf_counter()
    segments = []
    for i, src in enumerate(source_videos(Path(media))):
        seg = seg_dir / f"{i:02d}_{src.parent.name}_{src.stem}.mov"
        if verbose and not seg.exists():
            print(f"normalising {src.name} -> {seg}", file=sys.stderr)
        normalise(src, seg, width, height, exe, preset)
        segments.append((seg, media_info(seg)[0]))
    entries, total = [], 0.0
    while total < seconds:
        for seg, duration in segments:
            entries.append(seg)
            total += duration
            if total >= seconds:
                break
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=seg_dir, delete=False) as f:
        f.write("".join(f"file '{p.resolve()}'\n" for p in entries))
        list_file = Path(f.name)
    tmp = dest.with_name(f".{dest.name}.part.mp4")
    try:
        if verbose:
            print(f"joining {len(entries)} segments into {dest} ({seconds:.0f} s)", file=sys.stderr)
        _run([exe, "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
              "-i", str(list_file), "-t", f"{seconds:.3f}", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
              "-movflags", "+faststart", str(tmp)])
        os.replace(tmp, dest)
    finally:
        list_file.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    if not _is_built(dest, seconds, width, height):
        raise RuntimeError(f"{dest}: built, but its duration or size is not the one asked for")
    if verbose:
        print(f"built {dest} in {time.perf_counter() - tic:.1f} s", file=sys.stderr)
    return dest


def split_long_input(src: Path, parts: int, dest_dir: Path, *, verbose: bool = False) -> list[Path]:
    """Cuts ``src`` into ``parts`` files of about equal length (stream copy, cuts at keyframes).

    Reuses ``dest_dir`` if its ``split.json`` names the same source (size, mtime) and part count.

    Returns:
        the part files, in order.
    """
    src, dest_dir = Path(src), Path(dest_dir)
    stat = src.stat()
    key = {"source": str(src.resolve()), "size": stat.st_size, "mtime": stat.st_mtime, "parts": parts}
    marker = dest_dir / "split.json"
    if marker.is_file():
        try:
            known = json.loads(marker.read_text())
            files = [dest_dir / name for name in known.get("files", [])]
            if known.get("key") == key and files and all(f.is_file() for f in files):
                if verbose:
                    print(f"reusing {len(files)} parts in {dest_dir}", file=sys.stderr)
                return files
        except (OSError, json.JSONDecodeError):
            pass
    if dest_dir.exists():
        shutil.rmtree(dest_dir)
    dest_dir.mkdir(parents=True)
    duration = media_info(src)[0]
    cuts = ",".join(f"{duration * k / parts:.3f}" for k in range(1, parts))
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-i", str(src), "-map", "0",
           "-c", "copy", "-f", "segment", "-reset_timestamps", "1"]
    cmd += ["-segment_times", cuts] if parts > 1 else []
    _run(cmd + [str(dest_dir / "part%03d.mp4")])
    files = sorted(dest_dir.glob("part*.mp4"))
    marker.write_text(json.dumps({"key": key, "files": [f.name for f in files]}, indent=1) + "\n")
    if verbose:
        print(f"split {src} into {len(files)} parts in {dest_dir}", file=sys.stderr)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, required=True, help="length of the result")
    p.add_argument("--out", type=Path, required=True, help="the .mp4 to write (put it under /tmp)")
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help=f"media folder (default: {DEFAULT_MEDIA})")
    p.add_argument("--height", type=int, default=1080, help="frame height; width is 16/9 of it")
    p.add_argument("--preset", default=PRESET, help="libx264 preset of the segments")
    p.add_argument("--split", type=int, default=0, help="also cut the result into N parts in <out stem>_split<N>/")
    args = p.parse_args(argv)
    out = build_long_input(args.out, args.minutes, args.media, args.height, preset=args.preset, verbose=True)
    duration, w, h, _ = media_info(out)
    print(f"{out}: {duration:.2f} s, {w}x{h}, {out.stat().st_size / 1e6:.1f} MB")
    if args.split:
        parts = split_long_input(out, args.split, out.with_name(f"{out.stem}_split{args.split}"), verbose=True)
        for part in parts:
            print(f"  {part}: {media_info(part)[0]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
