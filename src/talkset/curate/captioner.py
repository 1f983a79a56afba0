"""Structured captions from any OpenAI-compatible vision chat endpoint, stored beside the template caption.

For each kept clip, a few frames (small JPEGs) and the facts curate measured go to
``POST {base_url}/chat/completions``; the answer, a JSON object ``{"visual_style", "audio_style", "summary"}``,
is written atomically to ``OUT/annotations/{clip_id}.caption.json``. A clip that fails (timeout, refused,
unreadable answer) gets a one-line reason and no file, so the next run tries it again. The API key is read from
an environment variable, sent only in the Authorization header, and redacted from every reason.

Only the standard library speaks HTTP here (urllib): no client dependency.
"""
from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import ipaddress
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talkset.dataset.manifest import ManifestError, load_manifest
from talkset.dataset.records import CLIP, KEPT, Record
from talkset.errors import TalksetError, one_line
from talkset.files import atomic_write_json

log = logging.getLogger("talkset.caption")

CAPTION_KEYS = ("visual_style", "audio_style", "summary")
FACTS_PREFIX = "Measured facts (JSON): "
MAX_BACKOFF_S = 60.0  # also the cap on a server's Retry-After

SYSTEM_PROMPT = (
    "You describe short talking-head video clips for a dataset. You get a few frames of one clip and facts "
    "measured on it. Answer with one JSON object and nothing else, with exactly these string keys: "
    '"visual_style" (framing, lighting, background, the speaker\'s appearance and expression), '
    '"audio_style" (voice, speaking pace and energy, language; use the facts, you cannot hear the audio), '
    '"summary" (one or two sentences about the clip). Never contradict the measured facts.')


class CaptionError(TalksetError):
    """A problem with the whole caption run (no manifest, no key, a bad option); the message is one line."""


@dataclass
class CaptionSummary:
    """What a caption run did over an output folder.

    Attributes:
        failures: clip id → one-line reason, for clips that got no caption file (the next run retries them).
        clip_seconds: seconds of video in the clips captioned by this run.
        wall_seconds: time the run took, frame sampling and requests included.
    """

    out_dir: str
    clips: int = 0
    captioned: int = 0
    already: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    clip_seconds: float = 0.0
    wall_seconds: float = 0.0

    def table(self) -> str:
        lines = [f"{'kept clips':<28}{self.clips}",
                 f"{'captioned now':<28}{self.captioned}",
                 f"{'already captioned':<28}{self.already}",
                 f"{'failed':<28}{len(self.failures)}"]
        if self.failures:
            lines.append("failed clips get no caption file; rerun `talkset caption` to retry them")
        return "\n".join(lines)


class _Secret:
    """Holds the API key; its repr and str never show it."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


@dataclass(frozen=True)
class _Endpoint:
    url: str  # {base_url}/chat/completions, without credentials
    public_base_url: str  # what logs and caption files show
    model: str
    key: _Secret
    timeout_s: float
    retries: int
    backoff_s: float
    loopback: bool

    def open(self, req: urllib.request.Request):
        # a local server is reached directly, whatever proxy the environment names
        return (_DIRECT if self.loopback else _OPENER).open(req, timeout=self.timeout_s)

    def redact(self, text: str) -> str:
        key = self.key.reveal()
        return text.replace(key, "<redacted>") if key else text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would send the Authorization header on to the new host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


_OPENER = urllib.request.build_opener(_NoRedirect())
_DIRECT = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))


class _ClipFailure(Exception):
    """One clip's failure; the message is its reason."""


class _Refused(_ClipFailure):
    """The endpoint refused the key (401/403): later clips are not sent."""


