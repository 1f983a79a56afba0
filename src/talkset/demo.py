"""Build the small synthetic "raw" video that `talkset demo` curates.

Nothing is downloaded and nothing from outside the installed environment is
read: the only photograph is ``grace_hopper.jpg``, which matplotlib (a
dependency of mediapipe) ships as sample data. Its JPEG comment names the source,
Wikimedia Commons ``File:Grace_Hopper.jpg``, an official US Navy photograph
in the public domain. The speech is synthesised here from glottal pulses and
formant resonators, and the mouth is warped in step with it.

The timeline (seconds; video cuts at 8 and 17) is `SEGMENTS`:

* 0-8: shot 1, the talking portrait, speech from 0.4 to 7.6.
* 8-13: shot 2, the same portrait framed closer, speech from 8.3 to 12.7.
* 13-17: shot 2 continues with the mouth closed and only room noise.
* 17-21: shot 3, a landscape with no face, speech from 17.4 to 20.6.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from scipy.signal import butter, lfilter

FPS = 25
SR = 16_000
SIZE = 512
LEAD_FRAMES = 2  # the mouth moves this many frames before the sound, as in real speech


@dataclass(frozen=True)
class Segment:
    """One part of the demo timeline.

    Attributes:
        start: Start time in seconds.
        end: End time in seconds.
        speech: (start, end) of the speech inside the part, or None for silence.
        framing: (zoom, source x, source y) of the portrait, or None for no face.
    """

    start: float
    end: float
    speech: tuple[float, float] | None
    framing: tuple[float, float, float] | None


SEGMENTS: tuple[Segment, ...] = (
    Segment(0.0, 8.0, (0.4, 7.6), (1.06, 258.0, 250.0)),
    Segment(8.0, 13.0, (8.3, 12.7), (1.55, 290.0, 250.0)),  # hard cut: closer, face off-centre
    Segment(13.0, 17.0, None, (1.55, 290.0, 250.0)),  # same shot, mouth shut
    Segment(17.0, 21.0, (17.4, 20.6), None),  # hard cut: no face at all
)
DURATION = SEGMENTS[-1].end

# Average formants (F1, F2, F3 in Hz) of adult vowels, and how far each opens the jaw.
_VOWELS = {
    "a": (730.0, 1090.0, 2440.0, 1.0),
    "e": (530.0, 1840.0, 2480.0, 0.65),
    "i": (300.0, 2250.0, 3000.0, 0.35),
    "o": (570.0, 840.0, 2410.0, 0.75),
    "u": (320.0, 870.0, 2240.0, 0.4),
}


def portrait_path() -> Path:
    """Return the path of the portrait photograph bundled with matplotlib."""
    import matplotlib  # imported here: only the demo needs it

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _smooth(x: np.ndarray, ms: float) -> np.ndarray:
    """Low-pass `x` with a Hann window `ms` long; articulators do not jump."""
    n = max(1, int(SR * ms / 1000))
    k = np.hanning(n + 2)[1:-1]
    return np.convolve(x, k / k.sum(), mode="same")


def synth_speech(
    rng: np.random.Generator, n: int, spans: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise speech-like audio: syllables of consonant + vowel, grouped in words.

    Args:
        rng: Random generator; fixes syllables, pitch and noise.
        n: Number of samples at `SR`.
        spans: (start, end) seconds in which to talk; silence elsewhere.

    Returns:
        The signal (peak 1) and the per-sample jaw opening in [0, 1].
    """
    f0, voice, noise_amp, opening = np.full(n, 150.0), np.zeros(n), np.zeros(n), np.zeros(n)
    formants = np.tile([500.0, 1500.0, 2500.0], (n, 1))
    for a, b in spans:
        t, end, base = int(a * SR), int(b * SR), rng.uniform(150, 185)
        while t < end - SR // 2:
            w0 = t
            for _ in range(int(rng.integers(2, 5))):  # ~4.5 syllables per second
                kind = rng.choice(["fricative", "stop", "nasal", "none"], p=[0.3, 0.35, 0.15, 0.2])
                if kind == "fricative":
                    d = int(rng.uniform(0.06, 0.1) * SR)
                    noise_amp[t:t + d], opening[t:t + d] = 0.25, 0.12
                    t += d
                elif kind == "stop":  # closure silence, then a short burst
                    t += int(0.035 * SR)
                    noise_amp[t:t + int(0.015 * SR)] = 0.5
                    t += int(0.015 * SR)
                elif kind == "nasal":  # voiced with the lips shut
                    d = int(rng.uniform(0.05, 0.08) * SR)
                    voice[t:t + d], formants[t:t + d] = 0.35, (250.0, 1100.0, 2300.0)
                    t += d
                f1, f2, f3, jaw = _VOWELS[str(rng.choice(list(_VOWELS)))]
                d = int(rng.uniform(0.11, 0.19) * SR)
                formants[t:t + d] = np.array([f1, f2, f3]) * rng.uniform(0.92, 1.08, 3)
                voice[t:t + d], opening[t:t + d] = rng.uniform(0.8, 1.0), jaw
                t += d
            # Each word rises then falls; the phrase drifts down (declination): 120-220 Hz.
            ph = np.linspace(0.0, np.pi, t - w0)
            decline = 1 - 0.15 * (w0 - a * SR) / ((b - a) * SR)
            f0[w0:t] = base * decline * (1 + 0.18 * np.sin(ph) - 0.08 * ph / np.pi)
            t += int(rng.uniform(0.12, 0.3) * SR)  # pause between words
    f0 = np.clip(f0, 110.0, 230.0) * (1 + 0.1 * _smooth(rng.standard_normal(n), 20))  # jitter
    voice, noise_amp, opening = _smooth(voice, 25), _smooth(noise_amp, 8), _smooth(opening, 60)
    formants = np.stack([_smooth(formants[:, k], 30) for k in range(3)], axis=1)
    # Rosenberg glottal pulse from the phase, differentiated for lip radiation.
    phase = np.cumsum(f0 / SR) % 1.0
    pulse = np.where(phase < 0.6, 0.5 * (1 - np.cos(np.pi * phase / 0.6)),
                     np.where(phase < 0.8, np.cos(0.5 * np.pi * (phase - 0.6) / 0.2), 0.0))
    y = (np.diff(pulse, prepend=0.0) + 0.02 * rng.standard_normal(n)) * voice  # + breath
    # Cascade of formant resonators whose coefficients follow the tracks every 5 ms.
    block = SR // 200
    for k, bandwidth in enumerate((90.0, 110.0, 160.0)):
        out, zi = np.empty(n), np.zeros(2)
        r = np.exp(-np.pi * bandwidth / SR)
        for s in range(0, n, block):
            c = 2 * r * np.cos(2 * np.pi * formants[s, k] / SR)
            out[s:s + block], zi = lfilter([1 - c + r * r], [1.0, -c, r * r], y[s:s + block], zi=zi)
        y = out
    bh, ah = butter(2, 3000 / (SR / 2), "high")  # fricatives and bursts are high-band noise
    y = y / (np.abs(y).max() + 1e-9) + 0.3 * lfilter(bh, ah, rng.standard_normal(n)) * noise_amp
    return y / np.abs(y).max(), np.clip(opening, 0.0, 1.0)


