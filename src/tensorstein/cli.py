"""The ``tensorstein`` command.

    tensorstein demo                         the lesson as a program
    tensorstein embed TEXT... | --file F     sentence embeddings (JSON lines or .npy)
    tensorstein similarity TEXT TEXT         cosine similarity of two texts
    tensorstein bench [NAME...] [--quick]    run benchmarks/ and write BENCHMARKS.md

Errors (bad arguments, missing model, unreadable file) print one line to
stderr and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
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


def _read_texts(args: argparse.Namespace) -> list[str]:
    if args.file and args.texts:
        raise CLIError("give texts as arguments or --file, not both")
    if args.file:
        if args.file == "-":
            data = sys.stdin.read()
        else:
            try:
                with open(args.file, encoding="utf-8") as f:
                    data = f.read()
            except FileNotFoundError:
                raise CLIError(f"{args.file}: no such file") from None
            except IsADirectoryError:
                raise CLIError(f"{args.file}: is a directory") from None
            except PermissionError:
                raise CLIError(f"{args.file}: permission denied") from None
            except UnicodeDecodeError as exc:
                raise CLIError(f"{args.file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return [line for line in data.splitlines() if line.strip()]
    if not args.texts:
        raise CLIError("nothing to embed: give one or more TEXT arguments or --file FILE")
    return list(args.texts)


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
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir):
            raise CLIError(f"{args.output}: directory {out_dir} does not exist")
        tmp = args.output + ".tmp.npy"
        np.save(tmp, emb)
        os.replace(tmp, args.output)
        print(f"wrote {emb.shape[0]} embeddings of dimension {emb.shape[1]} to {args.output}", file=sys.stderr)
    else:
        out = sys.stdout
        for row in emb:
            out.write("[" + ",".join(f"{float(x):.9g}" for x in row) + "]\n")
        out.flush()
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
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
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    r = subprocess.run(cmd, env=env)
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
    p = _Parser(prog="tensorstein", description="A NumPy tensor engine with PyTorch's API: demo, embeddings, benchmarks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("demo", help="the lesson as a program: matmul, attention, embeddings")
    d.add_argument("--model", default=None, help="sentence-transformers model directory (default: bundled all-MiniLM-L6-v2)")
    d.set_defaults(func=cmd_demo)

    e = sub.add_parser("embed", help="embed texts; one JSON array per line on stdout, or a .npy file")
    e.add_argument("texts", nargs="*", metavar="TEXT")
    e.add_argument("--file", "-f", help="read texts from FILE, one per line ('-' for stdin)")
    e.add_argument("--model", default=None, help="model directory (default: bundled all-MiniLM-L6-v2)")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--output", "-o", help="write a (n, dim) float32 array to this .npy file")
    e.set_defaults(func=cmd_embed)

    s = sub.add_parser("similarity", help="cosine similarity of two texts")
    s.add_argument("text1", metavar="TEXT")
    s.add_argument("text2", metavar="TEXT")
    s.add_argument("--model", default=None)
    s.set_defaults(func=cmd_similarity)

    b = sub.add_parser("bench", help="run the benchmark suites and write BENCHMARKS.md")
    b.add_argument("names", nargs="*", metavar="NAME", help="suites to run (default: all); see --list")
    b.add_argument("--list", action="store_true", help="list the available suites")
    b.add_argument("--quick", action="store_true", help="fewer repeats (noisier figures)")
    b.set_defaults(func=cmd_bench)

    from tensorstein.distributed.run import add_parser as add_run_parser

    add_run_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"tensorstein {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        print(f"tensorstein {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, NotImplementedError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"tensorstein {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tensorstein embed ... | head -1`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