def caption_clips(out_dir: str | Path, *, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                  frames: int = 3, timeout_s: float = 60, retries: int = 3, concurrency: int = 4,
                  force: bool = False, backoff_s: float = 1.0, progress: bool = True) -> CaptionSummary:
    """Captions the kept clips of a curated output folder through an OpenAI-compatible chat endpoint.

    Clips that already have ``annotations/{id}.caption.json`` are skipped unless ``force``. The manifest is
    refreshed afterwards so ``annotations.caption_structured`` points at the files.

    Args:
        out_dir: an output folder of ``talkset curate`` (has manifest.json).
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8080/v1``.
        model: the model name the endpoint expects.
        api_key_env: the environment variable holding the key. Unset or empty is allowed only for a
            loopback endpoint (with a warning).
        frames: frames sent per clip, evenly spread over it.
        timeout_s: seconds one request may wait for the connection or for data.
        retries: further attempts after timeouts, connection errors, 429 and 5xx (other 4xx are final).
        concurrency: requests in flight at once.
        force: caption clips that already have a caption file again.
        backoff_s: the first retry waits this many seconds, doubling each time (a Retry-After header wins).
        progress: show a progress bar.

    Raises:
        CaptionError: no manifest, no key for a remote endpoint, or a bad option; raised before any request.
    """
    started = time.perf_counter()
    endpoint = _endpoint(base_url, model, api_key_env, timeout_s, retries, backoff_s)
    if frames < 1 or concurrency < 1:
        raise CaptionError(f"frames ({frames}) and concurrency ({concurrency}) must be at least 1")
    out = Path(out_dir)
    records = _kept_clips(out)
    summary = CaptionSummary(out_dir=str(out), clips=len(records))
    todo = []
    for rec in records:
        if caption_path(out, rec.id).exists() and not force:
            summary.already += 1
        else:
            todo.append(rec)
    log.info("captioning %d of %d kept clips with %s at %s", len(todo), len(records), model,
             endpoint.public_base_url)
    refused = threading.Event()
    from tqdm import tqdm

    pool = ThreadPoolExecutor(max_workers=concurrency)
    # on Ctrl-C, clips not started are dropped instead of waited for (in-flight ones end within the timeout)
    with contextlib.ExitStack() as stack:
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        bar = stack.enter_context(tqdm(total=len(todo), unit="clip", desc="caption", disable=not progress))
        futures = {pool.submit(_caption_one, out, rec, endpoint, frames, refused): rec for rec in todo}
        for fut in as_completed(futures):
            rec = futures[fut]
            reason = fut.result()
            if reason is None:
                summary.captioned += 1
                summary.clip_seconds += float(rec.metadata.duration or 0.0)
            else:
                summary.failures[rec.id] = reason
                log.warning("%s: caption failed: %s", rec.id, reason)
            bar.update(1)
    if summary.captioned or any(caption_path(out, r.id).exists() and r.annotations.caption_structured is None
                                for r in records):
        _refresh(out)
    summary.wall_seconds = time.perf_counter() - started
    return summary


def caption_path(out_dir: str | Path, clip_id: str) -> Path:
    return Path(out_dir) / "annotations" / f"{clip_id}.caption.json"


def check_endpoint(base_url: str, api_key_env: str) -> None:
    """Raises CaptionError now if a caption run with these settings could not start (for CLI checks)."""
    _endpoint(base_url, "-", api_key_env, 1, 0, 0, warn=False)


def _endpoint(base_url: str, model: str, api_key_env: str, timeout_s: float, retries: int,
              backoff_s: float, warn: bool = True) -> _Endpoint:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CaptionError(f"--base-url must be an http(s) URL like https://api.openai.com/v1 "
                           f"(got scheme {parts.scheme!r})")
    if parts.username or parts.password or parts.query:
        raise CaptionError("--base-url must not carry credentials or a query; put the key in the "
                           f"environment variable {api_key_env}")
    if not model:
        raise CaptionError("--model is empty")
    if timeout_s <= 0 or retries < 0:
        raise CaptionError(f"timeout ({timeout_s} s) must be positive and retries ({retries}) not negative")
    public = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    key = os.environ.get(api_key_env, "")
    loopback = _is_loopback(parts.hostname)
    if not key:
        if not loopback:
            raise CaptionError(f"environment variable {api_key_env} is not set (or empty): the API key for "
                               f"{public} must come from it")
        if warn:
            log.warning("%s is not set: sending requests to %s without an API key", api_key_env, public)
    return _Endpoint(url=public + "/chat/completions", public_base_url=public, model=model, key=_Secret(key),
                     timeout_s=float(timeout_s), retries=int(retries), backoff_s=float(backoff_s),
                     loopback=loopback)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _kept_clips(out: Path) -> list[Record]:
    try:
        records = load_manifest(out / "manifest.json")
    except ManifestError as e:
        raise CaptionError(f"{e} (run `talkset curate` first)" if "no manifest" in str(e) else str(e)) from None
    return [r for r in records if r.type == CLIP and r.status == KEPT]


def _refresh(out: Path) -> None:
    """Lets the manifest pick up the caption files (annotations.caption_structured)."""
    if not (out / ".talkset" / "done").is_dir():  # a manifest curate did not write: merging would lose it
        log.info("%s is not a talkset output folder; manifest.json left as it is", out)
        return
    from talkset.curate.run import refresh_manifest
    from talkset.run.store import OutputBusy

    try:
        refresh_manifest(out)
    except OutputBusy as e:  # the captions are on disk; the next caption run refreshes the manifest
        log.warning("manifest not refreshed: %s", e)


