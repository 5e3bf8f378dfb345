"""Every workload x every system, in one process: time per gradient and more.

    python benchmarks/run.py [--quick] [--only ols,mlp] [--systems s2sad,jax-jit]
                             [--threads N] [--json results.json] [--backend cupy]

Workloads (benchmarks/workloads.py, each a loss in plain NumPy as a user
writes it): ols, mlp, building, rnn, swell, newton.  Systems: hand-written
(the reference: always run), s2sad, HIPS autograd, tangent-ad, JAX eager,
JAX jit, PyTorch CPU eager; one that is not installed is skipped with a
one-line message (`pip install -e ".[bench]"` brings autograd, jax and
tangent-ad; PyTorch CPU: `pip install torch --index-url
https://download.pytorch.org/whl/cpu`).

Every system's gradient is checked against the hand-written one before it is
timed; a system that raises or disagrees gets "fails: <reason>" in its cells.
Single-threaded by default (BLAS, XLA and PyTorch).  After a warm-up, each
round times every gradient and forward in turn, in a rotating order, so that
drift and other load hit all alike (each makes an untimed call first, so as
not to pay for the caches the one before left cold, then about 5 ms of timed
calls); times are medians over rounds, ratios medians of same-round ratios.
`--quick` runs few rounds (under 2 minutes on two cores).  Progress goes to
stderr, the tables to stdout.

`--backend cupy` runs the GPU workloads (workloads.DEVICE_WORKLOADS: the
MLP at batch 4096 and hidden 4096, the RNN at batch 1024) on CuPy arrays:
the hand-written pass and s2sad's gradient are the same `np.` code as on the
CPU (NumPy hands CuPy arrays to CuPy), against PyTorch on CUDA; every timed
call ends with a device synchronisation, and peak memory is what the CuPy
pool (or PyTorch's allocator) held beyond the inputs during one call.
"""

import os
import sys


