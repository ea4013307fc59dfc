"""The paper forms are PyTorch's: bp.Adam, bp.RMSProp, bp.Adagrad and bp.SGD (momentum,
Nesterov) give torch.optim's weights step for step, as their docstrings say. Skipped
without PyTorch (``pip install -e ".[bench]"``)."""
import numpy as np
import pytest

import backprop as bp

torch = pytest.importorskip("torch")

FORMS = [
    ("adam", dict(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam", dict(lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3),
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    ("rmsprop", dict(lr=0.01, rho=0.99, eps=1e-8),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
    ("rmsprop", dict(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7)),
    ("adagrad", dict(), lambda p: torch.optim.Adagrad(p)),                  # both defaults
    ("sgd", dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("momentum", dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("nesterov", dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9,
                                                         nesterov=True)),
]


@pytest.mark.parametrize("name, kwargs, make_torch", FORMS,
                         ids=[f"{c[0]}-{len(c[1])}" for c in FORMS])
def test_the_paper_forms_are_pytorchs_update(name, kwargs, make_torch):
    """20 steps on gradients of every size, small ones included (where eps matters)."""
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=50) * 10.0 ** rng.uniform(-6, 0, 50) for _ in range(20)]
    w0 = rng.normal(size=50)
    mine = w0.copy()
    opt = bp.get_optimizer(name, [mine], **kwargs)
    theirs = torch.tensor(w0.copy(), requires_grad=True)
    their_opt = make_torch([theirs])
    for g in grads:
        opt.step([g])
        theirs.grad = torch.tensor(g)
        their_opt.step()
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