def _caption_one(out: Path, rec: Record, endpoint: _Endpoint, frames: int,
                 refused: threading.Event) -> str | None:
    """Captions one clip; returns None on success or the one-line reason it failed. Never raises."""
    try:
        if refused.is_set():
            raise _ClipFailure("not sent: the endpoint refused the API key on an earlier clip")
        if not rec.video_path:
            raise _ClipFailure("kept but has no clip file (run `talkset cut OUT`)")
        video = out / rec.video_path
        facts = clip_facts(out, rec)
        images = sample_frames(video, frames)
        request = build_request(endpoint.model, facts, images)
        answer = _post(endpoint, request, rec.id)
        caption: dict[str, Any] = dict(parse_caption(answer))
        caption.update(clip_id=rec.id, model=endpoint.model, base_url=endpoint.public_base_url,
                       created=datetime.now(UTC).isoformat(timespec="seconds"), frames=len(images),
                       facts=facts)
        atomic_write_json(caption_path(out, rec.id), caption)
        return None
    except _Refused as e:
        refused.set()
        return endpoint.redact(str(e))
    except _ClipFailure as e:
        return endpoint.redact(str(e))
    except Exception as e:
        return endpoint.redact(f"{type(e).__name__}: {one_line(e)}")


def clip_facts(out: Path, rec: Record) -> dict[str, Any]:
    """What curate measured on a clip, as sent to the model (and stored in the caption file)."""
    meta, scores, ann = rec.metadata, rec.scores, rec.annotations
    head, sync = scores.head_detail, scores.sync
    facts: dict[str, Any] = {
        "clip_id": rec.id,
        "duration_s": meta.duration,
        "resolution": meta.resolution,
        "fps": meta.fps,
        "language": meta.language,
        "speaker_id": meta.speaker_id,
        "shot_type": ann.shot_type,
        "template_caption": ann.caption,
        "quality_score": scores.quality.score if scores.quality else meta.quality_score,
        "head_detail": {k: stat.avg for k in ("orientation", "movement", "rotation", "resolution")
                        if head and (stat := head.stat(k))},
        "sync": {"offset_frames": sync.offset_frames if sync else None,
                 "confidence": sync.confidence if sync else None},
    }
    measured = ann.facts or {}  # framing, lighting, loudness, speech rate from the annotate stage
    if measured:
        facts["measured"] = measured
    pose = measured.get("head_pose")
    if isinstance(pose, list) and len(pose) == 3:
        facts["head_pose_deg"] = {k: round(float(v), 1) for k, v in zip(("pitch", "yaw", "roll"), pose)}
    else:
        pose = _median_head_pose(out, ann.keypoints)
        if pose is not None:
            facts["head_pose_deg"] = pose
    return facts


def _median_head_pose(out: Path, keypoints: str | None) -> dict[str, float] | None:
    """Median pitch, yaw, roll (degrees) over the clip from its keypoints file, if there is one."""
    if not keypoints or not (out / keypoints).is_file():
        return None
    import numpy as np

    try:
        with np.load(out / keypoints) as z:
            pose = np.asarray(z["head_pose"], dtype=np.float64)
    except (OSError, KeyError, ValueError):
        return None
    if pose.ndim != 2 or pose.shape[1] != 3 or not np.isfinite(pose).any():
        return None
    med = np.nanmedian(pose, axis=0)
    return {k: round(float(v), 1) for k, v in zip(("pitch", "yaw", "roll"), med)}


def sample_frames(video: Path, n: int, max_side: int = 512, quality: int = 85) -> list[bytes]:
    """``n`` JPEGs from frames spread evenly over the clip (at the middles of ``n`` equal parts).

    Args:
        video: the clip file.
        n: frames wanted.
        max_side: longest side of each JPEG in pixels (smaller frames are not enlarged).
        quality: JPEG quality 0–100.
    """
    import av
    import cv2

    from talkset.media.frames import scaled_size, upright

    if not video.is_file():
        raise _ClipFailure(f"{video}: clip file missing")
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: most of the cost is decoding up to the last pick
            assert stream.time_base is not None  # PyAV gives None only for a 0/0 time base, which no demuxer leaves
            duration = _duration_s(container, stream)
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            targets = [start + (i + 0.5) * duration / n for i in range(n)]
            picked: list[av.VideoFrame] = []
            last: av.VideoFrame | None = None
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else start
                while len(picked) < n and t + 1e-6 >= targets[len(picked)]:
                    picked.append(frame)
                if len(picked) == n:
                    break
                last = frame
            if not picked and last is None:
                raise _ClipFailure(f"{video}: no decodable frame")
            # a stream shorter than its stated duration: repeat its last frame
            picked += [last if last is not None else picked[-1]] * (n - len(picked))
            jpegs = []
            for frame in picked:
                w, h = scaled_size(frame.width, frame.height, max_side)
                img = upright(frame.to_ndarray(width=w, height=h, format="bgr24", interpolation="AREA"),
                              int(getattr(frame, "rotation", 0) or 0))
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise _ClipFailure(f"{video}: JPEG encoding failed")
                jpegs.append(buf.tobytes())
            return jpegs
    except av.FFmpegError as e:
        raise _ClipFailure(f"{video}: cannot decode ({e})") from None


