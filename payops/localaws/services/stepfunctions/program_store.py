"""Parsing Step Functions programs (sfn.sll_parses) and sharing them between the processes of
one test session or replay run (sfn.shared_parses).

moto's parse predicts with ANTLR's full LL algorithm. `parse_program` first tries SLL, which
ANTLR documents gives the same tree or a syntax error, and on any error runs moto's parse, whose
errors and messages are the ones users see. The app's 14 definitions: 1.12 -> 0.87 s.

moto parses a definition with its ANTLR grammar, in pure Python: 20–150 ms each, ~1.5 s for the
app's 14 in a fresh process. A test session starts several processes that deploy the app (its
pytest-xdist workers, `payops serve`, a replay worker, the local AWS server), and its two workers
deploy the same settings. Each parsed its own.

When LOCALAWS_SHARED_ASSEMBLIES names a directory (core/shared_directory.py: set for the
processes of a test session and of `payops replay --workers`, which run the same code), each
program parsed is also pickled there under its parse-cache key, and a process that has not parsed
that definition loads it instead. Why the copy is what a parse would give:
- the key is the definition plus the parse hooks, and only keys whose hooks are all the bridges'
  (named by module and qualified name, the same in every process) are stored, with moto's and
  Python's versions;
- a program holds only components, dicts, lists and enums (the parse cache deep-copies it for
  each execution for the same reason);
- the bridges' task and error-name classes are made inside the functions that build the
  patches, so they are pickled by name and loaded as the class of the current install, which is
  what a parse under it would use.
The directory is the session's own (a private temporary directory), as for the assemblies; a
file that cannot be read or loaded is parsed again.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

from payops.localaws.core.shared_directory import shared_directory

_SUBDIRECTORY = "sfn-programs"
# The bridges' task and error-name classes by qualified name, as the last install made them.
_CLASSES: dict[str, type] = {}
_CLASSES_LOCK = threading.Lock()


def shared_by_name(cls: type) -> type:
    """Register a class made inside a function: pickled programs name it, and loading one
    gives the class this install made."""
    with _CLASSES_LOCK:
        _CLASSES[cls.__qualname__] = cls
    return cls


def _installed_class(qualname: str) -> type:
    return _CLASSES[qualname]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) and _CLASSES.get(obj.__qualname__) is obj:
            return _installed_class, (obj.__qualname__,)
        return NotImplemented


def _path(key: tuple[Any, ...]) -> Path | None:
    root = shared_directory()
    if root is None or not all(isinstance(hook, tuple) for hook in key[1:]):
        return None  # no shared directory, or a hook of moto's own (known only to this process)
    import moto

    stamp = repr((key, moto.__version__, sys.version)).encode()
    return root / _SUBDIRECTORY / f"{hashlib.sha256(stamp).hexdigest()[:40]}.pickle"


def load(key: tuple[Any, ...]) -> Any | None:
    """The program another process parsed for this key, or None."""
    path = _path(key)
    if path is None:
        return None
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # absent, half-copied by a crash, or not loadable here: parse instead
        return None


def save(key: tuple[Any, ...], program: Any) -> None:
    """Keep a program just parsed (never evaluated) for the other processes."""
    path = _path(key)
    if path is None or path.exists():
        return
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(program)
    except Exception:  # a component that does not pickle: this definition is parsed by each
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, path)  # whole or not at all, for a process reading it meanwhile


def sll_tree(definition: str) -> Any | None:
    """The parse tree by ANTLR's SLL prediction, which ignores the parser's context when it
    predicts (~20% less parse time here). ANTLR documents that it gives "the same parse tree that
    would be returned with the LL prediction mode" or a syntax error: None for any error, the
    lexer's included."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.atn.PredictionMode import PredictionMode
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4.error.Errors import ParseCancellationException
    from antlr4.error.ErrorStrategy import BailErrorStrategy
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

    class _Errors(ErrorListener):
        count = 0

        def syntaxError(self, *_: Any) -> None:
            self.count += 1

    lexer_errors = _Errors()
    lexer = ASLLexer(InputStream(definition))
    lexer.removeErrorListeners()  # moto's parse prints them, if there are any
    lexer.addErrorListener(lexer_errors)
    parser = ASLParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser._interp.predictionMode = PredictionMode.SLL
    parser._errHandler = BailErrorStrategy()
    try:
        tree = parser.state_machine()
    except ParseCancellationException:
        return None
    return None if lexer_errors.count else tree


def parse_program(definition: str) -> Any:
    """moto's AmazonStateLanguageParser.parse in ANTLR's two stages: the SLL tree, or on any error
    moto's own LL parse, with its errors and messages."""
    from moto.stepfunctions.parser.asl.parse import preprocessor
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    tree = sll_tree(definition)
    if tree is None:
        return AmazonStateLanguageParser.parse(definition)[0]
    return preprocessor.Preprocessor().visit(tree)