def _threads_from_argv(argv):
    """--threads must act before NumPy, JAX or PyTorch is imported."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


THREADS = _threads_from_argv(sys.argv)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS
if THREADS == "1":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
os.environ.setdefault("TANGENT_DISK_CACHE", "0")      # a build is a build, not a disk hit

import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=SyntaxWarning)   # from tangent-ad's generated code

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import peak_memory  # noqa: E402
from workloads import DEVICE_WORKLOADS, WORKLOADS, Workload, rebind  # noqa: E402


# ---------------------------------------------------------------- backends
class Backend:
    """Where the arrays live and how a call is timed and measured: NumPy on
    the host."""

    name = "numpy"
    systems = None               # the systems it runs (None: every one)
    workloads = WORKLOADS
    torch_device = "cpu"

    def load(self):              # import, or raise ImportError / RuntimeError
        pass

    def to_device(self, value):
        return value

    def to_host(self, value):
        return np.asarray(value)

    def synced(self, fn):
        """`fn`, returning only once its work is done (NumPy: at once)."""
        return fn

    def peak_memory(self, fn, args):
        """Peak bytes that tracemalloc sees allocated during one call."""
        return peak_memory(fn, args)

    memory_title = "tracemalloc; NumPy-based systems only"

    def describe(self):
        return f"NumPy {np.__version__}, {THREADS} thread(s), {os.cpu_count()} CPUs"


class CupyBackend(Backend):
    """CuPy arrays on the first GPU."""

    name = "cupy"
    systems = ("hand", "s2sad", "torch")
    workloads = DEVICE_WORKLOADS
    torch_device = "cuda"
    memory_title = "device memory beyond the inputs: the CuPy pool, or PyTorch's allocator"

    def load(self):
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy is installed but sees no GPU")
        self.cp = cupy

    def to_device(self, value):
        return self.cp.asarray(value) if isinstance(value, np.ndarray) else value

    def to_host(self, value):
        return self.cp.asnumpy(value)

    def sync(self):
        self.cp.cuda.Device().synchronize()      # the whole device: PyTorch's work too

    def synced(self, fn):
        def call(*args):
            out = fn(*args)
            self.sync()
            return out
        return call

    def peak_memory(self, fn, args):
        """The pool's growth over one call, from empty caches: CuPy's pool
        keeps every block it was given, so its total after the call is what
        the call held at its peak, plus the inputs (counted before)."""
        pool = self.cp.get_default_memory_pool()
        self.sync()
        pool.free_all_blocks()
        before = pool.total_bytes()
        fn(*args)
        self.sync()
        return pool.total_bytes() - before

    def describe(self):
        props = self.cp.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        cuda = self.cp.cuda.runtime.runtimeGetVersion()
        return (f"{name}, CUDA runtime {cuda // 1000}.{cuda % 1000 // 10}, "
                f"CuPy {self.cp.__version__}, NumPy {np.__version__}")


BACKENDS = {b.name: b for b in (Backend(), CupyBackend())}


# ---------------------------------------------------------------- systems
class System:
    """How one system makes and calls a gradient.  `prepare` converts the
    NumPy arguments (untimed); `build` makes the gradient function (timed with
    its first call); `forward` is the system's own forward pass, for the
    gradient / forward ratio; `result` turns its output into NumPy arrays."""

    name = ""
    label = ""
    backend = BACKENDS["numpy"]  # set by load_systems

    def load(self):               # import, or raise ImportError
        pass

    def prepare(self, w, args):
        return tuple(self.backend.to_device(a) for a in args)

    def build(self, w):
        raise NotImplementedError

    def forward(self, w):
        return w.loss, "numpy"    # (function, key): systems with one key share one timing

    def result(self, out):
        return tuple(self.backend.to_host(o)
                     for o in (out if isinstance(out, (tuple, list)) else (out,)))

    def peak_memory(self, fn, args):
        """Bytes held at the peak of one call, or None where it cannot be seen."""
        return self.backend.peak_memory(fn, args)

    package = None               # its distribution's name, for the version

    def version(self):
        if self.package is None:
            return ""
        from importlib.metadata import version
        return version(self.package)


class Hand(System):
    name, label = "hand", "hand-written"

    def build(self, w):
        return w.hand


class S2sad(System):
    name, label = "s2sad", "s2sad"

    def load(self):
        import s2sad
        self.s2sad = s2sad

    def build(self, w):
        return self.s2sad.grad(w.loss, wrt=w.wrt)

    def version(self):
        return self.s2sad.__version__


class S2sadNumba(S2sad):
    """`compile="auto"`: the generated code through numba.njit where Numba
    compiles it (the build time is the compile time), the plain code with the
    reason where it does not; the forward is `numba.njit` of the loss where
    Numba compiles that (so that grad / forward compares compiled with compiled)."""
    name, label = "s2sad-numba", "s2sad + numba"
    package = "numba"
    refused = {}                  # workload -> why "auto" ran the plain code

    def load(self):
        import numba
        super().load()
        from s2sad.compiled import CompileWarning
        self.numba, self.warning = numba, CompileWarning

    def build(self, w):
        df = self.s2sad.grad(w.loss, wrt=w.wrt, compile="auto")
        if w.name == "tiny":
            return df
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", self.warning)
            df(*self.prepare(w, w.problem()))              # Numba compiles at the first call
        for warning in caught:
            if issubclass(warning.category, self.warning):
                self.refused[w.name] = str(warning.message).splitlines()[0]
        return df

    def forward(self, w):
        try:
            compiled = self.numba.njit(w.loss)
            compiled(*self.prepare(w, w.problem()))
        except Exception:                            # noqa: BLE001  (Numba does not compile it)
            return w.loss, "numpy"
        return compiled, self.name

    def version(self):
        return self.numba.__version__


class Autograd(System):
    name, label = "autograd", "autograd"
    package = "autograd"

    def load(self):
        import autograd
        import autograd.numpy as anp
        self.autograd, self.anp = autograd, anp

    def build(self, w):
        return self.autograd.grad(rebind(w.loss, self.anp), w.wrt)


class Tangent(System):
    name, label = "tangent", "tangent-ad"
    package = "tangent-ad"

    def load(self):
        import tangent
        self.tangent = tangent

    def build(self, w):
        return self.tangent.grad(w.loss, wrt=w.wrt)


class JaxEager(System):
    name, label = "jax-eager", "jax eager"

    def load(self):
        import jax
        jax.config.update("jax_enable_x64", True)
        self.jax, self.jnp = jax, jax.numpy

    def prepare(self, w, args):
        return tuple(self.jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)

    def peak_memory(self, fn, args):
        return None                         # allocated outside tracemalloc's view

    def loss(self, w):
        return rebind(w.loss, self.jnp)

    def ready(self, f):
        def call(*args):
            return self.jax.block_until_ready(f(*args))
        return call

    def build(self, w):
        return self.ready(self.jax.grad(self.loss(w), argnums=w.wrt))

    def forward(self, w):
        return self.ready(self.loss(w)), self.name

    def version(self):
        return self.jax.__version__


class JaxJit(JaxEager):
    name, label = "jax-jit", "jax jit"

    def loss(self, w):
        if w.jax_loss is None:
            return rebind(w.loss, self.jnp)
        return lambda *args: w.jax_loss(self.jax, *args)

    def build(self, w):
        return self.ready(self.jax.jit(self.jax.grad(self.loss(w), argnums=w.wrt)))

    def forward(self, w):
        return self.ready(self.jax.jit(self.loss(w))), self.name


class Torch(System):
    name, label = "torch", "torch eager"

    def load(self):
        import torch
        torch.set_num_threads(int(THREADS))
        self.torch = torch

    def prepare(self, w, args):
        return tuple(self.torch.tensor(a, dtype=self.torch.float64, requires_grad=i in w.wrt,
                                       device=self.backend.torch_device)
                     if isinstance(a, np.ndarray) else a for i, a in enumerate(args))

    def build(self, w):
        torch = self.torch

        def gradient(*args):
            return torch.autograd.grad(w.torch_loss(torch, *args), [args[i] for i in w.wrt])
        return gradient

    def forward(self, w):
        torch = self.torch

        def forward(*args):
            with torch.no_grad():
                return w.torch_loss(torch, *args)
        return forward, self.name

    def result(self, out):
        return tuple(o.detach().cpu().numpy() for o in out)

    def peak_memory(self, fn, args):
        if self.backend.torch_device == "cpu":
            return None                     # allocated outside tracemalloc's view
        cuda = self.torch.cuda
        cuda.synchronize()
        before = cuda.memory_allocated()
        cuda.reset_peak_memory_stats()
        fn(*args)
        cuda.synchronize()
        return cuda.max_memory_allocated() - before

    def version(self):
        return self.torch.__version__


SYSTEMS = [Hand(), S2sad(), S2sadNumba(), Autograd(), Tangent(), JaxEager(), JaxJit(), Torch()]


def _tiny(x):
    return np.sum(np.sin(x) * x)


def load_systems(names, backend):
    """The systems asked for that import and run on `backend`, each library
    warmed up on a tiny function (so that no workload's build time pays for
    a first import)."""
    tiny = Workload("tiny", "", None, _tiny, (0,), None,
                    lambda torch, x: torch.sum(torch.sin(x) * x))
    loaded = []
    for system in SYSTEMS:
        if system.name != "hand" and system.name not in names:
            continue
        if backend.systems is not None and system.name not in backend.systems:
            print(f"skipping {system.label}: not run on {backend.name}", file=sys.stderr)
            continue
        system.backend = backend
        try:
            system.load()
            if system.name != "hand":
                args = system.prepare(tiny, (np.linspace(0.0, 1.0, 5),))
                system.build(tiny)(*args)
        except ImportError as exc:
            print(f"skipping {system.label}: not installed ({exc})", file=sys.stderr)
            continue
        except Exception as exc:                    # noqa: BLE001  (installed but broken)
            print(f"skipping {system.label}: {reason(exc)}", file=sys.stderr)
            continue
        loaded.append(system)
    return loaded


# ---------------------------------------------------------------- measuring
def reason(exc):
    """The first line of an exception's message (Tangent's come framed in banners)."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    lines = [ln for ln in lines if ln and set(ln) - set("=-") and "Tangent Error" not in ln]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return shorten(text, 240)


