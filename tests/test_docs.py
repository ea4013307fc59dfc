"""The docs run: every ```python block of docs/*.md and README.md, and every ``backprop``
command shown in a code block, so the docs cannot drift from the code.

Conventions (stated once here, followed by the docs):

- A file's ```python blocks run in order in one namespace (later blocks use earlier
  names), with the working directory set to a fresh tmp_path, so files they write (PNG
  figures, run folders) land there.
- A ```text block whose opening fence is on the line right after a python block's closing
  fence is that block's output: the block's stdout must equal it exactly, after trailing
  whitespace is stripped from each line and from the end. Any other fence (```sh, a bare
  ```) is not checked.
- A block that calls ``load_fashion_mnist`` needs the real data; without it the file's
  test stops there and is skipped, with the reason (the blocks before it have passed).
- A line of a code block (fenced or indented) that starts with ``backprop `` (or holds
  one after ``&&``) must parse with ``backprop.app.cli.build_parser()``; metavars such as
  RUN_DIR are replaced by a sample value first.
"""
import contextlib
import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from backprop.app.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

# an opening fence ``` plus an optional language, the body, a closing ``` on its own line
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
NEEDS_DATA = "load_fashion_mnist"
DATA_REASON = ("Fashion-MNIST not found (install the Debian package dataset-fashion-mnist, "
               "which puts it in /usr/share/datasets/fashion-mnist, or run `backprop data "
               "fetch`)")
PLACEHOLDERS = {"RUN_DIR": "runs/default", "DIR": "data", "FILE": "out.png",
                "BASE": "https://example.org/fashion-mnist/", "STEPS": "500", "N": "2",
                "X": "1", "Y": "0"}


def _rel(path):
    return path.relative_to(ROOT).as_posix()


def fenced_blocks(text):
    """(lang, body, first body line number (1-based), start offset, end offset) per fence."""
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("body")) + 1
        blocks.append((m.group("lang"), m.group("body"), line, m.start(), m.end()))
    return blocks


def python_blocks(text):
    """[(code, first line, expected output or None)] in document order."""
    blocks = fenced_blocks(text)
    out = []
    for i, (lang, body, line, _, end) in enumerate(blocks):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(blocks):
            next_lang, next_body, _, next_start, _ = blocks[i + 1]
            if next_lang == "text" and next_start == end + 1:   # fence on the next line
                expected = next_body
        out.append((body, line, expected))
    return out


def _normalize(text):
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def _data_available():
    from backprop.app.data import locate
    try:
        locate()
    except (FileNotFoundError, OSError, ValueError):
        return False
    return True


DOCS_WITH_CODE = [doc for doc in DOC_FILES if python_blocks(doc.read_text())]


def test_the_walkthrough_and_readme_have_python_blocks():
    assert ROOT / "docs" / "walkthrough.md" in DOCS_WITH_CODE
    assert ROOT / "README.md" in DOCS_WITH_CODE


@pytest.mark.parametrize("doc", [
    pytest.param(doc, marks=pytest.mark.slow) if doc.name == "walkthrough.md" else doc
    for doc in DOCS_WITH_CODE], ids=_rel)  # the walkthrough trains an epoch of the real data
def test_python_blocks_run_and_print_what_the_doc_shows(doc, tmp_path, monkeypatch):
    blocks = python_blocks(doc.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")       # pyplot, if a block uses it, opens nothing
    namespace = {"__name__": "__docs__"}
    with np.printoptions():                       # a block may set print options: restore them
        for code, line, expected in blocks:
            if NEEDS_DATA in code and not _data_available():
                pytest.skip(f"{_rel(doc)}:{line} needs the data: {DATA_REASON}")
            # padded so a traceback names the line of the .md file
            compiled = compile("\n" * (line - 1) + code, str(doc), "exec")
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                exec(compiled, namespace)
            if expected is not None:
                assert _normalize(stdout.getvalue()) == _normalize(expected), (
                    f"{_rel(doc)}:{line}: the block prints something else than the ```text "
                    f"block after it shows")


def test_every_text_block_is_the_output_of_a_python_block():
    """A ```text block that does not touch a python block would silently go unchecked."""
    for doc in DOC_FILES:
        text = doc.read_text()
        blocks = fenced_blocks(text)
        for i, (lang, _, line, start, _) in enumerate(blocks):
            if lang != "text":
                continue
            before = blocks[i - 1] if i else None
            assert before and before[0] == "python" and before[4] + 1 == start, (
                f"{_rel(doc)}:{line}: a ```text block must start on the line right after a "
                f"```python block (it is that block's checked output); use a bare ``` fence "
                f"for output that is not checked")


def test_the_walkthrough_checks_its_printed_numbers():
    blocks = python_blocks((ROOT / "docs" / "walkthrough.md").read_text())
    assert sum(expected is not None for _, _, expected in blocks) >= 20


def code_block_lines(text):
    """(line number, line) of every line inside a fenced or an indented code block."""
    lines = text.splitlines()
    inside = set()
    for _, body, first, _, _ in fenced_blocks(text):
        inside.update(range(first, first + body.count("\n")))
    in_fence = in_indented = False
    previous_blank = True
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            in_fence, in_indented = not in_fence, False
        elif not in_fence:
            if line.startswith("    ") and (in_indented or previous_blank):
                in_indented = True                # 4 spaces after a blank line: a code block
                inside.add(number)
            elif line.strip():
                in_indented = False
        previous_blank = not line.strip()
    return [(n, lines[n - 1]) for n in sorted(inside)]


def shown_commands():
    """(id, argv) of every ``backprop ...`` command in a code block of the docs."""
    commands = []
    for doc in DOC_FILES:
        for number, line in code_block_lines(doc.read_text()):
            for part in re.split(r"&&|\|\||;|\|", line):
                part = part.strip()
                part = part[2:] if part.startswith("$ ") else part
                for prefix in ("backprop ", "python -m backprop "):
                    if part.startswith(prefix):
                        argv = [PLACEHOLDERS.get(tok, tok)
                                for tok in shlex.split(part[len(prefix):], comments=True)]
                        commands.append((f"{_rel(doc)}:{number}", argv))
    return commands


COMMANDS = shown_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 8


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_shown_command_parses(where, argv, capsys):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:                    # argparse: a usage error, or --help
        assert stop.code == 0, f"{where}: backprop {' '.join(argv)}: {capsys.readouterr().err}"
        return
    assert callable(args.run), where
