"""Body-pose accuracy lost when the pose runs on every k-th frame only (issue 12, the pose rate choice).

For each real talking video (``--sets``, default ``talking``, ``calibration/talking`` and ``edge`` of the media
folder), frames are decoded as curate does (``decode_frames``, ``work_rgb``: longer side 640 px) and:

1. the reference: a fresh ``BodyPoser`` (tracking mode) runs on every frame. A video is scored only if it finds a
   body on at least ``MIN_BODY_FRACTION`` of the frames (close-ups often give none) and both shoulders are
   visible somewhere (the error's unit is the video's median shoulder width);
2. for each rate (15, 10, 5, 2.5, 1 fps) with k = round(fps / rate) (k >= 2; a rate whose k is 1 is the
   reference itself), a fresh ``BodyPoser`` per video is fed only frames 0, k, 2k, ..., exactly as a curate pass
   at that rate would. Points in between are linearly interpolated, only between two consecutive measured frames
   that both found a body; other frames have no estimate (counted as not covered).

Scored, pooled over all videos: the mean and 95th percentile of the distance between reference and estimate of
each point the reference sees (visibility >= 0.5), divided by the shoulder width; coverage (the share of those
points that have an estimate); frame shot types (``frame_shot_type``) that agree; clip shot types
(``clip_shot_type`` of each video, with every frame counted as a face frame: these are talking-head videos) that
agree; and the pose CPU seconds (``time.process_time``, all threads of this process) per second of video.
Hands (``HandPoser``, run only on frames where that run's pose shows a wrist, as curate does) are scored the same
way on the points the reference run finds, unless ``--no-hands``.

Recommended default (printed): the lowest rate such that it and every higher rate keep the mean body-point error
under 5 % of shoulder width and clip shot types agreeing on at least 98 % of the videos.

Run it from the project root; it prints a table and writes ``<out>/pose_rate.json``::

    python benchmarks/pose_rate.py [--media ../shared/media] [--out /tmp/pose_rate]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from talkset.curate.annotate import wrist_in_view
from talkset.curate.inputs import expand_inputs
from talkset.media.frames import decode_frames
from talkset.media.probe import probe
from talkset.vision.face import filter_native_stderr
from talkset.vision.pose import SHOULDERS, BodyPoser, HandPoser, clip_shot_type, frame_shot_type

SETS = ("talking", "calibration/talking", "edge")
RATES = (15.0, 10.0, 5.0, 2.5, 1.0)
WORK_MAX_SIDE = 640  # curate's [analysis] work_max_side
SHOT_MAX_SIDE = 256
MIN_VISIBILITY = 0.5
MIN_BODY_FRACTION = 0.5
MAX_MEAN_ERROR = 0.05  # of shoulder width
MIN_CLIP_AGREEMENT = 0.98
DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


@dataclass
class Run:
    """One poser pass over one video: points per frame (NaN: no estimate) and the CPU it took."""

    body: np.ndarray  # (N, 33, 4)
    hands: np.ndarray  # (N, 2, 21, 3)
    body_cpu_s: float = 0.0
    hands_cpu_s: float = 0.0


@dataclass
class VideoScore:
    """What one rate gives on one video, against its every-frame run."""

    k: int
    body_errors: np.ndarray  # normalised errors of the covered visible points
    body_visible: int
    hand_errors: np.ndarray
    hand_visible: int
    frame_shots_agree: int
    frame_shots: int
    clip_shot: str | None
    body_cpu_s: float
    hands_cpu_s: float


@dataclass
class Video:
    """One scored video."""

    path: str
    fps: float
    duration_s: float
    frames: int
    body_fraction: float
    shoulder_px: float
    clip_shot: str | None
    ref_body_cpu_s: float
    ref_hands_cpu_s: float
    scores: dict[float, VideoScore] = field(default_factory=dict)


def step_for(fps: float, rate: float) -> int:
    """Frames between two pose runs at ``rate`` (Hz) on a ``fps`` video; half-way rounds up."""
    return max(1, int(fps / rate + 0.5))


def run_poses(path: str, steps: list[int], hands: bool) -> tuple[dict[int, Run], int, tuple[int, int]]:
    """One decode of ``path`` feeding a fresh BodyPoser (and HandPoser) per step with frames 0, k, 2k, ...

    Returns:
        the runs by step, the frame count and the work frame size (width, height).
    """
    info = probe(path)
    posers = {k: (BodyPoser(), HandPoser() if hands else None) for k in steps}
    bodies: dict[int, list] = {k: [] for k in steps}
    hand_pts: dict[int, list] = {k: [] for k in steps}
    cpu = {k: [0.0, 0.0] for k in steps}
    size = (0, 0)
    n = 0
    for n, fv in enumerate(decode_frames(path, info.rotation_deg, WORK_MAX_SIDE, SHOT_MAX_SIDE), 1):
        rgb = fv.work_rgb
        h, w = rgb.shape[:2]
        size = (w, h)
        for k, (body_model, hand_model) in posers.items():
            if (n - 1) % k:
                bodies[k].append(None)
                hand_pts[k].append(None)
                continue
            tic = time.process_time()
            pts = body_model(rgb)
            cpu[k][0] += time.process_time() - tic
            bodies[k].append(pts)
            hp = None
            if hand_model is not None and pts is not None and wrist_in_view(pts, w, h):
                tic = time.process_time()
                hp = hand_model(rgb)[0]
                cpu[k][1] += time.process_time() - tic
            hand_pts[k].append(hp)
    for body_model, hand_model in posers.values():
        for model in (body_model, hand_model):
            if model is not None:
                model.reset()
    runs = {}
    for k in steps:
        body = np.full((n, 33, 4), np.nan, np.float32)
        hand = np.full((n, 2, 21, 3), np.nan, np.float32)
        for i, (b, hp) in enumerate(zip(bodies[k], hand_pts[k])):
            if b is not None:
                body[i] = b
            if hp is not None:
                hand[i] = hp
        runs[k] = Run(body, hand, *cpu[k])
    return runs, n, size


def interpolate(points: np.ndarray, k: int) -> np.ndarray:
    """Fills the frames between measured frames 0, k, 2k, ... linearly, slot by slot, where both ends are
    finite; everything else stays NaN.

    Args:
        points: (N, slots, values) with NaN where nothing was measured: a body is one slot of 33 x 4 values,
            hands are two slots (left, right) of 21 x 3.
        k: frames between two measured frames.
    """
    out = points.copy()
    measured = list(range(0, len(points), k))
    for a, b in zip(measured, measured[1:]):
        w = ((np.arange(a + 1, b) - a) / (b - a))[:, None]
        for s in range(points.shape[1]):
            pa, pb = points[a, s], points[b, s]
            if np.all(np.isfinite(pa)) and np.all(np.isfinite(pb)):
                out[a + 1 : b, s] = pa + w * (pb - pa)
    return out


def shoulder_width(body: np.ndarray) -> float:
    """Median shoulder distance (pixels) over frames where both shoulders are visible, or NaN."""
    s = body[:, list(SHOULDERS)]
    ok = np.all(s[:, :, 3] >= MIN_VISIBILITY, axis=1)
    if not ok.any():
        return float("nan")
    return float(np.median(np.linalg.norm(s[ok, 0, :2] - s[ok, 1, :2], axis=1)))


def score(ref: Run, est: Run, k: int, shoulder_px: float, size: tuple[int, int]) -> VideoScore:
    """One rate's run against the every-frame run of the same video (pure: arrays in, numbers out)."""
    n = len(est.body)
    body = interpolate(est.body.reshape(n, 1, -1), k).reshape(est.body.shape)
    visible = ref.body[..., 3] >= MIN_VISIBILITY  # NaN compares False
    covered = visible & np.all(np.isfinite(body[..., :2]), axis=-1)
    body_err = np.linalg.norm(body[..., :2] - ref.body[..., :2], axis=-1)[covered] / shoulder_px
    hands = interpolate(est.hands.reshape(n, 2, -1), k).reshape(est.hands.shape)
    hand_seen = np.all(np.isfinite(ref.hands[..., :2]), axis=-1)
    hand_cov = hand_seen & np.all(np.isfinite(hands[..., :2]), axis=-1)
    hand_err = np.linalg.norm(hands[..., :2] - ref.hands[..., :2], axis=-1)[hand_cov] / shoulder_px
    w, h = size
    ref_shots = [frame_shot_type(None if np.isnan(b[0, 0]) else b, w, h) for b in ref.body]
    est_shots = [frame_shot_type(None if np.isnan(b[0, 0]) else b, w, h) for b in body]
    judged = [(r, e) for r, e in zip(ref_shots, est_shots) if r is not None]
    return VideoScore(
        k=k,
        body_errors=body_err,
        body_visible=int(visible.sum()),
        hand_errors=hand_err,
        hand_visible=int(hand_seen.sum()),
        frame_shots_agree=sum(r == e for r, e in judged),
        frame_shots=len(judged),
        clip_shot=clip_shot_type(est_shots, len(est_shots)),
        body_cpu_s=est.body_cpu_s,
        hands_cpu_s=est.hands_cpu_s,
    )


