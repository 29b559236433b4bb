"""The ``tensorstein`` command.

    tensorstein demo                         the lesson as a program
    tensorstein embed TEXT... | --file F     sentence embeddings (JSON lines or .npy)
    tensorstein similarity TEXT TEXT         cosine similarity of two texts
    tensorstein bench [NAME...] [--quick]    run benchmarks/ and write BENCHMARKS.md

Every failure (bad arguments, empty or non-UTF-8 input, a missing model, a refused checkpoint, an
unwritable or full --output or stdout) prints one line to stderr and exits non-zero; no tracebacks
(set TENSORSTEIN_DEBUG=1 to see one). Ctrl-C exits 130 quietly. Files are written atomically: an
interrupted or failed write leaves neither a partial file nor a temp file.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

__all__ = ["main"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def _print(*args, **kwargs) -> None:
    print(*args, **kwargs)


# ------------------------------------------------------------------- demo


def _section(title: str) -> None:
    _print()
    _print(title)
    _print("-" * len(title))


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    import tensorstein as ts
    try:
        from tensorstein.nn.functional import scaled_dot_product_attention as sdpa
    except ImportError:
        from tensorstein.nn.attention import scaled_dot_product_attention as sdpa

    ts.manual_seed(0)
    _section("1. Multiplying matrices, every way")
    A = ts.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # (2, 3)
    B = ts.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # (3, 2)
    _print("A =", A)
    _print("B =", B)
    _print("ts.matmul(A, B) =", ts.matmul(A, B))
    _print("A @ B           =", A @ B)
    _print("ts.mm(A, B)     =", ts.mm(A, B))
    _print("A.matmul(B)     =", A.matmul(B))
    _print("ts.einsum('ik,kj->ij', A, B) =", ts.einsum("ik,kj->ij", A, B))
    _print("by hand: C[i, j] = sum_k A[i, k] * B[k, j] =",
           [[sum(A[i, k].item() * B[k, j].item() for k in range(3)) for j in range(2)] for i in range(2)])
    X = ts.randn(4, 2, 3)  # a batch of 4 (2, 3) matrices
    Y = ts.randn(4, 3, 5)
    Z = ts.bmm(X, Y)  # (4, 2, 5)
    _print(f"ts.bmm: {tuple(X.shape)} x {tuple(Y.shape)} -> {tuple(Z.shape)}; "
           f"max |bmm - numpy| = {np.abs(Z.numpy() - X.numpy() @ Y.numpy()).max():.2e}")
    _print("element-wise A * A (not a matrix product!) =", A * A)
    _print("matrix-vector A @ v, v = [1, 1, 1]:", A @ ts.ones(3), " ts.mv(A, v):", ts.mv(A, ts.ones(3)))
    _print("vector-vector: ts.dot(u, u) =", ts.dot(ts.ones(3), ts.ones(3)), " ts.outer(u, w) shape:",
           tuple(ts.outer(ts.ones(2), ts.ones(3)).shape))
    x = ts.randn(5, 3, requires_grad=True)
    y = (x @ B).sum()
    y.backward()
    _print("autograd: d/dx sum(x @ B) = ones @ B^T; max error:",
           f"{(x.grad - ts.ones(5, 2) @ B.t()).abs().max().item():.1e}")

    _section("2. Attention: the formula and the fused kernel")
    Bn, H, L, D = 2, 4, 6, 8
    q, k, v = ts.randn(Bn, H, L, D), ts.randn(Bn, H, L, D), ts.randn(Bn, H, L, D)  # (B, H, L, D)
    scores = q @ k.transpose(-2, -1) / (D ** 0.5)  # (B, H, L, L)
    by_formula = ts.softmax(scores, dim=-1) @ v  # (B, H, L, D)
    fused = sdpa(q, k, v)
    _print("softmax(Q K^T / sqrt(d)) V, shape", tuple(by_formula.shape))
    _print(f"max |formula - F.scaled_dot_product_attention| = {(by_formula - fused).abs().max().item():.2e}")
    causal = ts.triu(ts.full((L, L), float("-inf")), diagonal=1)
    by_formula_c = ts.softmax(scores + causal, dim=-1) @ v
    fused_c = sdpa(q, k, v, is_causal=True)
    _print(f"causal: max |formula - fused| = {(by_formula_c - fused_c).abs().max().item():.2e}")

    _section("3. Sentence embeddings (all-MiniLM-L6-v2) and cosine similarity")
    from tensorstein.models import SentenceTransformer

    try:
        model = SentenceTransformer(args.model)
    except FileNotFoundError as exc:
        _print(f"skipped: {exc}")
        return 1
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "A cheetah is running behind its prey.",
        "Matrix multiplication is fundamental to deep learning.",
    ]
    emb = model.encode(sentences)
    _print(f"{len(sentences)} sentences -> embeddings of shape {emb.shape}")
    sim = emb @ emb.T
    width = 8
    _print(" " * 4 + "".join(f"{j:>{width}}" for j in range(len(sentences))))
    for i, row in enumerate(sim):
        _print(f"{i:>3} " + "".join(f"{x:{width}.3f}" for x in row) + f"   {sentences[i]}")
    return 0


# ------------------------------------------------------------------ embed


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CLIError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_texts(args: argparse.Namespace) -> list[str]:
    if args.file and args.texts:
        raise CLIError("give texts as arguments or --file, not both")
    if args.file:
        if args.file == "-":
            if sys.stdin is None:
                raise CLIError("stdin: no input (stdin is closed)")
            where, data = "stdin", _decode(sys.stdin.buffer.read(), "stdin")
        else:
            where = args.file
            try:
                with open(args.file, "rb") as f:
                    data = _decode(f.read(), args.file)
            except FileNotFoundError:
                raise CLIError(f"{args.file}: no such file") from None
            except IsADirectoryError:
                raise CLIError(f"{args.file}: is a directory") from None
            except PermissionError:
                raise CLIError(f"{args.file}: permission denied") from None
            except OSError as exc:
                raise CLIError(f"{args.file}: cannot read ({exc.strerror or exc})") from None
        texts = [line for line in data.splitlines() if line.strip()]
        if not texts:
            raise CLIError(f"nothing to embed: {where} is empty or holds only whitespace")
        return texts
    if not args.texts:
        raise CLIError("nothing to embed: give one or more TEXT arguments or --file FILE")
    for k, text in enumerate(args.texts, 1):
        _check_arg(text, f"TEXT argument {k}")
    if not any(t.strip() for t in args.texts):
        raise CLIError("nothing to embed: the TEXT arguments are empty or whitespace only")
    return list(args.texts)


def _check_arg(text: str, what: str) -> None:
    try:
        text.encode("utf-8")  # undecodable argv bytes arrive as lone surrogates
    except UnicodeEncodeError as exc:
        raise CLIError(f"{what} is not valid UTF-8 (byte 0x{ord(text[exc.start]) & 0xFF:02x} at {exc.start})") \
            from None


def _load_model(path):
    from tensorstein.models import SentenceTransformer

    return SentenceTransformer(path)


def cmd_embed(args: argparse.Namespace) -> int:
    import numpy as np

    texts = _read_texts(args)
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.output and not args.output.endswith(".npy"):
        raise CLIError(f"--output must name a .npy file, got {args.output!r}")
    model = _load_model(args.model)
    show = sys.stderr.isatty() and len(texts) > args.batch_size
    from tensorstein.distributed._embed import encode_over_ranks

    emb = encode_over_ranks(model, texts, args.batch_size, show_progress=show)  # shared out under `run`
    if emb is None:  # another rank: rank 0 writes the output
        return 0
    if args.output:
        from tensorstein.io._atomic import atomic_write

        atomic_write(args.output, lambda f: np.save(f, emb))
        print(f"wrote {emb.shape[0]} embeddings of dimension {emb.shape[1]} to {args.output}", file=sys.stderr)
    else:
        out = sys.stdout
        for row in emb:
            out.write("[" + ",".join(f"{float(x):.9g}" for x in row) + "]\n")
        out.flush()
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    for k, text in enumerate((args.text1, args.text2), 1):
        _check_arg(text, f"TEXT argument {k}")
    model = _load_model(args.model)
    emb = model.encode([args.text1, args.text2], normalize_embeddings=True)
    print(f"{float(emb[0] @ emb[1]):.6f}")
    return 0


# ------------------------------------------------------------------ bench


def _bench_dir() -> Path:
    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "benchmarks", Path.cwd() / "benchmarks"):
        if cand.is_dir():
            return cand
    raise CLIError("benchmarks/ directory not found (run from a source checkout of tensorstein)")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the chosen suites through benchmarks/run_all.py, which writes BENCHMARKS.md."""
    d = _bench_dir()
    suites = sorted(p.stem[len("bench_"):] for p in d.glob("bench_*.py"))
    if args.list:
        print("\n".join(suites))
        return 0
    for name in args.names:
        if name not in suites:
            raise CLIError(f"unknown benchmark {name!r} (available: {', '.join(suites) or 'none'})")
    cmd = [sys.executable, str(d / "run_all.py"), "--only", ",".join(args.names or suites)]
    if args.quick:
        cmd.append("--quick")
    if args.output:
        cmd += ["--output", os.path.abspath(args.output)]
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    import subprocess

    # Its own session: a terminal Ctrl-C reaches only us; on KeyboardInterrupt ``run`` kills the child,
    # so the child never prints a traceback of its own.
    r = subprocess.run(cmd, env=env, start_new_session=True, check=False)
    if r.returncode:
        print(f"tensorstein bench: a benchmark exited with status {r.returncode}", file=sys.stderr)
    return 1 if r.returncode else 0