class MouthWarper:
    """Open the portrait's mouth by pulling the lower lip and jaw down.

    The lip landmarks are found once with face mesh; each frame is then a cheap
    remap of a small region plus a dark mouth cavity painted into the gap.
    """

    def __init__(self, image: np.ndarray) -> None:
        """Locate the mouth in `image` (BGR) and precompute the displacement field.

        Raises:
            RuntimeError: If face mesh finds no face in the image.
        """
        import mediapipe as mp  # heavy; only the demo needs it here

        h, w = image.shape[:2]
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
            found = mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).multi_face_landmarks
        if not found:
            raise RuntimeError("face mesh found no face in the demo portrait")
        lm = found[0].landmark
        p = {i: np.array([lm[i].x * w, lm[i].y * h]) for i in (13, 14, 61, 291, 152)}
        self.image = image
        cx, lip = (p[13] + p[14]) / 2
        half = (p[291][0] - p[61][0]) / 2  # half mouth width: the unit of the whole warp
        self.amplitude = 0.6 * half  # a wide-open "a" parts the lips by 60% of half the width
        x0, x1 = int(cx - 3 * half), int(cx + 3 * half)
        y0, y1 = int(lip - 1.5 * half), int(p[152][1] + 2 * half)
        self.box = (x0, y0, x1, y1)
        xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        # Lip line: parabola through both corners and the centre.
        self.line = np.polyval(np.polyfit([p[61][0], cx, p[291][0]], [p[61][1], lip, p[291][1]], 2), xs)
        below = ys - self.line
        # Below the line the moved region widens into the jaw, and fades out under the chin.
        width = half * (1 + 0.6 * np.maximum(below, 0) / half)
        lateral = np.clip(1 - ((xs - cx) / width) ** 2, 0, 1) ** 0.7
        under_chin = np.clip((ys - p[152][1]) / (1.2 * half), 0, 1)
        down = lateral * 0.5 * (1 + np.cos(np.pi * under_chin))
        up = -0.2 * lateral * np.clip(1 + below / (0.6 * half), 0, 1)  # upper lip lifts a little
        field = np.where(below >= 0, down, up).astype(np.float32)
        self.field = cv2.GaussianBlur(field, (0, 0), 1.5)
        self.xs, self.ys = xs, ys

    def __call__(self, opening: float) -> np.ndarray:
        """Return a copy of the portrait with the mouth open by `opening` in [0, 1]."""
        out = self.image.copy()
        if opening <= 0.01:
            return out
        src_y = self.ys - np.float32(opening * self.amplitude) * self.field  # remap wants float32
        x0, y0, x1, y1 = self.box
        roi = cv2.remap(self.image, self.xs, src_y, cv2.INTER_LINEAR).astype(np.float32)
        # Where a pixel's source lies across the lip line, we see into the mouth instead.
        depth = np.where(self.ys >= self.line, self.line - src_y, src_y - self.line)
        alpha = np.clip(depth, 0, 1)[..., None]  # 1 px anti-aliased edge
        shade = np.clip(depth / 4, 0, 1)[..., None]  # darker inside than at the lips' edge
        cavity = np.array([30.0, 25.0, 70.0]) * (1 - shade) + np.array([15.0, 10.0, 25.0]) * shade
        out[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + cavity * alpha, 0, 255).astype(np.uint8)
        return out


