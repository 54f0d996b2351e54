# Candidate-side runner for standard-input problems, run as text in the sandboxed child (never
# imported). codeduel.tasks.competitive puts _CODEDUEL_SOURCE (the program) and
# _CODEDUEL_PREAMBLE (the imports the benchmark's own evaluator gives every program) before it.
#
# Per test, the judge calls codeduel_run_stdin(input_text, cap): the program runs as __main__ in
# a fresh namespace with that text as sys.stdin (input(), sys.stdin.buffer, open(0) too) and its
# printed text comes back to the judge, which compares. Everything here is as untrusted as the
# program itself: it decides nothing, and the judge bounds what it accepts back.
# ruff: noqa: F821
import builtins as _cd_builtins
import io as _cd_io
import sys as _cd_sys
import threading as _cd_threading

# A program that does not compile fails here, once, before any test.
_cd_preamble = compile(_CODEDUEL_PREAMBLE, "<preamble>", "exec", dont_inherit=True)
_cd_code = compile(_CODEDUEL_SOURCE, "<solution>", "exec", dont_inherit=True)
del _CODEDUEL_SOURCE


class _CdCapture(_cd_io.RawIOBase):
    """What the program prints, up to ``cap`` bytes."""

    def __init__(self, cap):
        super().__init__()
        self.data = bytearray()
        self.cap = cap

    def writable(self):
        return True

    def write(self, b):
        if len(self.data) + len(b) > self.cap:
            raise RuntimeError(f"output limit: the program printed more than {self.cap} bytes")
        self.data += b
        return len(b)

    def close(self):  # the program closing sys.stdout must not lose what it printed
        pass


def codeduel_run_stdin(data, cap):
    raw = data.encode("utf-8", "surrogatepass")
    capture = _CdCapture(int(cap))
    writers = []

    def text_out():
        w = _cd_io.TextIOWrapper(_cd_io.BufferedWriter(capture, 1 << 16), encoding="utf-8")
        writers.append(w)
        return w

    def text_in():
        return _cd_io.TextIOWrapper(_cd_io.BufferedReader(_cd_io.BytesIO(raw)), encoding="utf-8")

    real_open = _cd_builtins.open

    def stdin_open(file, mode="r", *args, **kwargs):
        # open(0) and open(1) are common fast-I/O idioms in competitive programming.
        if (type(file) is int and file in (0, 1)) or file in ("/dev/stdin", "/dev/stdout"):
            reading = file in (0, "/dev/stdin")
            if "b" in mode:
                return _cd_io.BytesIO(raw) if reading else _cd_io.BufferedWriter(capture)
            return text_in() if reading else text_out()
        return real_open(file, mode, *args, **kwargs)

    saved = (_cd_sys.stdin, _cd_sys.stdout, _cd_builtins.open)
    stdout = text_out()
    _cd_sys.stdin, _cd_sys.stdout, _cd_builtins.open = text_in(), stdout, stdin_open
    before = set(_cd_threading.enumerate())
    ns = {"__name__": "__main__", "__builtins__": _cd_builtins}
    try:
        exec(_cd_preamble, ns)
        try:  # noqa: SIM105 - the child imports nothing it does not need
            exec(_cd_code, ns)
        except SystemExit:  # exit() ends the program, as in the benchmarks' evaluators
            pass
        for t in _cd_threading.enumerate():  # solutions that run main() in a big-stack thread
            if t not in before and not t.daemon:
                t.join()
        for w in writers:
            w.flush()
    finally:
        _cd_sys.stdin, _cd_sys.stdout, _cd_builtins.open = saved
    return capture.data.decode("utf-8", "replace")
