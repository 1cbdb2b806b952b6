"""The notebook template: header (title, summary, Colab badge, run time), setup cell,
parameters cell; plus the checks and rewrites the maintainer tools need.

Lesson notebooks are made with :func:`make_notebook` and then edited as notebooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import repo

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
COLAB_PATTERN = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/"
                           r"[\w.-]+/")

SETUP_MARK = "# kit-setup"
PARAMS_MARK = "# kit-parameters"


def colab_badge(filename: str, url: str | None = None, branch: str | None = None) -> str:
    url, branch = url or repo.REPO_URL, branch or repo.BRANCH
    owner_repo = url.removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/{filename}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


def setup_source(url: str | None = None) -> str:
    url = url or repo.REPO_URL
    return f'''{SETUP_MARK}: on Colab, fetch the kit (TensorFlow and Keras are never reinstalled)
# and mount Drive; everywhere, prepare the runtime and print a one-glance banner.
import os
import subprocess
import sys
KIT_REPO = "{url}"
if "google.colab" in sys.modules and not os.path.isdir("/content/kit"):
    subprocess.run(["git", "clone", "-q", "--depth", "1", KIT_REPO, "/content/kit"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                    "/content/kit/requirements.txt"], check=True)
for root in ("/content/kit", "..", "."):
    if os.path.isfile(os.path.join(root, "helpers", "__init__.py")):
        sys.path.insert(0, os.path.abspath(root))
        break
import helpers
cfg = helpers.setup()'''


def make_notebook(filename: str, title: str, summary: str, runtime_t4: str,
                  parameters: str, cells: list[tuple[str, str]]) -> dict:
    """A notebook dict: header, setup cell, parameters cell, then ``cells``.

    ``parameters`` is the body of the parameters cell (use ``cfg.pick(full, quick)``);
    ``cells`` are ``("md" | "code", source)`` pairs.
    """
    import nbformat

    header = (f"# {title}\n\n{colab_badge(filename)}\n\n{summary}\n\n"
              f"**Expected run time on a Colab T4 GPU:** {runtime_t4}. "
              "In quick mode (`KIT_QUICK=1`) it runs in a few minutes on a CPU.")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(header),
        nbformat.v4.new_code_cell(setup_source()),
        nbformat.v4.new_markdown_cell("Parameters. Quick mode shrinks sizes and epochs; "
                                      "nothing else changes. Set `RETRAIN = True` to train "
                                      "again instead of loading cached models."),
        nbformat.v4.new_code_cell(f"{PARAMS_MARK}\n{parameters.strip()}"),
    ]
    for kind, src in cells:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(src.strip("\n")))
    nb.metadata.update({
        "accelerator": "GPU",
        "colab": {"provenance": [], "gpuType": "T4", "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    return nb


def write_notebook(nb: dict, filename: str) -> Path:
    import nbformat

    path = NOTEBOOK_DIR / filename
    nbformat.write(nbformat.from_dict(nb), str(path))
    return path


def notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def outputs_in(path: Path) -> list[int]:
    """Indexes of code cells that carry outputs or execution counts."""
    cells = json.loads(Path(path).read_text())["cells"]
    return [i for i, c in enumerate(cells) if c.get("cell_type") == "code"
            and (c.get("outputs") or c.get("execution_count") is not None)]


def template_problems(path: Path) -> list[str]:
    """What a notebook misses of the template (empty list when it conforms)."""
    nb = json.loads(Path(path).read_text())
    cells, problems = nb["cells"], []
    if not cells or cells[0]["cell_type"] != "markdown":
        return ["first cell is not the markdown header"]
    head = "".join(cells[0]["source"])
    if not head.startswith("# "):
        problems.append("header has no title")
    if colab_badge(Path(path).name) not in head:
        problems.append("Colab badge missing or pointing elsewhere")
    if "Colab T4" not in head:
        problems.append("expected run time on a Colab T4 missing")
    code = [("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    if sum(SETUP_MARK in c for c in code) != 1 or not code[0].startswith(SETUP_MARK):
        problems.append("first code cell must be the one setup cell")
    if len(code) < 2 or not code[1].startswith(PARAMS_MARK):
        problems.append("second code cell must be the parameters cell")
    if nb.get("metadata", {}).get("accelerator") != "GPU":
        problems.append("metadata does not ask Colab for a GPU")
    return problems


def set_repo(url: str, branch: str = "main", root: Path | None = None) -> list[Path]:
    """Point badges, install lines, README and ``helpers/repo.py`` at another repository.

    ``root`` is the kit's checkout (default: this one). Returns the files rewritten.
    """
    url = url.rstrip("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"expected https://github.com/<owner>/<repo>, got {url!r}")
    root = Path(root) if root is not None else NOTEBOOK_DIR.parent
    repo_py = root / "helpers" / "repo.py"
    consts = repo_py.read_text()
    old_url = re.search(r'^REPO_URL = "([^"]+)"', consts, re.M).group(1)
    old_branch = re.search(r'^BRANCH = "([^"]+)"', consts, re.M).group(1)
    owner_repo = url.removeprefix("https://github.com/")
    new_colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/"
    changed = []
    for path in [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        if not path.exists():
            continue
        text = path.read_text()
        new = COLAB_PATTERN.sub(new_colab, text).replace(old_url, url)
        if new != text:
            path.write_text(new)
            changed.append(path)
    text = repo_py.read_text()
    repo_py.write_text(text.replace(f'REPO_URL = "{old_url}"', f'REPO_URL = "{url}"')
                       .replace(f'BRANCH = "{old_branch}"', f'BRANCH = "{branch}"'))
    changed.append(repo_py)
    if root.resolve() == NOTEBOOK_DIR.parent.resolve():
        repo.REPO_URL, repo.BRANCH = url, branch
    return changed