def measure(path: str, hands: bool) -> tuple[Video | None, str]:
    """The reference run, then every rate's run, of one video; None and why if it is not scored."""
    ref_runs, n, size = run_poses(path, [1], hands)
    ref = ref_runs[1]
    info = probe(path)
    fps = float(info.fps)
    found = float(np.isfinite(ref.body[:, 0, 0]).mean()) if n else 0.0
    sw = shoulder_width(ref.body)
    if found < MIN_BODY_FRACTION or not np.isfinite(sw) or sw <= 0:
        return None, f"{Path(path).name}: body on {found:.0%} of frames, shoulder width {sw:.0f} px: not scored"
    ref_shots = [frame_shot_type(None if np.isnan(b[0, 0]) else b, *size) for b in ref.body]
    video = Video(
        path=path,
        fps=fps,
        duration_s=n / fps,
        frames=n,
        body_fraction=found,
        shoulder_px=sw,
        clip_shot=clip_shot_type(ref_shots, n),
        ref_body_cpu_s=ref.body_cpu_s,
        ref_hands_cpu_s=ref.hands_cpu_s,
    )
    steps = {rate: step_for(fps, rate) for rate in RATES}
    runs, _, _ = run_poses(path, sorted({k for k in steps.values() if k > 1}), hands)
    runs[1] = ref
    for rate, k in steps.items():
        video.scores[rate] = score(ref, runs[k], k, sw, size)
    return video, ""


