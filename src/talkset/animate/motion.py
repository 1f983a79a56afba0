"""Motion from speech audio: mouth (visemes or acoustics), blinks, head, brows and gaze as a MotionTrack.

Mouth. English speech goes through pocketsphinx phones (forced alignment when the text is known, phone-loop
recognition otherwise), each phone a viseme target (jaw, lip width, rounding) blended by dominance functions
(Cohen & Massaro 1993): every phone pulls the mouth toward its target with a weight that decays outside its
segment, so a vowel's shape starts during the consonant before it (anticipation) and lingers after.
Bilabials (p, b, m) then close the lips outright. Any other language (or English that does not sound English
enough to pocketsphinx) uses acoustics: jaw from speech-band loudness, rounding from a low spectral centroid
(rounded vowels lower F2), width from a high one. Both paths are scaled by loudness and gated by speech
activity (silero VAD and an energy floor), so silence closes the mouth within a few tens of milliseconds.

Lead. Lips move before the sound they make; curate's sync scorer calls 0.12 s of lead natural
(``sync_natural_lead_s`` in defaults.toml). Mouth frame i at time i/fps therefore shows the audio at
i/fps + lead.

Language. ``language=None`` asks pocketsphinx's English word recogniser about the first 12 s from the speech
onset (:func:`talkset.audio.phonemes.english_score`, the duration-weighted posterior of the recognised words)
and takes the phone path at a score of 0.50 or more. On shared/media: English 0.53–0.82 on 9 of 11 English
recordings (woman_blazer, with music and overlays, 0.48 and woman_outdoor 0.34 go acoustic), German 0.44,
Japanese 0.41, Mandarin 0.47, singing 0.46, English narration at 0 dB SNR 0.21: every non-English file goes
acoustic, which also serves noisy or unclear English well enough.

The rest (blinks, head, brows, gaze) is drawn from a seeded generator and shaped by prosody: nods on stressed
syllables (loudness peaks), brow raises on pitch accents (f0 well above the speaker's median).

Features are computed every 10 ms in 30 s chunks, so 10 minutes of audio needs a few MB beside the samples.
"""
from __future__ import annotations

import functools
import logging
import math

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks, medfilt, resample_poly

from talkset.animate.track import MotionTrack
from talkset.audio.io import Audio
from talkset.audio.phonemes import SR, PhonemeError, align_phones, english_score, recognize_phones
from talkset.audio.visemes import viseme_curves

log = logging.getLogger(__name__)

HOP_S = 0.01  # feature period
NFFT = 512  # 32 ms analysis window at 16 kHz
ENGLISH_THRESHOLD = 0.50  # english_score above this → phones; see english_score for the measured spread
DETECT_S = 12.0  # seconds of speech the language detector decodes
DYNAMIC_RANGE_DB = 30.0  # speech-band level below the loud level at which the jaw reaches 0

ENGLISH = {"en", "eng", "english", "en-us", "en_us", "en-gb", "en_gb"}


@functools.cache
def natural_lead_s() -> float:
    """The lips' natural lead over the sound, seconds: curate's ``sync_natural_lead_s``."""
    from talkset.curate.config import Config

    return float(Config.load().analysis["sync_natural_lead_s"])


# ---------------------------------------------------------------------------------------------- features