def shorten(text, n):
    return text if len(text) <= n else text[:n - 3] + "..."


def check(system, out, expected):
    got = system.result(out)
    if len(got) != len(expected):
        raise AssertionError(f"{len(got)} gradients, expected {len(expected)}")
    for g, e in zip(got, expected):
        if g.shape != e.shape:
            raise AssertionError(f"wrong shape {g.shape}, expected {e.shape}")
        if not np.allclose(g, e, rtol=1e-8, atol=1e-10):
            err = np.max(np.abs(g - e)) / max(np.max(np.abs(e)), 1e-300)
            raise AssertionError(f"wrong gradient (max error {err:.1e} of max |grad|)")


def warm_up(entries, calls):
    """Call each entry a few times in a row; its fastest call, in seconds."""
    fastest = {}
    for name, (fn, args) in entries.items():
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - start)
        fastest[name] = min(times)
    return fastest


def batch_size(t):
    """Calls per entry per round: about 5 ms of them, 1 to 50."""
    return int(np.clip(np.ceil(5e-3 / max(t, 1e-9)), 1, 50))


def interleaved(entries, rounds, inner):
    """Seconds per call of each entry (name -> (fn, args)) in each round: per
    round, each entry in turn (the order rotating round by round) makes one
    untimed call, unless its calls are long, so that it does not pay for the
    caches the others left cold, then `inner[name]` timed calls."""
    names = list(entries)
    times = {name: [] for name in names}
    for i in range(rounds):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            fn, args = entries[name]
            n = inner[name]
            if n > 1:
                fn(*args)
            start = time.perf_counter()
            for _ in range(n):
                fn(*args)
            times[name].append((time.perf_counter() - start) / n)
    return {name: np.array(ts) for name, ts in times.items()}


