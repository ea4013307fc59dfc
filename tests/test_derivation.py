"""docs/derivation.md's numbers, read from the page and checked against the engine: every
number of the hand-worked 3-2-1 example (net inputs, outputs, error, deltas, gradients,
updated weights), Han and Kamber's Err_j = -delta_j, the table of array shapes of the
784-256-128-64-32-10 network at B = 100, and the cross-entropy difference on a row that
does not sum to 1."""
import re
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop.tf.autodiff import nn
from backprop.app.figures import network_values

DOCS = Path(__file__).resolve().parent.parent / "docs"
DERIVATION = (DOCS / "derivation.md").read_text()
NUMBER = r"-?\d+(?:\.\d+)?"


def section(title):
    start = DERIVATION.index(f"## {title}")
    return DERIVATION[start:DERIVATION.index("\n## ", start + 1)]


def worked_numbers():
    """{name: value} of every `name = ... = value` in the indented lines of section 10."""
    found = {}
    for line in section("10.").splitlines():
        if not line.startswith("    "):
            continue
        for chunk in re.split(r"\s{3,}", line.strip()):
            m = re.match(rf"^(\S+) = .*?({NUMBER})$", chunk)
            assert m, f"cannot read {chunk!r}"
            assert m.group(1) not in found, f"{m.group(1)} written twice"
            found[m.group(1)] = float(m.group(2))
    return found


def engine_numbers():
    v = network_values()                          # the engine's forward and backward pass
    units = {4: (1, 0), 5: (1, 1), 6: (2, 0)}     # unit -> (layer of units, index)
    inputs = {1: 0, 2: 1, 3: 2}
    expected = {"E": v["E"]}
    for unit, (l, k) in units.items():
        expected[f"z_{unit}"] = v["z"][l][k]
        expected[f"O_{unit}"] = v["O"][l][k]
        expected[f"delta_{unit}"] = v["delta"][l][k]
        expected[f"dE/db_{unit}"] = v["db"][l - 1][k]
        expected[f"b_{unit}"] = v["b"][l - 1][k] - 0.9 * v["db"][l - 1][k]   # updated
    below = {4: inputs, 5: inputs, 6: {4: 0, 5: 1}}
    for unit, (l, k) in units.items():
        for j, row in below[unit].items():
            expected[f"dE/dW_{j}{unit}"] = v["dW"][l - 1][row, k]
            expected[f"W_{j}{unit}"] = v["W"][l - 1][row, k] - 0.9 * v["dW"][l - 1][row, k]
    return expected


def test_every_number_of_the_hand_worked_example_is_the_engines():
    written, expected = worked_numbers(), engine_numbers()
    assert set(written) == set(expected)          # every quantity written, nothing else
    assert len(written) == 32          # z, O, delta, db for 3 units, E, 8 dW, 8 W, 3 b
    for name, value in written.items():
        assert value == pytest.approx(expected[name], abs=5e-7), name


def test_han_and_kamber_err_is_minus_delta():
    v = network_values()
    err = dict(re.findall(rf"`Err_(\d) = ({NUMBER})`", section("10.")))
    assert set(err) == {"4", "5", "6"}
    deltas = {"4": v["delta"][1][0], "5": v["delta"][1][1], "6": v["delta"][2][0]}
    for unit, value in err.items():
        assert float(value) == pytest.approx(-deltas[unit], abs=1.5e-4)   # their rounding
    assert "`Err_j` is `-delta_j`" in (DOCS / "notation.md").read_text()


def shape_table():
    rows = [line for line in section("11.").splitlines() if re.match(r"^\| \d", line)]
    columns = ["x", "z", "O", "delta", "dW", "db", "dE/dx"]
    return [dict(zip(columns, (tuple(int(n) for n in re.findall(r"\d+", cell))
                               for cell in row.strip("|").split("|")[1:]))) for row in rows]


def test_the_shape_table_is_the_models():
    B = 100
    model = bp.Sequential.mlp([784, 256, 128, 64, 32, 10], activation="relu")
    x = np.random.default_rng(0).uniform(size=(B, 784)).astype(np.float32)
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), np.arange(B) % 10)
    g, dE_dx = loss.backward(), []
    for layer in reversed(model.layers):
        g = layer.backward(g, need_input_grad=True)
        dE_dx.insert(0, g.copy())
    actual = [{"x": layer.x.shape, "z": (layer.x @ layer.W + layer.b).shape,
               "O": layer.predict(layer.x).shape, "delta": layer.delta.shape,
               "dW": layer.dW.shape, "db": layer.db.shape, "dE/dx": d.shape}
              for layer, d in zip(model.layers, dE_dx)]
    assert shape_table() == actual


def test_the_stated_cross_entropy_difference():
    p, t = [0.1, 0.1, 0.8, 0.1], [0.0, 1.0, 0.0, 0.0]
    engine = bp.CategoricalCrossEntropy().forward(np.array([p]), np.array([1]))
    tape = float(nn.categorical_crossentropy(t, p))
    assert (round(engine, 4), round(tape, 4)) == (2.3026, 2.3979)
    notation = (DOCS / "notation.md").read_text()
    assert "`-log 0.1 = 2.3026` against `-log(0.1 / 1.1) = 2.3979`" in notation
    assert "engine 2.3026 = -log 0.1;  tape 2.3979" in section("8.")
    # on a row that sums to 1 (a softmax's output) the two agree
    q = [0.1, 0.6, 0.2, 0.1]
    assert bp.CategoricalCrossEntropy().forward(np.array([q]), np.array([1])) == \
        pytest.approx(float(nn.categorical_crossentropy(t, q)), rel=1e-6)


def test_the_notation_is_z_for_the_net_input():
    """No `x_k`-style net input, no Kronecker `delta_ij` and no "x_1 delta_4" mix."""
    for page in ("derivation.md", "notation.md"):
        text = (DOCS / page).read_text()
        assert "delta_ij" not in text.replace("`delta_ij` (Kronecker)", "")
        assert not re.search(r"\bx_\d delta_\d", text)
        assert not re.search(r"\bx_[jk] = sum", text)