def acoustic_features(samples: np.ndarray, chunk_s: float = 10.0) -> dict[str, np.ndarray]:
    """Per-10-ms features of 16 kHz audio; frame k is centred on k * 10 ms.

    Args:
        samples: 1-D float32 samples at 16 kHz.
        chunk_s: frames computed per chunk (memory bound).

    Returns:
        ``level_db`` speech-band (300–3000 Hz) level in dB, ``centroid_hz`` spectral centroid over 300–4000 Hz,
        ``f0_hz`` pitch (0 where unvoiced), ``voicing`` normalised autocorrelation peak (0–1).
    """
    hop = int(HOP_S * SR)
    n = int(math.ceil(len(samples) / hop))
    win = np.hanning(NFFT).astype(np.float32)
    freqs = np.fft.rfftfreq(NFFT, 1 / SR)
    speech = (freqs >= 300) & (freqs < 3000)
    cband = (freqs >= 300) & (freqs < 4000)
    # Autocorrelation of the window itself, to undo its taper in the pitch search.
    lag_lo, lag_hi = SR // 400, SR // 70
    wac = np.fft.irfft(np.abs(np.fft.rfft(win, 2 * NFFT)) ** 2)[: lag_hi + 1]
    out = {k: np.zeros(n, np.float32) for k in ("level_db", "centroid_hz", "f0_hz", "voicing")}
    step = int(chunk_s / HOP_S)
    for k0 in range(0, n, step):
        k1 = min(n, k0 + step)
        # Samples [k0*hop - NFFT/2, (k1-1)*hop + NFFT/2), zero-padded at the ends (frames are centred).
        a, b = k0 * hop - NFFT // 2, (k1 - 1) * hop + NFFT // 2
        seg = np.zeros(b - a, np.float32)
        seg[max(0, -a) : max(0, -a) + len(samples[max(0, a) : b])] = samples[max(0, a) : b]
        frames = np.lib.stride_tricks.sliding_window_view(seg, NFFT)[::hop] * win
        spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        out["level_db"][k0:k1] = 10 * np.log10(spec[:, speech].sum(axis=1) + 1e-10)
        pc = spec[:, cband]
        out["centroid_hz"][k0:k1] = (pc * freqs[cband]).sum(axis=1) / (pc.sum(axis=1) + 1e-10)
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * NFFT, axis=1)) ** 2, axis=1)[:, : lag_hi + 1]
        ac = ac / (ac[:, :1] + 1e-10) / (wac / wac[0])
        # The first local maximum within 10% of the best one: multiples of the period score as high as the
        # period itself (octave errors), and the shortest such lag is the period.
        r = ac[:, lag_lo - 1 : lag_hi + 2]
        mid = r[:, 1:-1]
        best = mid.max(axis=1, keepdims=True)
        is_peak = (mid >= r[:, :-2]) & (mid >= r[:, 2:]) & (mid >= 0.9 * best)
        lag = lag_lo + np.argmax(is_peak, axis=1)
        peak = ac[np.arange(len(ac)), lag]
        out["voicing"][k0:k1] = np.clip(peak, 0, 1)
        out["f0_hz"][k0:k1] = np.where(peak > 0.5, SR / lag, 0.0)
    # Octave jumps and single-frame voicing flips are the usual autocorrelation errors.
    if n >= 5:
        out["f0_hz"] = medfilt(out["f0_hz"], 5).astype(np.float32)
    return out


