"""The example script runs and prints what it promises."""
import subprocess
import sys

from conftest import SOURCE_DIR


def test_walkthrough_runs():
    script = SOURCE_DIR / "examples" / "python" / "walkthrough.py"
    sysfs = SOURCE_DIR / "tests" / "fixtures" / "sysfs" / "bf3-dpu"
    r = subprocess.run([sys.executable, str(script), "--sysfs", str(sysfs)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bf3-0000-03-00.0-dpu: NVIDIA BlueField-3, dpu side" in out
    assert "2 to add, 0 to change, 0 to delete." in out
    assert "planning again changes nothing: True" in out
    assert "tcp dport  80: redirect" in out and "tcp dport  22: drop" in out
    assert "tcp dport 443: pass" in out
    assert "p0 -> pf0vf1" in out and "pf0vf2 -> pf0vf0" in out
    assert "InvalidArgumentError (INVALID_ARGUMENT): dst_port" in out
