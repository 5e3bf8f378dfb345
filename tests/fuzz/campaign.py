"""Run many generated programs through the oracles, in parallel, and report.

    python -m tests.fuzz --count 50000 --seed 1 --jobs 2
    python -m tests.fuzz --seed 1 --only 1234          # one program, shown

Progress goes to stderr; the report (outcomes, how often each grammar rule
was used, refusals by construct, every failure shrunk and printed as a
regression test) to stdout, and with `--out DIR` to DIR/report.md and
DIR/regressions.py.
"""

import argparse
import collections
import json
import multiprocessing
import os
import signal
import sys
import time

import s2sad.forward  # noqa: F401  (imported lazily by jvp: here, so that every worker
#                        runs the code the campaign started with, not a later edit)

from .generate import generate
from .oracles import check

PROGRAM_SEED_STRIDE = 1_000_003


def program_seed(seed, index):
    return seed * PROGRAM_SEED_STRIDE + index


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def run_one(job):
    """One program: (index, status, oracle, construct or detail, features)."""
    seed, index, timeout = job
    pseed = program_seed(seed, index)
    program = generate(pseed)
    if timeout:
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(timeout)
    try:
        outcome = check(program, pseed)
    except _Timeout:
        return index, "crash", "timeout", f"over {timeout} s", dict(program.features)
    except Exception as exc:            # the harness itself: report, keep going
        return index, "crash", f"harness {type(exc).__name__}", str(exc)[:300], \
            dict(program.features)
    finally:
        if timeout:
            signal.alarm(0)
    text = outcome.construct if outcome.status == "refused" else \
        "\n".join(outcome.rewrites_refused) if outcome.status == "ok" else outcome.detail[:2000]
    return index, outcome.status, outcome.oracle, text, dict(program.features)


def shrink_one(job):
    """A failing program, shrunk and printed as a regression test ('' if it passes now)."""
    from .shrink import shrink_and_print
    seed, index = job
    pseed = program_seed(seed, index)
    program = generate(pseed)
    try:
        outcome = check(program, pseed)
        return shrink_and_print(program, pseed, outcome) if outcome.failed else ""
    except Exception as exc:
        return f"# program {index}: shrinking failed: {type(exc).__name__}: {exc}"