# ------------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with one line, like argparse, plus the usage
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tensorstein",
                description="A NumPy tensor engine with PyTorch's API: demo, embeddings, benchmarks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("demo", help="the lesson as a program: matmul, attention, embeddings")
    d.add_argument("--model", default=None,
                   help="sentence-transformers model directory (default: bundled all-MiniLM-L6-v2)")

    e = sub.add_parser("embed", help="embed texts; one JSON array per line on stdout, or a .npy file")
    e.add_argument("texts", nargs="*", metavar="TEXT")
    e.add_argument("--file", "-f", help="read texts from FILE, one per line ('-' for stdin)")
    e.add_argument("--model", default=None, help="model directory (default: bundled all-MiniLM-L6-v2)")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--output", "-o", help="write a (n, dim) float32 array to this .npy file")

    s = sub.add_parser("similarity", help="cosine similarity of two texts")
    s.add_argument("text1", metavar="TEXT")
    s.add_argument("text2", metavar="TEXT")
    s.add_argument("--model", default=None)

    b = sub.add_parser("bench", help="run the benchmark suites and write BENCHMARKS.md")
    b.add_argument("names", nargs="*", metavar="NAME", help="suites to run (default: all); see --list")
    b.add_argument("--list", action="store_true", help="list the available suites")
    b.add_argument("--quick", action="store_true", help="fewer repeats (noisier figures)")
    b.add_argument("--output", "-o", help="write the report here instead of BENCHMARKS.md")

    from tensorstein.distributed.run import add_parser as add_run_parser

    add_run_parser(sub)
    return p


