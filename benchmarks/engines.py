"""The engines the runner compares, one object each, so their epochs can be interleaved.

Every engine trains the same problem: the 784-256-128-64-32-10 ReLU network with
softmax cross-entropy on logits, Adam (eta = 1e-3, eps = 1e-8), minibatches of B in a
fresh seeded order every epoch, images kept as uint8 and scaled by 1/255 per batch
(except where an engine's usual way is a float copy of the whole set: the naive baseline
and scikit-learn, which wants one X array). The interface:

    engine = ENGINES[name](sizes, batch_size, seed)
    engine.missing()              None, or why the engine cannot run (a module is absent)
    engine.setup(data)            build the model (and compile, where there is compiling)
    engine.run_epoch()            one epoch of training over the whole training set
    engine.accuracy()             test accuracy of the current weights
    engine.threads()              the compute threads the engine's library reports
    engine.versions()             {library: version}

An engine whose library is not installed is listed as skipped, with the reason; it is
never an error. Heavy imports happen in ``setup``, never at module import, so the runner
can pin thread counts first.
"""
import importlib.metadata
import importlib.util
import os

import numpy as np


def blas_threads():
    """Threads of NumPy's BLAS as threadpoolctl reports them (None if it finds none)."""
    from threadpoolctl import threadpool_info
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return counts[0] if counts else None


def xla_threads():
    """Threads of XLA's CPU compute pool in this process (for the JAX engine).

    XLA sizes that pool once, when JAX creates its CPU client (DefaultThreadPoolSize in
    xla/pjrt/utils.cc): PJRT_NPROC, else NPROC, else the cores the process may run on.
    ``pin_thread_env`` sets PJRT_NPROC. The pool's threads are named tf_XLAEigen; they
    are counted where /proc lists the process's threads, else the rule gives the number.
    """
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        tasks = []
    count = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                count += f.read().strip() == "tf_XLAEigen"
        except OSError:  # the thread ended meanwhile
            pass
    if count:
        return count
    for name in ("PJRT_NPROC", "NPROC"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class Engine:
    """Base class; see the module docstring for the protocol."""

    name = ""
    requires = ()       # modules that must be importable
    install_hint = ""   # what to pip install when one is missing
    description = ""

    def __init__(self, sizes, batch_size=100, seed=0, threads=None, lr=1e-3):
        self.sizes, self.batch_size, self.seed, self.lr = list(sizes), int(batch_size), seed, lr
        self.n_threads = threads  # pinned by the engine's own library call, if it has one

    def missing(self):
        """None if every required module is importable, else a one-line reason."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:  # a dotted name whose parent package is absent
                found = False
            if not found:
                hint = f" (pip install {self.install_hint})" if self.install_hint else ""
                return f"{module} is not installed{hint}"
        return None

    def setup(self, data):
        raise NotImplementedError

    def run_epoch(self):
        raise NotImplementedError

    def accuracy(self):
        raise NotImplementedError

    def threads(self):
        return blas_threads()

    def versions(self):
        return {}


def _flat(images):
    """(N, 28, 28) uint8 -> (N, 784) view."""
    return images.reshape(len(images), -1)


class Backprop(Engine):
    """This package, with one of its kernel backends; GEMMs go to NumPy's BLAS."""

    requires = ("numba",)
    backend = "numba"

    def setup(self, data):
        import backprop
        from backprop.app import data as bp_data
        from backprop.core import kernels
        from backprop.app import training_run as train
        (x_train, y_train), (self.x_test, self.y_test) = data
        self._train, self._kernels = train, kernels
        config = train.TrainConfig(epochs=1, batch_size=self.batch_size, lr=self.lr,
                                   hidden=tuple(self.sizes[1:-1]), seed=self.seed)
        with kernels.use_backend(self.backend):
            # compile (or load from numba's cache) every kernel of a step on a throwaway
            # model, so no timed epoch (not even the warm-up) pays for it
            model, loss, optimizer = train.build(config, self.sizes[0], self.sizes[-1])
            warm = bp_data.Batches(x_train[:3 * self.batch_size], y_train[:3 * self.batch_size],
                                   self.batch_size, seed=self.seed)
            for x, y in warm:
                train.train_step(model, loss, optimizer, x, y)
            backprop.evaluate(model, x_train[:10], y_train[:10], loss)
            self.model, self.loss, self.optimizer = train.build(config, self.sizes[0],
                                                                self.sizes[-1])
        self.batches = bp_data.Batches(x_train, y_train, self.batch_size, seed=self.seed)

    def run_epoch(self):
        step = self._train.train_step
        with self._kernels.use_backend(self.backend):
            for x, y in self.batches:
                step(self.model, self.loss, self.optimizer, x, y)

    def accuracy(self):
        with self._kernels.use_backend(self.backend):
            import backprop
            return backprop.evaluate(self.model, self.x_test, self.y_test, self.loss)["accuracy"]

    def versions(self):
        import backprop
        v = {"backprop": backprop.__version__, "numpy": np.__version__}
        if self.backend == "numba":  # its version, without loading it
            v["numba"] = importlib.metadata.version("numba")
        return v


class BackpropNumba(Backprop):
    name = "backprop-numba"
    description = "backprop, numba kernels (JIT, loaded from numba's cache) + NumPy BLAS GEMMs"


class BackpropNumpy(Backprop):
    name = "backprop-numpy"
    description = "backprop, NumPy reference kernels + NumPy BLAS GEMMs"
    requires = ()
    backend = "numpy"


class NaiveNumpy(Engine):
    """The straightforward NumPy loop of ``naive.py``: the baseline."""

    name = "naive-numpy"
    description = "plain NumPy: float32 copy of the data, fresh arrays every step"

    def setup(self, data):
        from .naive import NaiveMLP
        (x_train, y_train), (x_test, y_test) = data
        self.x = _flat(x_train).astype(np.float32) / 255   # the whole set as float32
        self.y = y_train.astype(np.int64)
        self.x_test, self.y_test = _flat(x_test).astype(np.float32) / 255, y_test
        self.model = NaiveMLP(self.sizes, lr=self.lr, seed=self.seed)
        self.rng = np.random.default_rng(self.seed)

    def run_epoch(self):
        order = self.rng.permutation(len(self.x))
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            self.model.train_step(self.x[index], self.y[index])

    def accuracy(self):
        return float(np.mean(self.model.predict(self.x_test) == self.y_test))

    def versions(self):
        return {"numpy": np.__version__}


class PyTorch(Engine):
    """nn.Sequential of Linear + ReLU, CrossEntropyLoss, torch.optim.Adam, on the CPU."""

    name = "pytorch"
    description = "PyTorch, CPU, eager nn.Sequential + torch.optim.Adam"
    requires = ("torch",)
    install_hint = "torch==2.13.0"

    def setup(self, data):
        import torch
        from torch import nn
        self.torch = torch
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        (x_train, y_train), (x_test, y_test) = data
        torch.manual_seed(self.seed)
        layers = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.model = nn.Sequential(*layers[:-1])  # logits: no ReLU after the last layer
        self.loss = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, eps=1e-8)
        self.x = torch.from_numpy(_flat(x_train))  # uint8, shares NumPy's memory
        self.y = torch.from_numpy(y_train.astype(np.int64))
        self.x_test, self.y_test = torch.from_numpy(_flat(x_test)), y_test
        self.rng = np.random.default_rng(self.seed)

    def run_epoch(self):
        order = self.torch.from_numpy(self.rng.permutation(len(self.x)))
        self.model.train()
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.x[index].float().div_(255)   # uint8 -> float32 per batch
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(x), self.y[index]).backward()
            self.optimizer.step()

    def accuracy(self):
        self.model.eval()
        with self.torch.no_grad():
            logits = self.model(self.x_test.float().div_(255))
        return float(np.mean(logits.argmax(1).numpy() == self.y_test))

    def threads(self):
        import torch
        return torch.get_num_threads()

    def versions(self):
        import torch
        return {"torch": torch.__version__}


