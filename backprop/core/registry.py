"""Names -> classes for activations and layers, and the configs that rebuild them.

This module owns how a saved model finds its classes again. Every subclass of
``bp.Activation`` and ``bp.Layer`` registers itself when its class statement runs
(``__init_subclass__``), under a name looked up in any case: so a user's activation or
layer is known by its name as soon as it is defined, and a model that uses it saves and
loads like a built-in one. A class defined outside backprop also writes where it lives
("class": "module.QualName") into its config, so loading a model whose class is not
defined names the class to import; nothing is imported from a file's say-so.

A config holds the constructor's arguments, read from the attributes of the same name
(scikit-learn's ``get_params`` convention): ``__init__(self, n, dtype)`` stores
``self.n``, and the config is {"n": ...}.
"""
import inspect


NOT_ARCHITECTURE = ("dtype", "rng")  # constructor arguments a config does not hold


def is_builtin(cls):
    """Whether ``cls`` is one of backprop's own classes."""
    return cls.__module__.split(".")[0] == "backprop"


def class_path(cls):
    """"module.QualName": where a class is defined, for the message that asks for it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register(registry, name, cls, kind):
    """registry[name.lower()] = cls. A user's class may replace a user's class of the same
    name (a cell run again, a module reloaded), never a built-in one."""
    key = name.lower()
    taken = registry.get(key)
    if taken is not None and is_builtin(taken) and not is_builtin(cls):
        raise ValueError(f"the {kind} name {name!r} is backprop's {taken.__name__}; give "
                         f"{cls.__qualname__} another name")
    registry[key] = cls


def origin(cls):
    """{"class": "module.QualName"} for a class defined outside backprop, else {}."""
    return {} if is_builtin(cls) else {"class": class_path(cls)}


def constructor_args(obj):
    """{argument: value} for the constructor's arguments (dtype and rng aside), each read
    from the attribute of the same name."""
    args = {}
    parameters = list(inspect.signature(type(obj).__init__).parameters.values())[1:]
    for p in parameters:
        if p.name in NOT_ARCHITECTURE or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(obj, p.name):
            raise TypeError(f"{type(obj).__name__}.config() reads the constructor argument "
                            f"{p.name!r} from self.{p.name}: store it there in __init__ "
                            f"(or write config() yourself)")
        args[p.name] = getattr(obj, p.name)
    return args


def missing(registry, name, config, kind):
    """The ValueError for a ``name`` not in ``registry``: it names the class to import when
    the config says where that class was defined ("class"), else lists the known names."""
    if isinstance(config.get("class"), str):
        module, _, qualname = config["class"].rpartition(".")
        return ValueError(f"the {kind} {name!r} is class {qualname} of module {module}, "
                          f"which is not defined here: import it (or run the code that "
                          f"defines {qualname}) before loading")
    known = dict.fromkeys(c.__name__ if kind == "layer" else k for k, c in registry.items())
    return ValueError(f"unknown {kind} {name!r}; expected one of: {', '.join(known)}")