@dataclass
class RateRow:
    """One rate pooled over the scored videos."""

    rate: str
    ks: list[int]
    body_mean: float
    body_p95: float
    body_coverage: float
    hand_mean: float
    hand_p95: float
    hand_coverage: float
    frame_shot_agreement: float
    clip_shot_agreement: float
    body_cpu_per_video_s: float
    hands_cpu_per_video_s: float
    worst_video_mean: float
    passes: bool


def pool(videos: list[Video]) -> list[RateRow]:
    """Rows for every frame and each rate, pooled over ``videos``."""
    seconds = sum(v.duration_s for v in videos)
    rows = []
    for rate in (None, *RATES):
        if rate is None:
            ks, body_e, hand_e = [1], np.zeros(1), np.zeros(0)
            body_vis = body_cov = hand_vis = hand_cov = 1
            frame_agree, clip_agree, worst = 1.0, 1.0, 0.0
            body_cpu = sum(v.ref_body_cpu_s for v in videos)
            hands_cpu = sum(v.ref_hands_cpu_s for v in videos)
        else:
            sc = [v.scores[rate] for v in videos]
            ks = sorted({s.k for s in sc})
            body_e = np.concatenate([s.body_errors for s in sc])
            hand_e = np.concatenate([s.hand_errors for s in sc])
            body_vis, body_cov = sum(s.body_visible for s in sc), len(body_e)
            hand_vis, hand_cov = sum(s.hand_visible for s in sc), len(hand_e)
            frame_agree = sum(s.frame_shots_agree for s in sc) / max(1, sum(s.frame_shots for s in sc))
            clip_agree = float(np.mean([s.clip_shot == v.clip_shot for s, v in zip(sc, videos)]))
            worst = max(float(s.body_errors.mean()) if len(s.body_errors) else float("nan") for s in sc)
            body_cpu = sum(s.body_cpu_s for s in sc)
            hands_cpu = sum(s.hands_cpu_s for s in sc)
        body_mean = float(body_e.mean()) if len(body_e) else float("nan")
        rows.append(
            RateRow(
                rate="every frame" if rate is None else f"{rate:g} fps",
                ks=ks,
                body_mean=body_mean,
                body_p95=float(np.percentile(body_e, 95)) if len(body_e) else float("nan"),
                body_coverage=body_cov / max(1, body_vis),
                hand_mean=float(hand_e.mean()) if len(hand_e) else float("nan"),
                hand_p95=float(np.percentile(hand_e, 95)) if len(hand_e) else float("nan"),
                hand_coverage=hand_cov / max(1, hand_vis),
                frame_shot_agreement=frame_agree,
                clip_shot_agreement=clip_agree,
                body_cpu_per_video_s=body_cpu / seconds,
                hands_cpu_per_video_s=hands_cpu / seconds,
                worst_video_mean=worst,
                passes=bool(body_mean < MAX_MEAN_ERROR and clip_agree >= MIN_CLIP_AGREEMENT),
            )
        )
    return rows