class Jax(Engine):
    """JAX on the CPU: one jax.jit step (forward, loss, jax.grad, Adam) over donated state.

    The maths is in ``jax_step.py``. Batches are gathered on the host as the others do
    (uint8 rows by a fresh seeded permutation); the step scales them inside. Two shapes
    are compiled in ``setup``, the full batch and the epoch's shorter last one (60000 is
    not a multiple of every batch size), each on a throwaway copy of the state, so no
    timed epoch compiles.
    """

    name = "jax"
    description = "JAX, CPU, one jax.jit step (jax.grad + hand-written Adam), donated state"
    requires = ("jax",)
    install_hint = "jax jaxlib"

    def setup(self, data):
        import jax

        from . import flops, jax_step
        self.jax, self.jax_step = jax, jax_step
        (x_train, y_train), (x_test, y_test) = data
        self.x, self.y = _flat(x_train), y_train.astype(np.int32)  # uint8 rows, labels
        self.x_test, self.y_test = _flat(x_test), y_test
        self.step = jax_step.make_step(self.lr)
        self.params = jax_step.init(self.sizes, self.seed)
        self.m, self.v = jax_step.zeros_like(self.params), jax_step.zeros_like(self.params)
        self.t = jax.numpy.zeros((), jax.numpy.int32)
        for B in sorted(set(flops.epoch_batches(len(self.x), self.batch_size))):
            warm = jax_step.copy((self.params, self.m, self.v, self.t))
            jax.block_until_ready(self.step(*warm, self.x[:B], self.y[:B]))
        self.rng = np.random.default_rng(self.seed)

    def run_epoch(self):
        order = self.rng.permutation(len(self.x))
        params, m, v, t, step = self.params, self.m, self.v, self.t, self.step
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            params, m, v, t = step(params, m, v, t, self.x[index], self.y[index])
        # steps are dispatched asynchronously: the epoch ends when its last update is done
        self.params, self.m, self.v, self.t = self.jax.block_until_ready((params, m, v, t))

    def accuracy(self):
        predicted = np.asarray(self.jax_step.predict(self.params, self.x_test))
        return float(np.mean(predicted == self.y_test))

    def threads(self):
        return xla_threads()

    def versions(self):
        import jax
        import jaxlib
        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


