"""Speed-ups of moto's core, under every service's calls (found profiling long replays).

Not a service: what moto does for each request whatever the service. Listed with the services'
speed-ups (`payops local`), installed first and undone last by the one installer.

To find a request's handler method, moto listed every function of the response class with
`inspect.getmembers` (sorting a few hundred names) on every request. The list is now kept per
class, and made again when a class of its MRO gains or loses an attribute (a patch adding an
action), so it is always the list moto would make.

`backends[account]` took the global backend lock, copied the keys to a list and scanned every
service's BackendDict with a Python `__eq__` (the reset list) on every access, several times per
request. An account already there, of a BackendDict already in moto's reset list, is now answered
directly; anything else goes through moto's own code, and moto's reset empties both.

Each in-process request became a werkzeug Request through werkzeug's test EnvironBuilder,
which parses the URL, the headers and the query again for every call. Two calls with the same
method, URL and headers (but for Content-Length) get the same environ but for the body: its
stream and length. So the environ moto builds for a (method, URL, headers) is kept, and the next
such call gets a copy with its own body stream and length, and the `sys.stderr` of the moment.
Only non-empty bytes or text bodies take this path (an empty body's environ depends on headers).

moto's response serializer finds each member of a response in its Python object by trying
aliases: for every member of every object it made six alias-provider objects and asked each
whether it applies (the shape's model name, its parent's name as a prefix, the object's class
name as a prefix...). Apart from an explicit `Meta.serialization_aliases` of the object, the
answer depends only on the member's key, its shape and parent shape, and the object's class
name: it is kept per those, and the explicit aliases are still read from the object each time.

Speed-ups (same behaviour, less work):
- core.action_names
- core.backend_lookups
- core.request_environs
- core.serializer_aliases
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.patch import Patch, Patches
from payops.localaws.core.registry import Service

SPEEDUPS: dict[str, str] = {
    "core.action_names": (
        "Every request listed its response class's functions with inspect.getmembers to find "
        "its handler; the list is kept per class (made again when the class changes)."
    ),
    "core.backend_lookups": (
        "Every backends[account] lookup took the global lock and scanned every service's "
        "BackendDict with a Python __eq__; a known account of a registered one is answered "
        "directly."
    ),
    "core.request_environs": (
        "Every in-process request built its WSGI environ through werkzeug's EnvironBuilder; one "
        "built for the same method, URL and headers is copied, with the call's own body."
    ),
    "core.serializer_aliases": (
        "moto's response serializer built six alias providers for every member of every "
        "object it serialized; the aliases they give are kept per key, shape and class name."
    ),
}

_ENVIRONS_KEPT = 1024  # distinct (method, URL, headers): a few per operation a client calls
_ALIASES_KEPT = 8192  # distinct (member, shape, class): the members of the responses served


def _shape(clazz: type) -> tuple[int, ...]:
    """How many attributes each class of the MRO has: a function added or removed changes it."""
    return tuple(len(vars(base)) for base in clazz.__mro__)


def action_names_patches() -> list[Patch]:
    from moto.core import responses, utils

    original = utils.method_names_from_class
    kept: dict[type, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        shape = _shape(clazz)
        found = kept.get(clazz)
        if found is None or found[0] != shape:
            found = (shape, original(clazz))
            kept[clazz] = found
        return found[1]

    return [Patch(responses, "method_names_from_class", method_names_from_class)]


def backend_lookups_patches() -> list[Patch]:
    from moto.core.base_backend import BackendDict

    original_getitem = BackendDict.__getitem__
    original_reset = BackendDict.reset.__func__  # type: ignore[attr-defined]
    # Ids of the BackendDicts moto's own lookup put in its reset list (a set's add and clear
    # are atomic: no lock of ours).
    registered: set[int] = set()

    def getitem(self: Any, account_id: str) -> Any:
        if id(self) in registered:
            try:
                return dict.__getitem__(self, account_id)
            except KeyError:
                pass
        found = original_getitem(self, account_id)  # creates and registers, under moto's lock
        registered.add(id(self))
        return found

    def reset(cls: Any) -> None:
        registered.clear()
        original_reset(cls)

    return [
        Patch(BackendDict, "__getitem__", getitem),
        Patch(BackendDict, "reset", classmethod(reset)),
    ]


def request_environs_patches() -> list[Patch]:
    import sys
    from io import BytesIO

    from moto.core import request as moto_request

    original = moto_request.Request.from_primitives.__func__  # type: ignore[attr-defined]
    preserved = moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY
    chunked = moto_request.AwsChunkedWrapper
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}

    def from_primitives(cls: Any, method: str, url: str, headers: Any, body: Any = None) -> Any:
        if not body or not isinstance(body, (bytes, str)) or isinstance(body, chunked):
            return original(cls, method, url, headers, body)
        key = (
            cls,
            method,
            url,
            tuple((k, v) for k, v in headers.items() if k.lower() != "content-length"),
        )
        environ = kept.get(key)
        if environ is None:
            request = original(cls, method, url, headers, body)
            template = dict(request.environ)
            template.pop("wsgi.input", None)  # this call's own body stream and request object
            template.pop("werkzeug.request", None)
            if len(kept) >= _ENVIRONS_KEPT:
                kept.clear()
            kept[key] = template
            return request
        data = body.encode() if isinstance(body, str) else body
        environ = dict(environ)
        environ["wsgi.input"] = BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))  # what EnvironBuilder measures
        environ["wsgi.errors"] = sys.stderr  # EnvironBuilder's default, read per call
        environ[preserved] = dict(environ[preserved])
        return cls(environ)

    return [Patch(moto_request.Request, "from_primitives", classmethod(from_primitives))]


def serializer_aliases_patches() -> list[Patch]:
    from types import SimpleNamespace

    from moto.core import serialize

    original = serialize.AttributePicker.get_possible_keys
    explicit = serialize.ExplicitAlias
    defaults = serialize.DEFAULT_ALIAS_PROVIDERS  # moto's constant list, ExplicitAlias first
    if defaults[0] is not explicit:
        return []  # another order than the pinned moto's: its own code
    # moto's own loop, over the providers after ExplicitAlias (they read no object but its class).
    others = SimpleNamespace(alias_providers=defaults[1:])
    kept: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Any:
        obj, key, shape = context.obj, context.key, context.shape
        if self.alias_providers is not defaults:  # a picker given its own providers
            return original(self, context)
        cache_key = (key, shape, getattr(shape, "parent", None), type(obj).__name__)
        rest = kept.get(cache_key)
        if rest is None:
            rest = tuple(original(others, context))
            if len(kept) >= _ALIASES_KEPT:
                kept.clear()
            kept[cache_key] = rest
        provider = explicit(context)
        if provider.has_alias(key):  # read from the object each time
            return (provider.get_alias(key), *rest)
        return rest

    return [Patch(serialize.AttributePicker, "get_possible_keys", get_possible_keys)]


SERVICE = Service(
    name="moto_core",
    speedups=SPEEDUPS,
    speedup_patches=Patches(
        "moto_core",
        action_names_patches,
        backend_lookups_patches,
        request_environs_patches,
        serializer_aliases_patches,
    ),
)
