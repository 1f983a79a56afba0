"""One run per output folder; a crashed run never leaves the folder locked."""
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.curate.run import curate, filter_manifest
from talkset.run.store import OutputBusy, OutputStore

HOLD = """
import sys, time
from talkset.run.store import OutputStore
with OutputStore(sys.argv[1]).exclusive("curate"):
    print("held", flush=True)
    time.sleep(120)
"""


def _hold(out):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_refuses_with_the_holders_pid(tmp_path):
    out = tmp_path / "out"
    holder = _hold(out)
    try:
        with pytest.raises(OutputBusy) as e:
            curate([tmp_path / "none.mp4"], out, workers=1, progress=False)
        assert f"pid {holder.pid}" in str(e.value) and "talkset curate" in str(e.value)
        result = CliRunner().invoke(app, ["curate", str(tmp_path / "none.mp4"), "-o", str(out), "--no-progress"])
        assert result.exit_code == 1 and "in use by another talkset run" in result.output
        assert "Traceback" not in result.output
        (out / ".talkset" / "done").mkdir(parents=True, exist_ok=True)
        with pytest.raises(OutputBusy):
            filter_manifest(out, None)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "out"
    holder = _hold(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    tic = time.monotonic()
    with OutputStore(out).exclusive("curate"):
        pass
    assert time.monotonic() - tic < 1.0


def test_the_lock_is_released_after_a_run(tmp_path):
    out = tmp_path / "out"
    curate([tmp_path / "none.mp4"], out, workers=1, progress=False)
    with OutputStore(out).exclusive("curate"):
        pass