class TensorFlow(Engine):
    """Keras Sequential trained by a GradientTape loop compiled with tf.function."""

    name = "tensorflow"
    description = "TensorFlow/Keras, CPU, GradientTape step in tf.function"
    requires = ("tensorflow",)
    install_hint = "tensorflow==2.21.0"

    def setup(self, data):
        import tensorflow as tf
        self.tf = tf
        if self.n_threads:
            try:  # only possible before TensorFlow's runtime starts
                tf.config.threading.set_intra_op_parallelism_threads(self.n_threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:
                pass
        (x_train, y_train), (x_test, y_test) = data
        tf.random.set_seed(self.seed)
        keras = tf.keras
        hidden = [keras.layers.Dense(n, activation="relu") for n in self.sizes[1:-1]]
        self.model = keras.Sequential([keras.Input((self.sizes[0],)), *hidden,
                                       keras.layers.Dense(self.sizes[-1])])
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = keras.optimizers.Adam(learning_rate=self.lr, epsilon=1e-8)
        self.x = tf.constant(_flat(x_train))            # uint8
        self.y = tf.constant(y_train.astype(np.int64))
        self.x_test, self.y_test = _flat(x_test), y_test
        model, x_all, y_all = self.model, self.x, self.y

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def step(index):
            x = tf.cast(tf.gather(x_all, index), tf.float32) / 255.0  # per batch
            y = tf.gather(y_all, index)
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        self.step = step
        self.rng = np.random.default_rng(self.seed)

    def run_epoch(self):
        order = self.rng.permutation(int(self.x.shape[0]))
        for start in range(0, len(order), self.batch_size):
            self.step(order[start:start + self.batch_size])

    def accuracy(self):
        logits = self.model(self.x_test.astype(np.float32) / 255, training=False)
        return float(np.mean(np.argmax(logits.numpy(), axis=1) == self.y_test))

    def threads(self):
        return self.tf.config.threading.get_intra_op_parallelism_threads() or None

    def versions(self):
        import tensorflow as tf
        return {"tensorflow": tf.__version__, "keras": tf.keras.__version__}


class ScikitLearn(Engine):
    """MLPClassifier, solver adam, one ``partial_fit`` (one pass over the data) per epoch."""

    name = "sklearn"
    description = "scikit-learn MLPClassifier, adam, partial_fit per epoch"
    requires = ("sklearn",)
    install_hint = "scikit-learn"

    def setup(self, data):
        from sklearn.neural_network import MLPClassifier
        (x_train, y_train), (x_test, y_test) = data
        self.x = _flat(x_train).astype(np.float32) / 255  # it wants the whole X, as floats
        self.y = y_train
        self.x_test, self.y_test = _flat(x_test).astype(np.float32) / 255, y_test
        # alpha=0: no L2 penalty, as in the reference run
        self.model = MLPClassifier(hidden_layer_sizes=tuple(self.sizes[1:-1]), activation="relu",
                                   solver="adam", alpha=0.0, batch_size=self.batch_size,
                                   learning_rate_init=self.lr, epsilon=1e-8, shuffle=True,
                                   random_state=self.seed)
        self.classes = np.arange(self.sizes[-1])
        self.started = False

    def run_epoch(self):
        if self.started:
            self.model.partial_fit(self.x, self.y)
        else:
            self.model.partial_fit(self.x, self.y, classes=self.classes)
            self.started = True

    def accuracy(self):
        return float(self.model.score(self.x_test, self.y_test))

    def versions(self):
        import sklearn
        return {"scikit-learn": sklearn.__version__}


ENGINES = {cls.name: cls for cls in (BackpropNumba, BackpropNumpy, NaiveNumpy, PyTorch, Jax,
                                     TensorFlow, ScikitLearn)}


def make(name, sizes, batch_size, seed, threads):
    """An engine instance by name (ValueError listing the valid names otherwise)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of: {', '.join(ENGINES)}")
    return ENGINES[name](sizes, batch_size, seed, threads)