def _head_pose(t: float, phases: np.ndarray) -> tuple[float, float, float]:
    """Small, slow head motion (degrees, px, px) so no shot is perfectly still."""
    s = np.sin(2 * np.pi * np.array([0.23, 0.61, 0.17, 0.41, 0.29]) * t + phases)
    return 1.2 * s[0] + 0.4 * s[1], 4.0 * s[2] + 1.0 * s[3], 3.0 * s[4]


def _portrait_frame(mouth: MouthWarper, opening: float, framing: tuple[float, float, float],
                    t: float, phases: np.ndarray) -> np.ndarray:
    """Frame the (possibly talking) portrait for time `t`."""
    zoom, sx, sy = framing
    angle, dx, dy = _head_pose(t, phases)
    m = np.asarray(cv2.getRotationMatrix2D((sx, sy), angle, zoom), np.float64)  # already float64: no copy
    m[:, 2] += (SIZE / 2 - sx + dx, SIZE / 2 - sy + dy)
    return cv2.warpAffine(mouth(opening), m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def _landscape_frame(t: float, shapes: np.ndarray) -> np.ndarray:
    """A faceless scene: sky gradient, hills and drifting shapes."""
    v = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
    sky = (1 - v) * np.array([230.0, 160.0, 90.0]) + v * np.array([150.0, 200.0, 240.0])
    img = np.broadcast_to(sky, (SIZE, SIZE, 3)).astype(np.uint8).copy()
    xs = np.arange(SIZE)
    horizon = (330 + 25 * np.sin(xs / 70.0 + 0.3 * t) + 12 * np.sin(xs / 23.0)).astype(np.int32)
    pts = np.concatenate([np.stack([xs, horizon], 1), [[SIZE - 1, SIZE - 1], [0, SIZE - 1]]])
    cv2.fillPoly(img, [pts.astype(np.int32)], (60, 140, 70))
    cv2.circle(img, (int(400 - 20 * t) % SIZE, 90), 34, (80, 220, 255), -1, cv2.LINE_AA)  # sun
    for x, y, r, speed in shapes:  # clouds and boxes move, so the shot is not a still
        centre = (int(x + speed * t) % (SIZE + 80) - 40, int(y))
        cv2.ellipse(img, centre, (int(r), int(r * 0.45)), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)
    cv2.rectangle(img, (int(60 + 30 * t), 380), (int(120 + 30 * t), 440), (40, 60, 120), -1)
    return img


def build_demo_video(out_path: Path, *, seed: int = 0) -> Path:
    """Write the demo video: 21 s, 512x512, 25 fps, H.264 + AAC 16 kHz mono.

    See the module docstring (and `SEGMENTS`) for what happens when.

    Args:
        out_path: Where to write the MP4; parent directories are created.
        seed: Fixes the words, the pitch, the noise and the head motion.

    Returns:
        `out_path`.
    """
    rng = np.random.default_rng(seed)
    n = int(DURATION * SR)
    speech, opening = synth_speech(rng, n, [s.speech for s in SEGMENTS if s.speech])
    # Speech at about -26 dBFS RMS over a -60 dBFS room-noise floor: never digital silence.
    audio = (0.3 * speech + 1e-3 * rng.standard_normal(n)).astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, 5)
    shapes = np.column_stack([rng.uniform(0, SIZE, 4), rng.uniform(30, 220, 4),
                              rng.uniform(25, 50, 4), rng.uniform(8, 25, 4)])
    image = cv2.imread(str(portrait_path()), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"demo portrait not found: {portrait_path()}")
    mouth = MouthWarper(image)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    spf = SR // FPS  # audio samples per video frame
    with av.open(str(out_path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        # One thread keeps the bytes identical from run to run (and the demo single-core).
        video.options = {"preset": "veryfast", "crf": "20", "threads": "1"}
        sound = container.add_stream("aac", rate=SR, layout="mono")
        sound.bit_rate = 64_000
        for i in range(int(DURATION * FPS)):
            t = i / FPS
            seg = next(s for s in SEGMENTS if s.start <= t < s.end)
            if seg.framing is None:
                frame = _landscape_frame(t - seg.start, shapes)
            else:
                lead = min(n - 1, int((t + LEAD_FRAMES / FPS) * SR))
                frame = _portrait_frame(mouth, float(opening[lead]), seg.framing, t, phases)
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts = i
            container.mux(video.encode(vf))
            af = av.AudioFrame.from_ndarray(audio[None, i * spf:(i + 1) * spf], format="fltp", layout="mono")
            af.sample_rate, af.pts = SR, i * spf
            container.mux(sound.encode(af))
        container.mux(video.encode())
        container.mux(sound.encode())
    return out_path