def campaign(count, seed, jobs=2, timeout=120, start=0, progress=True):
    """Outcome counts, feature counts, refusal counts and failures of `count` programs."""
    statuses = collections.Counter()
    features = collections.Counter()
    refusals = collections.Counter()
    invalid = collections.Counter()
    rewrite_refusals = collections.Counter()
    failures = []
    started = time.time()
    work = [(seed, i, timeout) for i in range(start, start + count)]
    pool = multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=200) if jobs > 1 else None
    results = pool.imap_unordered(run_one, work, chunksize=4) if pool else map(run_one, work)
    try:
        for done, (index, status, oracle, text, used) in enumerate(results, 1):
            statuses[status] += 1
            features.update(used)
            if status == "refused":
                refusals[text] += 1
            elif status == "invalid":
                invalid[oracle.split(":")[0]] += 1
            elif status == "ok" and text:
                rewrite_refusals.update(text.splitlines())
            elif status in ("wrong", "crash"):
                failures.append((index, status, oracle, text))
                if progress:                 # as found, to look at while the rest runs
                    print(f"\nprogram {index}: {status} / {oracle}: {text.splitlines()[0][:200]}",
                          file=sys.stderr, flush=True)
            if progress and (done % 50 == 0 or done == count):
                rate = done / (time.time() - started)
                print(f"\r{done}/{count} programs, {rate:.1f}/s: " +
                      ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
                      end="", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.terminate()
    if progress:
        print(file=sys.stderr)
    return {"statuses": statuses, "features": features, "refusals": refusals,
            "invalid": invalid, "rewrite_refusals": rewrite_refusals, "failures": sorted(failures),
            "seconds": time.time() - started,
            "count": count, "seed": seed, "start": start}


def report(result, shrunk=()):
    lines = [f"# Fuzz campaign: {result['count']} programs from seed {result['seed']} "
             f"(indices {result['start']}..{result['start'] + result['count'] - 1}), "
             f"{result['seconds']:.0f} s", ""]
    lines.append("## Outcomes")
    for k, v in sorted(result["statuses"].items()):
        lines.append(f"- {k}: {v}")
    lines += ["", "## Failures"]
    for index, status, oracle, text in result["failures"]:
        lines.append(f"- program {index}: {status} / {oracle}: {text.splitlines()[0] if text else ''}")
    if not result["failures"]:
        lines.append("none")
    lines += ["", "## Refusals by construct"]
    for text, v in result["refusals"].most_common():
        lines.append(f"- {v}: {text}")
    lines += ["", "## Refused after the first gradient worked: a rewritten program, or a second call "
                  "after a global became an array (counted, not failures)"]
    for text, v in result["rewrite_refusals"].most_common():
        lines.append(f"- {v}: {text}")
    lines += ["", "## Invalid programs (the program itself fails, or stays at a kink)"]
    for text, v in result["invalid"].most_common():
        lines.append(f"- {v}: {text}")
    lines += ["", "## Grammar rules used (programs x uses)"]
    for name, v in sorted(result["features"].items(), key=lambda kv: -kv[1]):
        lines.append(f"- {name}: {v}")
    for text in shrunk:
        lines += ["", "## Shrunk failure", "", "```python", text, "```"]
    return "\n".join(lines)


def shrink_only(seed, indices, jobs, out=None):
    """Shrink the given failing programs of a campaign, in parallel; print them."""
    from .shrink import REGRESSION_HEADER
    work = [(seed, i) for i in indices]
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=2) as pool:
            texts = pool.map(shrink_one, work, chunksize=1)
    else:
        texts = list(map(shrink_one, work))
    text = REGRESSION_HEADER + "\n\n" + "\n\n\n".join(t for t in texts if t) + "\n"
    if out:
        with open(out, "w") as fh:
            fh.write(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="the first program's index")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per program")
    parser.add_argument("--only", type=int, help="check one program and show it")
    parser.add_argument("--shrink-indices", help="comma-separated program indices: shrink these")
    parser.add_argument("--shrink", type=int, default=5, help="failures to shrink and print")
    parser.add_argument("--out", help="a folder for report.md, regressions.py and result.json")
    args = parser.parse_args(argv)
    if args.shrink_indices:
        indices = [int(i) for i in args.shrink_indices.split(",")]
        print(shrink_only(args.seed, indices, args.jobs,
                          os.path.join(args.out, "regressions.py") if args.out else None))
        return 0
    if args.only is not None:
        from .shrink import shrink_and_print
        pseed = program_seed(args.seed, args.only)
        program = generate(pseed)
        print(program.source)
        print("params:", [(p.name, p.spec) for p in program.params], "wrt:", program.wrt,
              "dtype:", program.dtype)
        outcome = check(program, pseed)
        print(outcome.status, outcome.oracle, outcome.construct or outcome.detail)
        if outcome.failed:
            print(shrink_and_print(program, pseed, outcome))
        return 0
    result = campaign(args.count, args.seed, args.jobs, args.timeout, args.start)
    shrunk = []
    if result["failures"] and args.shrink:
        print(f"shrinking {min(args.shrink, len(result['failures']))} failures", file=sys.stderr)
        work = [(args.seed, index) for index, *_ in result["failures"][:args.shrink]]
        if args.jobs > 1:
            with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=4) as pool:
                shrunk = [t for t in pool.map(shrink_one, work, chunksize=1) if t]
        else:
            shrunk = [t for t in map(shrink_one, work) if t]
    text = report(result, shrunk)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "report.md"), "w") as fh:
            fh.write(text + "\n")
        from .shrink import REGRESSION_HEADER
        with open(os.path.join(args.out, "regressions.py"), "w") as fh:
            fh.write(REGRESSION_HEADER + "\n\n" + "\n\n\n".join(shrunk) + "\n")
        with open(os.path.join(args.out, "result.json"), "w") as fh:
            json.dump({k: (dict(v) if isinstance(v, collections.Counter) else v)
                       for k, v in result.items()}, fh, indent=1)
    return 1 if result["failures"] else 0