def speech_mask(audio: Audio, level_db: np.ndarray, vad=None) -> np.ndarray:
    """Per-10-ms speech activity (0/1): silero VAD and a level within 40 dB of the loud speech level.

    Silero rejects some voices outright (synthetic speech such as a formant synthesiser's, which the demo
    uses). When it calls less than 10% of the loud frames (within 20 dB of the loudest) speech, the level alone
    decides: within 25 dB of the loud level.

    Args:
        audio: 16 kHz mono audio.
        level_db: speech-band level per 10 ms (from :func:`acoustic_features`).
        vad: a :class:`talkset.audio.vad.SileroVAD`; one is created if None.
    """
    from talkset.audio.vad import SileroVAD, segments_from_probs

    vad = vad or SileroVAD()
    probs = vad.speech_probs(audio.samples)
    spans = segments_from_probs(probs, n_samples=len(audio.samples), threshold=0.5, min_speech_samples=round(0.1 * SR),
                                min_silence_samples=round(0.1 * SR), pad_samples=round(0.03 * SR))
    mask = np.zeros(len(level_db), np.float32)
    hop = int(HOP_S * SR)
    for s, e in spans:
        mask[s // hop : -(-e // hop)] = 1.0
    top = loud_level_db(level_db)
    loud = level_db > top - 20.0
    if loud.sum() > 10 and mask[loud].mean() < 0.1:
        return (level_db > top - 25.0).astype(np.float32)
    return mask * (level_db > loud_level_db(level_db, mask) - 40.0)


def loud_level_db(level_db: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The 95th percentile of the speech-band level over speech (over everything if there is no speech)."""
    sel = level_db[mask > 0] if mask is not None and (mask > 0).sum() > 10 else level_db
    return float(np.percentile(sel, 95)) if len(sel) else 0.0


# ---------------------------------------------------------------------------------------------- mouth


def acoustic_curves(feats: dict[str, np.ndarray], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mouth from acoustics alone, every 10 ms: jaw from loudness, width and rounding from the centroid.

    Returns:
        (jaw, lip_width, lip_round), each (n,), not yet gated by speech activity.
    """
    # Scaled so typical speech peaks near the viseme path's open vowels (95th percentile ~0.5–0.6).
    jaw = loudness(feats["level_db"], mask) ** 1.3 * 0.7
    cen = uniform_filter1d(feats["centroid_hz"].astype(np.float64), 8)
    voiced = (mask > 0) & (feats["voicing"] > 0.4)
    sel = cen[voiced] if voiced.sum() > 20 else cen
    med = np.median(sel)
    iqr = np.subtract(*np.percentile(sel, [75, 25])) + 1e-6
    z = np.tanh((cen - med) / (iqr / 1.35) * 0.7)
    width = 0.5 * z
    rnd = np.clip(-z, 0, 1) * 0.8
    return jaw, width, rnd


def loudness(level_db: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Speech-band level mapped to 0–1: 1 at the loud speech level, 0 at ``DYNAMIC_RANGE_DB`` below it or just
    above the background noise, whichever is higher (so steady noise between words does not hold the jaw open).
    """
    loud = loud_level_db(level_db, mask)
    quiet = level_db[mask == 0]
    noise = float(np.percentile(quiet, 20)) if len(quiet) > 50 else float(np.percentile(level_db, 5))
    floor = min(max(loud - DYNAMIC_RANGE_DB, noise + 3.0), loud - 6.0)
    return np.clip((level_db - floor) / (loud - floor), 0.0, 1.0)


def is_english(audio: Audio, mask: np.ndarray) -> bool:
    """Whether pocketsphinx's English recogniser is confident on the first ``DETECT_S`` s from speech onset."""
    speech = np.flatnonzero(mask)
    if len(speech) < 50:  # under half a second of speech: nothing to judge, and nothing to articulate
        return False
    start = audio.start_s + max(0.0, speech[0] * HOP_S - 0.2)
    score = english_score(audio, max_s=DETECT_S, start_s=start)
    log.info("english score %.3f over %d words (threshold %.2f)", score.score, score.words, ENGLISH_THRESHOLD)
    return score.score >= ENGLISH_THRESHOLD


def is_english_speech(audio: Audio, vad=None) -> bool:
    """The automatic language decision of :func:`motion_from_audio` on its own (16 kHz audio)."""
    feats = acoustic_features(audio.samples)
    return is_english(audio, speech_mask(audio, feats["level_db"], vad))


def mouth_curves(audio: Audio, feats: dict[str, np.ndarray], mask: np.ndarray, *, language: str | None,
                 text: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(jaw, lip_width, lip_round, method) every 10 ms, gated so silence is a closed mouth.

    ``method`` is ``"aligned"``, ``"phones"`` or ``"acoustic"``.
    """
    n = len(mask)
    lang = language.lower() if language else None
    english = lang in ENGLISH if lang else (text is not None or is_english(audio, mask))
    method = "acoustic"
    if english:
        try:
            phones = align_phones(audio, text) if text else recognize_phones(audio)
            method = "aligned" if text else "phones"
        except PhonemeError as e:
            log.warning("phones unavailable (%s); acoustic mouth instead", e)
            phones = []
    if method == "acoustic":
        jaw, width, rnd = acoustic_curves(feats, mask)
    else:
        jaw, width, rnd = viseme_curves(phones, n, audio.start_s)
        # Loud syllables open wider than quiet ones: the same vowel target, scaled by effort (up to 1.25x, so
        # typical peaks match the acoustic path's).
        jaw = jaw * (0.55 + 0.7 * loudness(feats["level_db"], mask))
    # Gate: ~30 ms attack and release, so pauses close the mouth well within 100 ms.
    gate = uniform_filter1d(mask.astype(np.float64), 3)
    jaw, width, rnd = (uniform_filter1d(x, 3) for x in (jaw, width, rnd))
    return jaw * gate, width * gate, rnd * gate, method


# ---------------------------------------------------------------------------------------------- the rest


def blink_track(n: int, fps: float, rng: np.random.Generator, *, mean_interval_s: float = 3.8,
                double_p: float = 0.12) -> np.ndarray:
    """Eyelid closure (n, 2) with human statistics.

    Intervals between blinks are gamma-distributed (shape 2, mean ``mean_interval_s``, at least 0.5 s); a
    blink lasts 100–300 ms, closing in 40% of it and opening more slowly; with probability ``double_p`` a
    second blink follows 0.1–0.25 s later. The default gives ~17.7 blinks a minute.

    Args:
        n: frames.
        fps: frames per second.
        rng: random generator (the seed's blink stream).
        mean_interval_s: mean time from one blink (or blink pair) to the next, seconds.
        double_p: probability of a double blink.
    """
    t = np.arange(n) / fps
    out = np.zeros(n)
    now = rng.uniform(0.3, mean_interval_s)
    while now < n / fps:
        starts = [now]
        durations = [rng.uniform(0.1, 0.3)]
        if rng.random() < double_p:
            starts.append(now + durations[0] + rng.uniform(0.1, 0.25))
            durations.append(rng.uniform(0.1, 0.2))
        for s, d in zip(starts, durations):
            close = 0.4 * d
            # Put the full closure on a frame, so even a 100 ms blink shows a closed eye at 25 fps.
            s = round((s + close) * fps) / fps - close
            k0, k1 = max(0, int(s * fps)), min(n, int(math.ceil((s + d) * fps)) + 1)
            u = t[k0:k1] - s
            b = np.where(u < close, 0.5 - 0.5 * np.cos(np.pi * np.clip(u / close, 0, 1)),
                         0.5 + 0.5 * np.cos(np.pi * np.clip((u - close) / (d - close), 0, 1)))
            out[k0:k1] = np.maximum(out[k0:k1], b)
        now = starts[-1] + max(0.5, rng.gamma(2.0, mean_interval_s / 2))
    return np.stack([out, out], axis=1)


def _drift(n: int, fps: float, rng: np.random.Generator, tau_s: float, std: float, dims: int) -> np.ndarray:
    """Smooth random drift: an Ornstein-Uhlenbeck process (time constant ``tau_s``) smoothed over 0.3 s."""
    a = math.exp(-1.0 / (tau_s * fps))
    w = rng.standard_normal((n, dims)) * math.sqrt(1 - a * a)
    x = np.empty((n, dims))
    x[0] = rng.standard_normal(dims)
    for i in range(1, n):  # 15 000 frames for 10 minutes: a plain loop is fast enough
        x[i] = a * x[i - 1] + w[i]
    return uniform_filter1d(x, max(1, int(0.3 * fps)), axis=0) * std


def _bumps(n: int, fps: float, times_s: np.ndarray, amps: np.ndarray, rise_s: float, fall_s: float) -> np.ndarray:
    """Sum of smooth bumps: a raised-cosine rise over ``rise_s`` to each amplitude, then a fall over ``fall_s``."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for tc, a in zip(times_s, amps):
        k0, k1 = max(0, int((tc - rise_s) * fps)), min(n, int((tc + fall_s) * fps) + 2)
        u = t[k0:k1] - tc
        b = np.where(u < 0, 0.5 + 0.5 * np.cos(np.pi * np.clip(u / rise_s, -1, 0)),
                     0.5 + 0.5 * np.cos(np.pi * np.clip(u / fall_s, 0, 1)))
        out[k0:k1] += a * b
    return out


def prosody_events(feats: dict[str, np.ndarray], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                np.ndarray]:
    """Stressed syllables and pitch accents, on the 10 ms grid relative to the audio start.

    Returns:
        (stress_times_s, stress_strength 0–1, accent_times_s, accent_strength 0–1).
    """
    loud = uniform_filter1d(loudness(feats["level_db"], mask) * mask, 8)
    f0 = feats["f0_hz"]
    voiced = (f0 > 0) & (mask > 0)
    semis = np.zeros(len(f0))
    if voiced.sum() > 20:
        semis[voiced] = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
    semis = uniform_filter1d(semis, 5)
    peaks, _ = find_peaks(loud, distance=int(0.3 / HOP_S), prominence=0.15)
    # Stress: louder and higher than the speaker's usual syllable; only the stronger ones nod, at most one
    # every 0.6 s, or the head would bob on every syllable.
    score = loud[peaks] + 0.1 * np.clip(semis[peaks], 0, 4)
    strong = peaks[score >= np.percentile(score, 50)] if len(peaks) else peaks
    if len(strong) > 1:
        kept = [strong[0]]
        for k in strong[1:]:
            if k - kept[-1] >= int(0.6 / HOP_S):
                kept.append(k)
        strong = np.array(kept)
    s_strong = loud[strong] + 0.1 * np.clip(semis[strong], 0, 4)
    strength = np.clip(s_strong / s_strong.max(), 0.3, 1) if len(strong) else np.zeros(0)
    # Pitch accents: f0 peaks standing 2 semitones above their surroundings and above the median.
    accents, _ = find_peaks(np.where(voiced, semis, -12.0), height=1.0, prominence=2.0, distance=int(1.0 / HOP_S))
    acc_strength = np.clip((semis[accents] - 0.5) / 4, 0.3, 1)
    return strong * HOP_S, strength, accents * HOP_S, acc_strength


def gaze_track(n: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Fixations (mean 1.5 s) near the camera joined by saccades one frame long, (n, 2)."""
    out = np.zeros((n, 2))
    i = 0
    pos = np.zeros(2)
    while i < n:
        length = max(2, int(rng.gamma(3.0, 0.5) * fps))
        # Most fixations stay near the listener; the amplitude is in the MotionTrack's ±1 eye-corner units.
        target = np.clip(rng.normal(0, [0.12, 0.06]), -0.3, 0.3)
        out[i : i + length] = target
        if i > 0:
            out[i] = 0.5 * (pos + target)
        pos = target
        i += length
    return out


# ---------------------------------------------------------------------------------------------- the track


def _at_frames(series: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Samples a 10 ms series (frame k at k * 10 ms) at arbitrary times, holding the ends."""
    return np.interp(times_s / HOP_S, np.arange(len(series)), series)


def motion_from_audio(audio: Audio, *, fps: float = 25.0, language: str | None = None, text: str | None = None,
                      seed: int = 0, vad=None) -> MotionTrack:
    """A full motion track for speech audio.

    Args:
        audio: mono audio, best loaded at 16 kHz (``talkset.audio.io.load_audio(path, sr=16000)``); other rates
            are resampled.
        fps: output frame rate, frames per second.
        language: ``"en"`` (visemes from phones) or any other code (acoustic mouth); None detects English
            with pocketsphinx (:func:`is_english`).
        text: what is said (English); when given, phones come from forced alignment.
        seed: seeds blinks, head drift and gaze; the same seed and audio give the same track.
        vad: a :class:`talkset.audio.vad.SileroVAD` to reuse; one is created if None.

    Returns:
        ``ceil(audio.duration_s * fps)`` frames, frame i at ``audio.start_s + i / fps``.

    Raises:
        ValueError: fps is not positive.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    n = math.ceil(audio.duration_s * fps)  # the contract's frame count, on the original sample rate
    if audio.sr != SR:
        g = math.gcd(SR, audio.sr)
        audio = Audio(resample_poly(audio.samples, SR // g, audio.sr // g).astype(np.float32), SR, audio.start_s)
    if n == 0:
        return MotionTrack.rest(0, fps)
    feats = acoustic_features(audio.samples)
    mask = speech_mask(audio, feats["level_db"], vad)
    jaw, width, rnd, method = mouth_curves(audio, feats, mask, language=language, text=text)
    log.info("mouth from %s", method)

    t = np.arange(n) / fps
    lead = natural_lead_s()
    # Average over one frame period first (anti-aliasing), then read the sound `lead` seconds ahead.
    k = max(1, int(round(1 / (fps * HOP_S))))
    mouth = [_at_frames(uniform_filter1d(x, k), t + lead) for x in (jaw, width, rnd)]
    mouth[0] = np.clip(mouth[0], 0, 1)

    s_blink, s_head, s_gaze, s_style = np.random.SeedSequence(seed).spawn(4)
    blink = blink_track(n, fps, np.random.default_rng(s_blink))
    rng = np.random.default_rng(s_head)
    head = _drift(n, fps, rng, tau_s=2.5, std=1.0, dims=3) * np.array([1.2, 2.5, 1.0])
    activity = _at_frames(uniform_filter1d(loudness(feats["level_db"], mask) * mask, 50), t)
    head += _drift(n, fps, rng, tau_s=0.4, std=1.0, dims=3) * np.array([0.8, 0.8, 0.4]) * activity[:, None]
    stress_t, stress_a, accent_t, accent_a = prosody_events(feats, mask)
    style = np.random.default_rng(s_style)
    nod_deg = style.uniform(2.0, 3.5)
    # A nod: the chin dips (positive pitch, per vision.face.head_pose's axes) just before the stressed syllable.
    head[:, 0] += _bumps(n, fps, stress_t - 0.05, stress_a * nod_deg, 0.2, 0.4)
    brow = _bumps(n, fps, accent_t - 0.05, accent_a * style.uniform(0.4, 0.7), 0.1, 0.45)
    brow += 0.1 * activity  # a little lift while speaking
    gaze = gaze_track(n, fps, np.random.default_rng(s_gaze))
    offset = np.stack([head[:, 1] * 0.004, head[:, 0] * 0.003], axis=1)  # turns and nods shift the face a bit
    scale = 1.0 + 0.004 * head[:, 0] / 2.0
    return MotionTrack(fps=fps, jaw=mouth[0], lip_width=np.clip(mouth[1], -1, 1), lip_round=np.clip(mouth[2], 0, 1),
                       blink=blink, brow=np.clip(brow, 0, 1), head=head, offset=offset, scale=scale,
                       gaze=np.clip(gaze, -1, 1))
