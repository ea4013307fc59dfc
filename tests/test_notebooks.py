"""Every notebook in docs/notebooks/ runs top to bottom (nbclient, a fresh kernel, the
notebook's folder as working directory); its assert cells are the checks. Skipped when
nbclient, nbformat or ipykernel is missing (the dev extra installs them)."""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow  # a fresh kernel per notebook

# lines a notebook's check cells print once their asserts have passed
PRINTS = {"backprop_by_hand.ipynb": ("exercise 1: correct", "engine agrees"),
          "vanishing_gradients.ipynb": ("exercise 1: correct", "exercise 2: correct",
                                        "exercise 3: correct"),
          "gradient_checking.ipynb": ("exercise 1: correct", "exercise 2: correct",
                                      "exercise 3: correct"),
          "tutorial.ipynb": ("tape, delta rule and the fused delta agree",
                             "after 200 steps: (-3.77931, -3.28319)")}
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_its_checks_pass(path, monkeypatch):
    # the kernel imports this checkout's backprop, as the tests do, not an installed one
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    notebook = nbformat.read(path, as_version=4)
    assert any("assert" in cell.source for cell in notebook.cells if cell.cell_type == "code")
    client = nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()                              # CellExecutionError names the failing cell
    printed = "".join(out.get("text", "") for cell in notebook.cells
                      if cell.cell_type == "code" for out in cell.outputs)
    assert printed and all(line in printed for line in PRINTS.get(path.name, ()))
