"""The core: the derivation as code, and what a learner reads.

    activations.py     f and the delta step delta = f'(z) * dE/dO, per activation
    layers.py          the layer protocol; Dense: forward caches what backward needs,
                       backward computes delta, dW = x^T delta, db and dE/dx = delta W^T
    losses.py          E and dE/dO; the fused output deltas (sigmoid + MSE, softmax + CE)
    model.py           Sequential: forward, backward, flat params and grads, summary, astype
    optim.py           SGD, RMSProp, Adagrad, Adam and Keras's forms, each rule written out
    loop.py            train_step (forward, loss, backward, step), fit, evaluate, callbacks
    batches.py         shuffled minibatches, images scaled a batch at a time
    gradient_check.py  central differences against the step training takes
    registry.py        the names of activations and layers, a user's classes included
    kernels/           the numba kernels and their NumPy twins

The core imports nothing from ``backprop.app`` or ``backprop.tf`` (the three-way check
alone, at its edge, asks the tape for a third opinion); a test enforces it.
"""
