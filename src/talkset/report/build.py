"""``talkset report``: a static HTML folder that opens offline (file://) and shows what a curate run made.

Layout of the report folder::

    index.html            funnel, distributions (inline SVG) and the clip browser; the data as embedded JSON
    static/               report.css, report.js, placeholder.svg (package data, copied)
    media/{key}.jpg|webp  thumbnail and animated preview per record, cached by record id
    kp/{key}.js           keypoints of the thumbnail frame, loaded by the page only when the overlay is on
    .talkset-report.json  what the report wrote (path → sha1) and the per-record cache

A rerun rewrites only files listed there whose content is unchanged; a file someone else put or changed is
moved aside to a ``.bak`` name first, with a warning.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tqdm import tqdm

from talkset.dataset.manifest import ManifestError, load_manifest
from talkset.dataset.records import CLIP, FAILED, KEPT, Funnel, Record
from talkset.errors import TalksetError
from talkset.files import atomic_write_bytes, back_up_unless_ours, sha1_file
from talkset.report import plots
from talkset.report.media import MediaError, grab, jpeg_bytes, keypoints_at, webp_bytes

log = logging.getLogger("talkset.report")

STATE_NAME = ".talkset-report.json"
STATIC_FILES = ("report.css", "report.js", "placeholder.svg")
STATE_SAVE_EVERY = 100  # records; an interrupted run keeps most of its cache
MAX_FAILURES_SHOWN = 200  # in the funnel; every one is also a record in the browser


class ReportError(TalksetError):
    """The report cannot be built; the message is one line naming the file and why."""


def build_report(out_dir: str | Path, dest: str | Path | None = None, *, previews: bool = True,
                 progress: bool = True) -> Path:
    """Writes the report of a curate output folder; returns the path of its ``index.html``.

    Args:
        out_dir: an output folder of ``talkset curate`` (holds manifest.json).
        dest: the report folder [default: ``out_dir/report``]; created if missing; must be empty or an
            earlier report.
        previews: also make the animated previews (about 3 s at 6 fps, 128 px; the slow part).
        progress: show a progress bar while pictures are made.

    Raises:
        FileNotFoundError: no ``manifest.json`` in ``out_dir``.
        ReportError: the manifest cannot be read, or ``dest`` holds files that are not an earlier report.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    records = _read_manifest(out / "manifest.json")
    dest = Path(dest) if dest is not None else out / "report"
    owned = _Owned.open(dest)
    rows, poses = _media_rows(records, out, owned, previews, progress)
    owned.cache = {r.id: owned.cache[r.id] for r in records if r.id in owned.cache}
    for name in STATIC_FILES:
        owned.write(f"static/{name}", (resources.files("talkset.report") / "static" / name).read_bytes())
    page = render_page(records, rows, poses, title=f"talkset report: {out.resolve().name}")
    owned.write("index.html", page.encode("utf-8"))
    owned.finish()
    log.debug("report of %d records in %.1f s", len(records), time.perf_counter() - started)
    return dest / "index.html"


def _read_manifest(path: Path) -> list[Record]:
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent}: no manifest.json (not a talkset curate output folder)")
    try:
        return load_manifest(path)
    except ManifestError as e:
        raise ReportError(str(e)) from None


# ---------------------------------------------------------------------------------------------- ownership