def system_named(systems, name):
    return next(s for s in systems if s.name == name)


def repeat_build(system, w, cell, gradient, args, tries=7):
    """`s2sad.grad(f)` made again on the same f (as in a training loop that
    rebuilds it) and its first call's look-up of a build: the median of a
    few tries.  (The call's own work is left out: a first call minus a
    steady one would be the difference of two noisy times.)"""
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        again = system.s2sad.grad(w.loss, wrt=w.wrt)
        built = again.__s2sad__.lookup(args, {})
        times.append(time.perf_counter() - start)
    cell["repeat_build_s"] = float(np.median(times))
    cell["repeat_cache_hit"] = built is gradient.__s2sad__.latest


def run_workload(w, systems, opts, backend=BACKENDS["numpy"]):
    log = lambda msg: print(f"[{w.name}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    data = w.problem()
    hand = next(s for s in systems if s.name == "hand")
    expected = hand.result(w.hand(*hand.prepare(w, data)))     # on the backend
    cells = {}                  # system name -> dict of results
    grads, forwards = {}, {}    # timing entries: name -> (fn, args)
    forward_of, unsynced = {}, {}
    for system in systems:
        cell = cells[system.name] = {"status": "ok"}
        if system.name in w.too_slow:
            cells[system.name] = {"status": "fails", "reason": "not run: a gradient takes many seconds "
                                  "(10,000 Python-level steps, each a dispatched operation)"}
            continue
        try:
            args = system.prepare(w, data)
            start = time.perf_counter()
            unsynced[system.name] = system.build(w)
            gradient = backend.synced(unsynced[system.name])
            out = gradient(*args)
            cell["first_call_s"] = time.perf_counter() - start
            check(system, out, expected)
            fwd, key = system.forward(w)
            fwd = backend.synced(fwd)
            fwd(*args)
        except Exception as exc:                    # noqa: BLE001  (any failure is a result)
            cells[system.name] = {"status": "fails", "reason": reason(exc)}
            log(f"{system.label} fails: {reason(exc)}")
            continue
        log(f"{system.label}: built and checked in {cell['first_call_s'] * 1e3:.1f} ms")
        grads[system.name] = (gradient, args)
        forwards.setdefault(key, (fwd, args))
        forward_of[system.name] = key
    if "hand" not in grads:             # no reference to time against
        return {name: cell if cell["status"] != "ok" else
                {"status": "fails", "reason": "not timed: the hand-written reference fails"}
                for name, cell in cells.items()}

    entries = {**{"grad:" + n: e for n, e in grads.items()},
               **{"fwd:" + k: e for k, e in forwards.items()}}
    fastest = warm_up(entries, opts.warmup)
    inner = {name: batch_size(t) for name, t in fastest.items()}
    round_s = sum(t * (inner[name] + (inner[name] > 1)) for name, t in fastest.items())
    rounds = int(np.clip(opts.budget / max(round_s, 1e-9), opts.min_rounds, opts.max_rounds))
    log(f"timing {len(entries)} functions, {rounds} rounds of {round_s * 1e3:.1f} ms")
    per_call = interleaved(entries, rounds, inner)

    for name in grads:
        t = per_call["grad:" + name]
        cell = cells[name]
        cell["time_s"] = float(np.median(t))
        cell["forward_s"] = float(np.median(per_call["fwd:" + forward_of[name]]))
        cell["forward_kind"] = forward_of[name]
        cell["ratio_to_hand"] = float(np.median(t / per_call["grad:hand"]))
        cell["ratio_to_forward"] = float(np.median(t / per_call["fwd:" + forward_of[name]]))
        cell["build_s"] = cell["first_call_s"] - cell["time_s"]
        if name == "hand":
            cell["build_s"] = None                  # nothing to build
        if name == "s2sad":
            repeat_build(system_named(systems, name), w, cell, unsynced[name], grads[name][1])
        cell["rounds"] = rounds
        cell["calls_per_round"] = inner["grad:" + name]
    for system in systems:
        if system.name in grads:
            peak = system.peak_memory(*grads[system.name])
            if peak is not None:
                cells[system.name]["peak_bytes"] = peak
    return cells


# ---------------------------------------------------------------- reporting
def fmt_time(s):
    if s is None:
        return ""
    a = abs(s)
    if a >= 1.0:
        return f"{s:.2f} s"
    if a >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_bytes(n):
    if n >= 2 ** 20:
        return f"{n / 2 ** 20:.1f} MiB"
    return f"{n / 2 ** 10:.1f} KiB"


def table(title, rows, columns):
    """A markdown table: rows (label, [cells]) under columns, right-aligned."""
    header = ["workload", *columns]
    body = [[label, *cells] for label, cells in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = [f"\n{title}\n",
             "| " + " | ".join(h.ljust(wd) for h, wd in zip(header, widths)) + " |",
             "|" + "|".join("-" * (widths[0] + 2) if i == 0 else "-" * (wd + 1) + ":"
                            for i, wd in enumerate(widths)) + "|"]
    for r in body:
        lines.append("| " + " | ".join(str(c).ljust(wd) if i == 0 else str(c).rjust(wd)
                                       for i, (c, wd) in enumerate(zip(r, widths))) + " |")
    print("\n".join(lines))


def cell_text(cell, key, fmt, why=False):
    """A table cell: the value, "n/a", or "fails" (with a short reason where `why`)."""
    if cell is None:
        return "-"
    if cell["status"] != "ok":
        return "fails: " + shorten(cell["reason"], 44) if why else "fails"
    value = cell.get(key)
    return "n/a" if value is None else fmt(value)


def fmt_build(s):
    return "~0" if s <= 0 else fmt_time(s)        # a first call no slower than the median


def report(results, systems, backend=BACKENDS["numpy"]):
    labels = [s.label for s in systems]

    def rows(key, fmt, names=None, why=False):
        return [(wname, [cell_text(cells.get(s.name), key, fmt, why) for s in systems
                         if names is None or s.name in names])
                for wname, cells in results.items()]

    table("Time per gradient (median)", rows("time_s", fmt_time, why=True), labels)
    table("Ratio to hand-written (median of same-round ratios)",
          rows("ratio_to_hand", lambda r: f"{r:.2f}x"), labels)
    table("Gradient / forward (each system's own forward; median of same-round ratios)",
          rows("ratio_to_forward", lambda r: f"{r:.2f}x"), labels)

    build_rows = rows("build_s", fmt_build)
    if any(s.name == "s2sad" for s in systems):
        for (wname, cells_), (_, row) in zip(results.items(), build_rows):
            cell = cells_.get("s2sad")
            text = cell_text(cell, "repeat_build_s", fmt_build)
            if cell and cell["status"] == "ok":
                text += " (cache hit)" if cell["repeat_cache_hit"] else " (rebuilt)"
            row.append(text)
    table("Build time (first call minus steady call; s2sad repeat: `s2sad.grad(f)` again "
          "and the look-up of its build for the arguments, median of 7 tries)", build_rows,
          labels + (["s2sad repeat"] if any(s.name == "s2sad" for s in systems) else []))
    memory = [s for s in systems
              if any("peak_bytes" in cells.get(s.name, {}) for cells in results.values())]
    table(f"Peak memory of one gradient call ({backend.memory_title})",
          rows("peak_bytes", fmt_bytes, {s.name for s in memory}), [s.label for s in memory])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="few rounds: the whole run in under 2 minutes")
    parser.add_argument("--backend", choices=list(BACKENDS), default="numpy",
                        help="numpy (default: the CPU workloads) or cupy (the GPU workloads "
                        f"{','.join(DEVICE_WORKLOADS)}: hand-written, s2sad and PyTorch CUDA)")
    parser.add_argument("--only", help="workloads, comma-separated (default: "
                        f"{','.join(WORKLOADS)}; with cupy {','.join(DEVICE_WORKLOADS)})")
    parser.add_argument("--systems", default=",".join(s.name for s in SYSTEMS[1:]),
                        help="systems, comma-separated (default: all; hand-written always runs): "
                        + ",".join(s.name for s in SYSTEMS[1:]))
    parser.add_argument("--threads", default="1", help="threads for BLAS, XLA, PyTorch (default 1)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    opts = parser.parse_args()
    backend = BACKENDS[opts.backend]
    only = [n for n in (opts.only or ",".join(backend.workloads)).split(",") if n]
    names = {n for n in opts.systems.split(",") if n}
    for what, asked, known in (("workloads", only, list(backend.workloads)),
                               ("systems", names, [s.name for s in SYSTEMS])):
        if set(asked) - set(known):
            parser.error(f"unknown {what} {sorted(set(asked) - set(known))}; choose from {known}")
    try:
        backend.load()
    except (ImportError, RuntimeError) as exc:
        sys.exit(f"--backend {backend.name} cannot run here: {reason(exc)}")
    workloads = [backend.workloads[n] for n in only]
    if opts.quick:
        opts.warmup, opts.budget, opts.min_rounds, opts.max_rounds = 2, 2.0, 3, 30
    else:
        opts.warmup, opts.budget, opts.min_rounds, opts.max_rounds = 5, 30.0, 10, 300

    start = time.perf_counter()
    systems = load_systems(names, backend)
    results = {}
    for w in workloads:
        results[w.name] = run_workload(w, systems, opts, backend)

    versions = {}
    for s in systems:
        if s.version():
            versions.setdefault(s.label.split()[0], s.version())   # jax eager, jax jit: one jax
    versions = ", ".join(f"{package} {v}" for package, v in versions.items())
    print(f"# s2sad benchmarks: {len(workloads)} workloads x {len(systems)} systems"
          f"{' (--quick)' if opts.quick else ''}, backend {backend.name}")
    print(f"\nPython {platform.python_version()}, {backend.describe()}, {versions}; float64; "
          f"{time.perf_counter() - start:.0f} s in all.")
    skipped = [s.label for s in SYSTEMS if s.name in names and s not in systems
               and (backend.systems is None or s.name in backend.systems)]
    if skipped:
        print()
        for label in skipped:
            print(f"{label}: not installed, skipped.")
    print("\nWorkloads:")
    for w in workloads:
        print(f"- `{w.name}`: {w.title}")
    report(results, systems, backend)
    print("\nNotes:")
    for note in notes(workloads, systems, backend):
        print(f"- {note}")
    failures = [(wname, s.label, cells[s.name]["reason"]) for wname, cells in results.items()
                for s in systems if cells.get(s.name, {}).get("status") == "fails"]
    if failures:
        print("\nFailures:")
        for wname, label, why in failures:
            print(f"- {label} on `{wname}`: {why}")
    if opts.json:
        meta = {"python": platform.python_version(), "numpy": np.__version__,
                "backend": backend.name, "device": backend.describe(),
                "threads": THREADS, "quick": opts.quick, "cpus": os.cpu_count(),
                "versions": {s.name: s.version() for s in systems}}
        with open(opts.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        print(f"\nwrote {opts.json}")


def notes(workloads, systems, backend):
    if backend.name == "cupy":
        yield ("hand-written and s2sad run the workloads' `np.` code on CuPy arrays (NumPy hands "
               "them to CuPy); torch runs the same model on CUDA tensors.")
        yield "every timed call ends with a device synchronisation."
    else:
        yield ("autograd, jax eager and jax jit run the user's NumPy source with `np` bound to "
               "`autograd.numpy` or `jax.numpy`; s2sad and tangent-ad read it; torch runs the "
               "same code on tensors.")
        if any(s.name == "jax-jit" for s in systems):
            for w in workloads:
                if w.jax_note:
                    yield f"`{w.name}`, {w.jax_note}."
        yield "hand-written: NumPy reverse passes; for `building` a pure-Python reverse over lists."
        yield ("forward: the NumPy loss for hand-written, s2sad, autograd and tangent-ad; "
               "`jax.numpy` eager, jitted, or torch under no_grad for the others.")
    yield ("build: `grad(f)` and the first call, minus the median call (it also holds the "
           "first call's cold caches and page faults); ~0: the first call was no slower; "
           "for s2sad + numba it holds Numba's compile.")
    if any(s.name == "s2sad-numba" for s in systems):
        yield ("s2sad + numba: `grad(f, compile=\"auto\")`; its forward is `numba.njit(loss)` "
               "where Numba compiles the loss, else the NumPy loss.")
        for w in workloads:
            why = S2sadNumba.refused.get(w.name)
            if why:
                yield f"s2sad + numba on `{w.name}` runs the plain code: {shorten(why, 300)}"
    if backend.name == "numpy":
        yield "peak memory: JAX and PyTorch allocate outside tracemalloc's view (not shown)."


if __name__ == "__main__":
    main()