def _duration_s(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def build_request(model: str, facts: dict[str, Any], jpegs: list[bytes]) -> dict[str, Any]:
    """The chat-completions body: the facts as text, then the frames as data-URL images."""
    text = ("Caption this clip. The images are frames spread evenly over it, in order.\n"
            f"{FACTS_PREFIX}{json.dumps(facts, ensure_ascii=False)}\n"
            'Reply with a JSON object: {"visual_style": "...", "audio_style": "...", "summary": "..."}')
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [{"type": "image_url",
                 "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(j).decode("ascii")}}
                for j in jpegs]
    return {"model": model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}],
            "response_format": {"type": "json_object"},
            "temperature": 0}


def _post(endpoint: _Endpoint, body: dict[str, Any], clip_id: str) -> dict[str, Any]:
    """POSTs with retries; returns the decoded JSON response or raises _ClipFailure with the last reason."""
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if endpoint.key:
        headers["Authorization"] = "Bearer " + endpoint.key.reveal()
    attempts = endpoint.retries + 1
    for attempt in range(1, attempts + 1):
        log.debug("%s: POST %s (attempt %d of %d, %d bytes)", clip_id, endpoint.url, attempt, attempts, len(data))
        wait = endpoint.backoff_s * 2 ** (attempt - 1)
        try:
            req = urllib.request.Request(endpoint.url, data=data, headers=headers, method="POST")
            with endpoint.open(req) as resp:
                raw = resp.read()
            try:
                return json.loads(raw)
            except ValueError:
                raise _ClipFailure(f"the endpoint answered with invalid JSON: {_snippet(raw)}") from None
        except urllib.error.HTTPError as e:
            detail = _error_detail(e)
            reason = f"HTTP {e.code} from {endpoint.url}" + (f": {detail}" if detail else "")
            if 300 <= e.code < 400:
                raise _ClipFailure(reason + f" redirecting to {e.headers.get('Location')!r}: redirects are not "
                                   "followed (the key would go along); give the final URL as base URL") from None
            if e.code in (401, 403):
                raise _Refused(reason + " (check the key in the environment variable)") from None
            if e.code != 429 and e.code < 500:
                raise _ClipFailure(reason) from None
            retry_after = _retry_after_s(e.headers.get("Retry-After"))
            if retry_after is not None:
                wait = retry_after
        except TimeoutError:
            reason = f"timed out after {endpoint.timeout_s:g} s waiting for {endpoint.url}"
        except urllib.error.URLError as e:
            timed_out = isinstance(e.reason, TimeoutError)
            reason = (f"timed out after {endpoint.timeout_s:g} s waiting for {endpoint.url}" if timed_out
                      else f"cannot reach {endpoint.url}: {e.reason}")
        except (OSError, http.client.HTTPException) as e:  # reset or cut off mid-response
            reason = f"connection to {endpoint.url} failed: {e}"
        if attempt == attempts:
            break
        wait = min(wait, MAX_BACKOFF_S)
        log.debug("%s: %s; retrying in %.2f s", clip_id, endpoint.redact(reason), wait)
        time.sleep(wait)
    raise _ClipFailure(f"{reason} ({attempts} attempt{'s' if attempts > 1 else ''})")


def _error_detail(e: urllib.error.HTTPError) -> str:
    """The error message of an OpenAI-style error body, else a short snippet of the body."""
    try:
        raw = e.read()
    except OSError:
        return ""
    try:
        msg = json.loads(raw)["error"]["message"]
        return _snippet(str(msg).encode())
    except (ValueError, KeyError, TypeError):
        return _snippet(raw)


def _snippet(raw: bytes, limit: int = 160) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_caption(response: dict[str, Any]) -> dict[str, str]:
    """The caption in a chat-completions response: JSON content, also inside code fences or prose.

    Raises:
        _ClipFailure: no message content, no JSON object in it, or a key missing.
    """
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _ClipFailure(f"the response has no choices[0].message.content: "
                           f"{_snippet(json.dumps(response).encode())}") from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise _ClipFailure("the model returned an empty message")
    obj = _json_object(content)
    if obj is None:
        raise _ClipFailure(f"the model's answer is not a JSON object: {_snippet(content.encode())}")
    missing = [k for k in CAPTION_KEYS if obj.get(k) in (None, "")]
    if missing:
        raise _ClipFailure(f"the model's answer lacks {', '.join(missing)}: {_snippet(content.encode())}")
    return {k: obj[k] if isinstance(obj[k], str) else json.dumps(obj[k], ensure_ascii=False)
            for k in CAPTION_KEYS}


def _json_object(text: str) -> dict[str, Any] | None:
    candidates = [text.strip()] + [m.strip() for m in _FENCE.findall(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None