class _Owned:
    """The files of one report folder that the report wrote, with their sha1, and the per-record cache."""

    def __init__(self, root: Path, files: dict[str, str], cache: dict[str, dict]):
        self.root, self.files, self.cache = root, files, cache
        self.used: set[str] = set()

    @classmethod
    def open(cls, root: Path) -> _Owned:
        state = root / STATE_NAME
        if state.is_file():
            try:
                data = json.loads(state.read_text(encoding="utf-8"))
                return cls(root, dict(data["files"]), dict(data["records"]))
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ReportError(f"{state}: unreadable report state ({e}); move the folder away") from None
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ReportError(f"{root}: exists and is not a talkset report (no {STATE_NAME}); "
                              "choose another folder with -o")
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, {}, {})

    def has(self, rel: str) -> bool:
        return rel in self.files and (self.root / rel).is_file()

    def keep(self, rel: str) -> None:
        self.used.add(rel)

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        back_up_unless_ours(path, self.files.get(rel))
        digest = hashlib.sha1(data).hexdigest()
        if not (path.exists() and self.files.get(rel) == digest):
            atomic_write_bytes(path, data)
        self.files[rel] = digest
        self.used.add(rel)

    def save(self) -> None:
        state = {"format": 1, "files": self.files, "records": self.cache}
        atomic_write_bytes(self.root / STATE_NAME, json.dumps(state, indent=1).encode())

    def finish(self) -> None:
        """Deletes files an earlier run wrote that this one no longer uses (unchanged ones only)."""
        for rel in sorted(set(self.files) - self.used):
            path = self.root / rel
            if path.is_file() and sha1_file(path) == self.files[rel]:
                path.unlink()
            del self.files[rel]
        self.save()


# ---------------------------------------------------------------------------------------------- per record


def file_key(record_id: str) -> str:
    """A file-name-safe, unique key for a record id."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", record_id)[:60].strip("._") or "record"
    return f"{safe}-{hashlib.sha1(record_id.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def _media_rows(records, out: Path, owned: _Owned, previews: bool, progress: bool):
    rows, poses = [], {}
    bar = tqdm(records, unit="clip", desc="report", disable=not progress)
    for i, rec in enumerate(bar):
        entry = _media_entry(rec, out, owned, previews)
        # The annotator's per-clip facts hold the median head pose; imported manifests only have the npz.
        pose = (rec.annotations.facts or {}).get("head_pose")
        if isinstance(pose, list) and len(pose) == 3:
            poses[rec.id] = pose
        elif entry.get("head_pose"):
            poses[rec.id] = entry["head_pose"]
        rows.append(_row(rec, entry, out, owned.root, previews))
        if (i + 1) % STATE_SAVE_EVERY == 0:
            owned.save()
    bar.close()
    return rows, poses


def _picture_source(rec: Record, out: Path) -> tuple[Path | None, float | None, float | None, str]:
    """Where the record's pictures come from: its clip file, else its span of the source, else nowhere."""
    if rec.status == FAILED:
        return None, None, None, "unusable source"
    clip = rec.video_path
    if clip and (out / clip).is_file():
        return out / clip, None, None, "clip"
    src = rec.source.path
    if src and Path(src).is_file():
        return Path(src), float(rec.source.start), float(rec.source.end), "source"
    return None, None, None, "no clip file and the source is not found"


def _media_entry(rec: Record, out: Path, owned: _Owned, previews: bool) -> dict[str, Any]:
    """The record's cached pictures, made again only when the clip, source span or annotations changed."""
    path, start, end, origin = _picture_source(rec, out)
    kp_rel = rec.annotations.keypoints
    kp_path = out / kp_rel if kp_rel and origin == "clip" else None
    fp = hashlib.sha1(json.dumps([str(path), start, end, _stat(path), str(kp_path), _stat(kp_path)])
                      .encode("utf-8", "surrogateescape")).hexdigest()
    key = file_key(rec.id)
    old = owned.cache.get(rec.id)
    wanted = [r for r in (old or {}).get("files", []) if previews or not r.endswith(".webp")]
    if (old and old.get("fp") == fp and all(owned.has(r) for r in wanted)
            and (not previews or old.get("previews"))):
        for r in wanted:
            owned.keep(r)
        return dict(old, preview=old.get("preview") if previews else None)
    entry: dict[str, Any] = {"fp": fp, "previews": previews, "origin": origin, "thumb": None, "thumb_t": None, "preview": None,
                             "kp": None, "head_pose": None, "note": None if path or origin == "unusable source" else origin, "files": []}
    if path is not None:
        try:
            g = grab(path, start, end, preview=previews)
        except MediaError as e:
            entry["note"] = str(e)
            log.warning("%s", e)
        else:
            entry["thumb"], entry["thumb_t"] = f"media/{key}.jpg", round(g.thumb_t, 3)
            owned.write(entry["thumb"], jpeg_bytes(g.thumb))
            if previews and len(g.preview) > 1:
                entry["preview"] = f"media/{key}.webp"
                owned.write(entry["preview"], webp_bytes(g.preview))
            if kp_path is not None:
                _keypoints(entry, kp_path, g.thumb_t, key, owned)
    entry["files"] = [r for r in (entry["thumb"], entry["preview"], entry["kp"]) if r]
    owned.cache[rec.id] = entry
    return entry


