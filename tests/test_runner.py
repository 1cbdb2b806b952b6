"""`python -m helpers run`: executes notebooks headless, prints the table, exit status."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _nb(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_runner_reports_ok_and_failed_notebooks(tmp_path):
    good = _nb(tmp_path / "good.ipynb",
               "import os\nopen('flag.txt', 'w').write(os.environ['KIT_QUICK'])\n"
               "x = bytearray(50 * 2**20)")
    bad = _nb(tmp_path / "bad.ipynb", "raise ValueError('boom')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "helpers", "run", str(good), str(bad),
                           "--quick", "--offline"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = {ln.split()[0]: ln.split() for ln in proc.stdout.splitlines()
             if ln.startswith(("good.ipynb ", "bad.ipynb "))}
    assert lines["good.ipynb"][1] == "ok" and lines["bad.ipynb"][1] == "FAILED"
    assert float(lines["good.ipynb"][3]) > 50, "peak memory includes the kernel's 50 MB"
    assert (tmp_path / "flag.txt").read_text() == "1", "runs in the notebook's folder, quick"
    assert "boom" in proc.stderr
    executed = sorted((ROOT / "runs").glob("*/good.ipynb"))[-1]
    assert nbformat.read(str(executed), as_version=4).cells[0].outputs == []
    assert nbformat.read(str(executed), as_version=4).cells[0].execution_count == 1


def test_runner_rejects_unknown_notebook():
    proc = subprocess.run([sys.executable, "-m", "helpers", "run", "99_nothing"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no notebook matches" in proc.stderr
