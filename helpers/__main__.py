"""Command line: ``python -m helpers run|set-repo|check``.

    python -m helpers run all --quick --offline   # execute every notebook headless
    python -m helpers run 01 04                    # by number or file name
    python -m helpers set-repo https://github.com/<you>/<fork>
    python -m helpers check                        # notebooks stripped and on the template
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import notebook

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs"


def resolve(names: list[str]) -> list[Path]:
    available = notebook.notebooks()
    if not names or names == ["all"]:
        return available
    chosen = []
    for name in names:
        hits = [p for p in available if p.name == name or p.stem == name
                or p.name.startswith(f"{name}_") or p.name.startswith(name)]
        if not hits and Path(name).is_file():
            hits = [Path(name).resolve()]
        if not hits:
            raise SystemExit(f"no notebook matches {name!r}; have: "
                             + ", ".join(p.name for p in available))
        chosen.extend(h for h in hits[:1] if h not in chosen)
    return chosen


def execute_one(src: Path, dst: Path, timeout: int) -> None:
    """Child process: execute ``src`` top to bottom in its folder, write ``dst``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(src), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(src.parent)}})
    try:
        client.execute()
    finally:
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(dst))


def run(names: list[str], quick: bool, offline: bool, timeout: int) -> int:
    paths = resolve(names)
    env = dict(os.environ)
    if quick:
        env["KIT_QUICK"] = "1"
    if offline:
        env["KIT_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows, failed = [], 0
    for path in paths:
        dst = RUNS / stamp / path.name
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "helpers", "_execute", str(path),
                                 str(dst), str(timeout)], env=env, cwd=str(path.parent))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        peak_mb = usage.ru_maxrss / 1024  # kernel and runner: Linux reports KiB
        ok = proc.returncode == 0
        failed += not ok
        rows.append((path.name, "ok" if ok else "FAILED", seconds, peak_mb))
        print(f"{path.name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"\n{'notebook':<{width}}  {'status':<6}  {'seconds':>8}  {'peak MB':>8}")
    for name, status, seconds, peak in rows:
        print(f"{name:<{width}}  {status:<6}  {seconds:8.1f}  {peak:8.0f}")
    print(f"\nexecuted copies in {RUNS / stamp}")
    return 1 if failed else 0


def check() -> int:
    bad = 0
    for path in notebook.notebooks():
        problems = notebook.template_problems(path)
        if notebook.outputs_in(path):
            problems.append("carries outputs (strip them: nbstripout notebooks/*.ipynb)")
        for p in problems:
            print(f"{path.name}: {p}")
        bad += bool(problems)
    print("all notebooks conform" if not bad else f"{bad} notebook(s) need attention")
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="execute notebooks headless into runs/")
    p_run.add_argument("notebooks", nargs="*", default=["all"])
    p_run.add_argument("--quick", action="store_true", help="KIT_QUICK=1: small sizes")
    p_run.add_argument("--offline", action="store_true", help="KIT_OFFLINE=1: offline data")
    p_run.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p_repo = sub.add_parser("set-repo", help="point badges and install lines at a fork")
    p_repo.add_argument("url")
    p_repo.add_argument("--branch", default="main")
    sub.add_parser("check", help="notebooks are stripped and follow the template")
    p_exec = sub.add_parser("_execute")
    p_exec.add_argument("src", type=Path)
    p_exec.add_argument("dst", type=Path)
    p_exec.add_argument("timeout", type=int)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        return run(args.notebooks, args.quick, args.offline, args.timeout)
    if args.cmd == "set-repo":
        for path in notebook.set_repo(args.url, args.branch):
            print(f"rewrote {path.relative_to(ROOT)}")
        return 0
    if args.cmd == "check":
        return check()
    if args.cmd == "_execute":
        try:
            execute_one(args.src, args.dst, args.timeout)
        except Exception as exc:
            print(f"{args.src.name} failed: {str(exc)[-3000:]}", file=sys.stderr)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
