"""Notebooks follow the template, carry no outputs; the repo URL is rewritten everywhere."""

import json
import shutil
from pathlib import Path

import pytest

from helpers import notebook, repo

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    assert notebook.outputs_in(path) == [], f"strip outputs: nbstripout {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_template(path):
    assert notebook.template_problems(path) == []
    setup = "".join(json.loads(path.read_text())["cells"][1]["source"])
    assert f'KIT_REPO = "{repo.REPO_URL}"' in setup
    assert "helpers.setup()" in setup
    code = "\n".join(ln for ln in setup.splitlines() if not ln.lstrip().startswith("#"))
    assert "pip" in code and "requirements.txt" in code
    assert "tensorflow" not in code.lower() and "keras" not in code.lower(), "never reinstall"


def test_template_problems_are_detected(tmp_path):
    nb = notebook.make_notebook("01_x.ipynb", "T", "S", "5 min", "N = 1", [("code", "x = 1")])
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    nb["cells"][1]["execution_count"] = 1
    nb["metadata"].pop("accelerator")
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb))
    assert notebook.outputs_in(path) == [1]
    assert notebook.template_problems(path) == ["metadata does not ask Colab for a GPU"]
    nb["cells"].insert(2, nb["cells"][1])  # two setup cells
    path.write_text(json.dumps(nb))
    assert "first code cell must be the one setup cell" in notebook.template_problems(path)


def test_set_repo_rewrites_badges_install_lines_readme_and_constant(tmp_path):
    for sub in ("helpers", "notebooks"):
        (tmp_path / sub).mkdir()
    shutil.copy(ROOT / "helpers" / "repo.py", tmp_path / "helpers" / "repo.py")
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks" / NOTEBOOKS[0].name)
    (tmp_path / "README.md").write_text(
        f"Clone {repo.REPO_URL}.git\n{notebook.colab_badge(NOTEBOOKS[0].name)}\n")
    new = "https://github.com/some-teacher/course-fork"
    changed = notebook.set_repo(new, "spring", root=tmp_path)
    assert len(changed) == 3
    text = "".join(p.read_text() for p in changed)
    assert repo.REPO_URL not in text
    assert "colab.research.google.com/github/some-teacher/course-fork/blob/spring/notebooks/" \
        in text
    assert f'KIT_REPO = \\"{new}\\"' in (tmp_path / "notebooks" / NOTEBOOKS[0].name).read_text()
    assert f'REPO_URL = "{new}"' in (tmp_path / "helpers" / "repo.py").read_text()
    assert 'BRANCH = "spring"' in (tmp_path / "helpers" / "repo.py").read_text()
    with pytest.raises(ValueError):
        notebook.set_repo("not a url", root=tmp_path)