def _keypoints(entry: dict[str, Any], kp_path: Path, t_s: float, key: str, owned: _Owned) -> None:
    try:
        pts = keypoints_at(kp_path, t_s)
    except MediaError as e:
        entry["note"] = str(e)
        log.warning("%s", e)
        return
    entry["head_pose"] = [round(v, 2) for v in pts.head_pose] if pts.head_pose else None
    entry["kp"] = f"kp/{key}.js"
    # Only numbers and our own key go into this script: no string from the inputs.
    body = json.dumps(pts.to_json(), separators=(",", ":"), allow_nan=False)
    owned.write(entry["kp"], f'talksetKeypoints("{key}",{body});\n'.encode())


def _stat(path: Path | None) -> list[int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _flat_scores(scores: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(scores, dict):
        return out
    for k, v in scores.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_scores(v, name + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[name] = round(v, 4) if isinstance(v, float) else v
    return out


def _href(target: Path, root: Path) -> str:
    """A relative, percent-encoded URL: a ``javascript:`` or ``#`` in a file name stays a file name."""
    return quote(Path(os.path.relpath(target.resolve(), root.resolve())).as_posix())


def _row(rec: Record, entry: dict[str, Any], out: Path, root: Path, previews: bool) -> dict[str, Any]:
    meta, ann, src, clip = rec.metadata, rec.annotations, rec.source, rec.video_path
    return {
        "id": rec.id, "type": rec.type, "status": rec.status,
        "reasons": [r.text for r in rec.reasons], "keys": rec.reason_keys(),
        "src": src.path, "start": src.start, "end": src.end,
        "dur": meta.duration, "res": meta.resolution, "fps": meta.fps,
        "lang": meta.language, "speaker": meta.speaker_id, "shot": ann.shot_type,
        "caption": ann.caption, "scores": _flat_scores(rec.scores.to_dict()),
        "thumb": entry.get("thumb"), "preview": entry.get("preview") if previews else None,
        "kp": entry.get("kp"), "kpKey": file_key(rec.id) if entry.get("kp") else None,
        "pic": entry.get("origin"), "note": entry.get("note"),
        "clip": _href(out / clip, root) if clip and (out / clip).is_file() else None,
    }


# ---------------------------------------------------------------------------------------------- page


def embed_json(obj: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: no ``<``, ``>`` or ``&`` left, so no
    string can close the element or open a comment."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def distributions(records: list[Record], poses: dict[str, list[float]]) -> list[tuple[str, str, str]]:
    """(id, title, svg) per chart, over candidate clips, kept vs rejected."""
    clips = [r for r in records if r.type == CLIP]
    kept = [r for r in clips if r.status == KEPT]
    other = [r for r in clips if r.status != KEPT]

    def split(fn):
        return [fn(r) for r in kept], [fn(r) for r in other]

    def meta(key):
        return lambda r: getattr(r.metadata, key)

    charts = [
        ("duration", "Duration (s)", plots.histogram(*split(meta("duration")), unit=" s")),
        ("resolution", "Resolution", plots.bars(*split(meta("resolution")))),
        ("quality", "Quality score", plots.histogram(*split(lambda r: r.scores.quality and r.scores.quality.score))),
        ("sync-offset", "Sync offset (frames)",
         plots.histogram(*split(lambda r: r.scores.sync and r.scores.sync.offset_frames), integer=True)),
        ("sync-confidence", "Sync confidence (z)",
         plots.histogram(*split(lambda r: r.scores.sync and r.scores.sync.confidence))),
    ]
    for i, name in enumerate(("pitch", "yaw", "roll")):
        values = split(lambda r, i=i: (poses.get(r.id) or (None, None, None))[i])
        charts.append((f"head-{name}", f"Head {name} (median per clip, °)",
                       plots.histogram(*values, unit="°") if any(v is not None for v in values[0] + values[1])
                       else '<p class="note">no keypoint annotations</p>'))
    speakers = {s for s in split(meta("speaker_id"))[0] + split(meta("speaker_id"))[1] if s is not None}
    charts += [
        ("language", "Language", plots.bars(*split(meta("language")))),
        ("shot-type", "Shot type", plots.bars(*split(lambda r: r.annotations.shot_type),
                                              missing="not annotated")),
        ("speakers", f"Speakers ({len(speakers)} distinct)", plots.bars(*split(meta("speaker_id")))),
    ]
    return charts


def _funnel_html(f: Funnel) -> str:
    e = escape
    steps = [("sources", f.sources, "sources"), ("candidates", f.candidates, "candidate clips"),
             ("kept", f.kept, "kept clips")]
    html = ['<div class="steps">']
    for i, (key, n, label) in enumerate(steps):
        if i:
            html.append('<span class="arrow">→</span>')
        html.append(f'<div class="step"><b id="n-{key}">{n}</b><span>{label}</span></div>')
    html.append("</div>")
    html.append(f'<p class="note">unusable sources: <span id="n-failed">{f.failed_sources}</span> · '
                f'sources without a candidate: <span id="n-nocand">{f.sources_without_candidates}</span> · '
                f'candidates rejected: <span id="n-rejected">{f.rejected}</span> · '
                f'kept: {f.kept_seconds / 60:.1f} min</p>')
    if f.rejections:
        html.append('<h3>Rejections by reason</h3><p class="note">A record counts once per reason key; '
                    'one may have several.</p><table id="rejections"><tr><th>reason</th><th>records</th></tr>')
        for key, n in sorted(f.rejections.items(), key=lambda kv: (-kv[1], kv[0])):
            html.append(f'<tr><td class="reason">{e(key)}</td><td class="count">{n}</td></tr>')
        html.append("</table>")
    if f.failures:
        html.append('<h3>Unusable sources</h3><ul id="failures">')
        for path, reason in f.failures[:MAX_FAILURES_SHOWN]:
            # Curate's reasons start with the path already.
            rest = reason[len(path):].lstrip(": ") if reason.startswith(path) else reason
            html.append(f'<li><code>{e(path)}</code>: <span>{e(rest)}</span></li>')
        html.append("</ul>")
        if f.failed_sources > MAX_FAILURES_SHOWN:
            html.append(f'<p class="note">and {f.failed_sources - MAX_FAILURES_SHOWN} more (filter the clip '
                        'browser by status "failed")</p>')
    return "".join(html)


def render_page(records: list[Record], rows: list[dict[str, Any]], poses: dict[str, list[float]],
                title: str) -> str:
    """The whole index.html: escaped server-side parts plus the browser's data as embedded JSON."""
    f = Funnel.of(records)
    charts = "".join(f'<figure class="plot" id="plot-{cid}"><figcaption>{escape(t)}</figcaption>{svg}</figure>'
                     for cid, t, svg in distributions(records, poses))
    template = (resources.files("talkset.report") / "template.html").read_text(encoding="utf-8")
    data = {"clips": rows, "rejections": f.rejections}
    return (template.replace("<!--TITLE-->", escape(title))
            .replace("<!--FUNNEL-->", _funnel_html(f))
            .replace("<!--PLOTS-->", charts)
            .replace("<!--DATA-->", embed_json(data)))