def recommend(rows: list[RateRow]) -> str:
    """The lowest rate such that it and every higher rate pass (rows run from every frame down)."""
    best = rows[0].rate
    for row in rows:
        if not row.passes:
            break
        best = row.rate
    return best


def table(videos: list[Video], rows: list[RateRow], hands: bool) -> str:
    """The printed table."""
    pct = lambda x: f"{100 * x:.1f}" if np.isfinite(x) else "n/a"
    head = f"{'rate':<12}{'k':>7}{'mean %':>8}{'p95 %':>7}{'cover':>7}{'worst %':>8}{'frame shot':>11}{'clip shot':>10}"
    head += f"{'pose CPU':>9}" + (f"{'hand mean':>10}{'hand p95':>9}{'cover':>7}{'hand CPU':>9}" if hands else "")
    lines = [head]
    for r in rows:
        ks = ",".join(map(str, r.ks))
        line = (
            f"{r.rate:<12}{ks:>7}{pct(r.body_mean):>8}{pct(r.body_p95):>7}{pct(r.body_coverage):>7}"
            f"{pct(r.worst_video_mean):>8}{pct(r.frame_shot_agreement):>11}{pct(r.clip_shot_agreement):>10}"
            f"{r.body_cpu_per_video_s:9.3f}"
        )
        if hands:
            line += f"{pct(r.hand_mean):>10}{pct(r.hand_p95):>9}{pct(r.hand_coverage):>7}{r.hands_cpu_per_video_s:9.3f}"
        lines.append(line + ("" if r.passes else "  (fails)"))
    seconds = sum(v.duration_s for v in videos)
    shots = {s: sum(v.clip_shot == s for v in videos) for s in {v.clip_shot for v in videos}}
    lines += [
        "",
        f"{len(videos)} videos, {seconds:.1f} s; clip shot types of the every-frame run: {shots}",
        "errors: % of the video's median shoulder width, pooled over the points the every-frame run sees "
        "(visibility >= 0.5); cover: share of those points with an estimate; worst: the worst video's mean; "
        "CPU: process seconds of the pose (hands) model per second of video",
        f"recommended pose rate: {recommend(rows)} (lowest rate that, with every higher rate, keeps the mean error "
        f"< {100 * MAX_MEAN_ERROR:g} % of shoulder width and clip shot types agreeing on >= "
        f"{100 * MIN_CLIP_AGREEMENT:g} % of videos)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measures every video, prints the table, writes pose_rate.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    ap.add_argument("--sets", nargs="+", default=list(SETS), help="folders under --media")
    ap.add_argument("--out", type=Path, default=Path("/tmp/pose_rate"))
    ap.add_argument("--no-hands", action="store_true", help="score the body pose only")
    args = ap.parse_args(argv)
    filter_native_stderr()
    args.out.mkdir(parents=True, exist_ok=True)
    hands = not args.no_hands
    jobs, problems = expand_inputs([args.media / s for s in args.sets])
    if problems or not jobs:
        raise SystemExit("; ".join(problems) or "no videos")
    videos, notes = [], []
    cpu0, tic = time.process_time(), time.perf_counter()
    for job in jobs:
        video, why = measure(job.path, hands)
        print(why or f"{Path(job.path).name}: {video.clip_shot}, body on {video.body_fraction:.0%}", file=sys.stderr)
        if video is None:
            notes.append(why)
        else:
            videos.append(video)
    if not videos:
        raise SystemExit("no video with a body: nothing to score")
    rows = pool(videos)
    print(table(videos, rows, hands))
    for note in notes:
        print(f"not scored: {note}")
    wall, cpu = time.perf_counter() - tic, time.process_time() - cpu0
    print(f"\nthis run: wall {wall:.0f} s, CPU {cpu:.0f} s (measured under whatever else runs on the machine)")
    per_video = [
        {
            **{k: v for k, v in asdict(x).items() if k != "scores"},
            "mean_error": {
                f"{r:g}": float(s.body_errors.mean()) if len(s.body_errors) else None for r, s in x.scores.items()
            },
            "clip_shot": {f"{r:g}": s.clip_shot for r, s in x.scores.items()},
        }
        for x in videos
    ]
    out = {
        "rows": [asdict(r) for r in rows],
        "recommended": recommend(rows),
        "videos": per_video,
        "not_scored": notes,
        "wall_s": wall,
        "cpu_s": cpu,
    }
    (args.out / "pose_rate.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"numbers written to {args.out / 'pose_rate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