COMMANDS = {  # subcommand -> handler (its arguments are declared in build_parser)
    "demo": cmd_demo,
    "embed": cmd_embed,
    "similarity": cmd_similarity,
    "bench": cmd_bench,
    "run": lambda args: args.func(args),  # tensorstein.distributed.run.launch
}


def _one_line(exc: BaseException) -> str:
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(msg).split()) or type(exc).__name__


def _silence_stdout() -> None:
    """After a failed write to stdout, point fd 1 at /dev/null so the exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


class _StdoutError(CLIError):
    """Writing to stdout failed (a full device, a closed descriptor)."""


class _GuardedStdout:
    """Wraps stdout so that a failed write is reported as such, not as the command's own error."""

    def __init__(self, stream):
        self._stream = stream

    def _guard(self, op, *args):
        try:
            return op(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError(f"cannot write to stdout: {exc.strerror or exc}") from None

    def write(self, text):
        return self._guard(self._stream.write, text)

    def flush(self):
        return self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    real_stdout = sys.stdout
    sys.stdout = _GuardedStdout(real_stdout)
    try:
        code = int(COMMANDS[args.command](args) or 0)
        sys.stdout.flush()  # surface a full or closed stdout here, not at interpreter exit
        return code
    except CLIError as exc:
        if isinstance(exc, _StdoutError):
            _silence_stdout()
        print(f"tensorstein {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `tensorstein embed ... | head -1`
        _silence_stdout()
        return 0
    except (OSError, ValueError, RuntimeError, KeyError, NotImplementedError, TypeError, MemoryError) as exc:
        if os.environ.get("TENSORSTEIN_DEBUG"):
            raise
        print(f"tensorstein {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        sys.stdout = real_stdout


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (130 after Ctrl-C)."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
        return 130


if __name__ == "__main__":
    sys.exit(main())
