"""One curate run over the bad-input corpus of bad_inputs.py (folder + list files + direct paths, 2 workers).

Each case either gets exactly one failed record with a one-line reason naming its file, or is handled with no
failure (and passes its own check); the good real clip given alongside still gives a kept clip; nothing is
written outside the output folder; the manifest is strict JSON.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

import talkset.curate.run as curate_run
from talkset.dataset.manifest import video_id_for


def _load_corpus_module():
    # --import-mode=importlib puts no test folder on sys.path: load the helper module by its path.
    path = Path(__file__).with_name("bad_inputs.py")
    spec = importlib.util.spec_from_file_location("talkset_tests_bad_inputs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bad_inputs = _load_corpus_module()

def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed): type, size, mtime, link target."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            target = os.readlink(p) if os.path.islink(p) else None
            snap[os.path.relpath(p, root)] = (st.st_mode, st.st_size if not os.path.isdir(p) else 0,
                                              st.st_mtime_ns, target)
    return snap


@pytest.fixture(scope="module")
def run(tmp_path_factory, media):
    media = Path(media)
    tmp = tmp_path_factory.mktemp("bad_inputs")
    corpus, out = tmp / "corpus", tmp / "out"
    tic = time.perf_counter()
    cases = bad_inputs.make_corpus(corpus, media)
    made_s = time.perf_counter() - tic
    good = media / bad_inputs.VOX
    inputs = bad_inputs.curate_inputs(corpus, cases) + [good]
    vanish = [c.path for c in cases if c.vanish]

    before = {"corpus": _snapshot(corpus), "media": _snapshot(media), "tmp": sorted(os.listdir(tmp))}
    real_expand = curate_run.expand_inputs

    def expand_then_delete(paths):
        # The file is gone between listing and reading: workers open it only after this returns.
        found = real_expand(paths)
        for p in vanish:
            p.unlink()
        return found

    error = None
    tic = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(curate_run, "expand_inputs", expand_then_delete)
        try:
            summary = curate_run.curate(inputs, out, workers=2, progress=False)
        except Exception as e:  # reported by test_run_completes; the other tests then fail on their own
            error, summary = e, None
    run_s = time.perf_counter() - tic
    after = {"corpus": _snapshot(corpus), "media": _snapshot(media), "tmp": sorted(os.listdir(tmp))}
    manifest = out / "manifest.json"
    raw = manifest.read_bytes() if manifest.exists() else b""
    try:
        records = json.loads(raw.decode("utf-8")) if raw else []
    except (UnicodeDecodeError, ValueError):
        records = []
    print(f"\nbad_inputs: corpus written in {made_s:.1f} s, curate ran {run_s:.1f} s")
    return {"cases": {c.name: c for c in cases}, "corpus": corpus, "out": out, "summary": summary,
            "error": error, "raw": raw, "records": records, "before": before, "after": after,
            "vanish": vanish, "good": good, "made_s": made_s, "run_s": run_s}


def _records_of(records: list[dict], case) -> list[dict]:
    """Records of the case's file: its video id comes from the resolved path (links, ../ and all), and it
    survives names that are not UTF-8, which the manifest shows with U+FFFD."""
    vid = video_id_for(case.path)
    return [r for r in records if r["video-id"] == vid]


def test_case_names_are_the_declared_ones(run):
    assert tuple(run["cases"]) == bad_inputs.CASE_NAMES
    assert len(run["cases"]) >= 30


def test_run_completes(run):
    assert run["error"] is None, f"curate raised {type(run['error']).__name__}: {run['error']}"
    assert run["summary"] is not None and run["summary"].manifest.is_file()


def test_manifest_is_strict_utf8_json(run):
    def no_constants(name):
        raise ValueError(f"non-strict JSON constant {name}")

    text = run["raw"].decode("utf-8")  # strict: no lone surrogates from undecodable file names
    records = json.loads(text, parse_constant=no_constants)
    assert isinstance(records, list) and records


def test_good_real_video_is_kept(run):
    vid = video_id_for(run["good"])
    kept = [r for r in run["records"] if r["video-id"] == vid and r["status"] == "kept"]
    assert kept, [r["reasons"] for r in run["records"] if r["video-id"] == vid]
    for r in kept:
        assert (run["out"] / r["video-path"]).is_file()
        assert (run["out"] / r["audio-path"]).is_file()


def test_no_unexpected_failures(run):
    allowed = {r["id"] for c in run["cases"].values() if c.expect == "reason"
               for r in _records_of(run["records"], c)}
    unexpected = [r["reasons"] for r in run["records"] if r["status"] == "failed" and r["id"] not in allowed]
    assert not unexpected


def test_nothing_written_outside_out(run):
    b, a = run["before"], run["after"]
    assert a["media"] == b["media"], "the shared media folder changed"
    removed = {os.path.relpath(p, run["corpus"]) for p in run["vanish"]}
    expected = {k: v for k, v in b["corpus"].items() if k not in removed}
    # The folder that held a removed file has a new mtime: that change is the test's own.
    changed_dirs = {os.path.dirname(k) for k in removed}
    strip = lambda snap: {k: (v if k not in changed_dirs else v[:2]) for k, v in snap.items()}
    assert strip(a["corpus"]) == strip(expected), "the corpus folder changed"
    assert b["tmp"] == ["corpus"] and a["tmp"] == ["corpus", "out"], (b["tmp"], a["tmp"])


def _check_case(case, recs: list[dict], out: Path) -> None:
    name = case.name
    failed = [r for r in recs if r["status"] == "failed"]
    if case.expect == "reason":
        assert len(failed) == 1 and len(recs) == 1, f"{name}: expected one failed record, got {recs}"
        reasons = failed[0]["reasons"]
        assert len(reasons) == 1, reasons
        reason = reasons[0]
        assert "\n" not in reason and "\r" not in reason, reason
        names = (case.shown_name, *case.also_named)
        assert any(n in reason for n in names), f"{name}: none of {names!r} in {reason!r}"
        for word in case.reason_has:
            assert word in reason.lower(), f"{name}: {word!r} not in {reason!r}"
        return
    assert case.expect == "ok"
    assert not failed, f"{name}: failed: {[r['reasons'] for r in failed]}"
    if not case.records:
        assert not recs, f"{name}: should give no record, got {recs}"
        return
    assert recs, f"{name}: no record"
    if case.resolution:
        assert {r["metadata"].get("resolution") for r in recs} == {case.resolution}, recs
    if case.duration:
        part = json.loads((out / ".talkset/parts" / f"{recs[0]['video-id']}.json").read_text())
        lo, hi = case.duration
        assert lo <= part["duration"] <= hi, f"{name}: duration {part['duration']} not in [{lo}, {hi}]"
    if case.max_end is not None:
        ends = [r["source"]["end"] for r in recs if r["type"] == "clip"]
        assert all(e <= case.max_end for e in ends), f"{name}: clip ends {ends} past {case.max_end}"
    if case.kept:
        kept = [r for r in recs if r["status"] == "kept"]
        assert kept, f"{name}: nothing kept: {[r['reasons'] for r in recs]}"
        for r in kept:
            assert (out / r["video-path"]).is_file(), r["video-path"]
            assert (out / r["audio-path"]).is_file(), r["audio-path"]
    if case.check is not None:
        problem = case.check(recs, out)
        assert problem is None, f"{name}: {problem}"


@pytest.mark.parametrize("name", bad_inputs.CASE_NAMES)
def test_case(run, name):
    case = run["cases"][name]
    _check_case(case, _records_of(run["records"], case), run["out"])
