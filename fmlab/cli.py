"""Command line: list demos, run one (progress on stderr, `--json` result on stdout), benchmark.

    python -m fmlab list
    python -m fmlab run optimizers --set lr=0.05 --set optimizers=sgd,adam --json
    python -m fmlab run --question optimization-optimizer-selection --json
    python -m fmlab bench [--json bench.json]
    python -m fmlab bench --seeds 5 | --classroom 30 | --live
    python -m fmlab bank --status | --samples | --schema
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from typing import Any

from . import registry
from .demo import Demo, Event, Result
from .params import ConfigError, make
from .text import _, local


def stderr_progress(demo_id: str):
    """A report callback that redraws one progress line on stderr."""

    def report(event: Event) -> None:
        if event.kind == "step" and event.step % 10:
            return
        numbers = " ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
        where = f"epoch {event.epoch}" if event.kind == "epoch" else f"step {event.step}"
        detail = event.note.en if event.note else f"{where} {numbers}"
        run = local(event.run, "en")
        print(f"\r[{demo_id}] {event.fraction:6.1%} {run} {detail}".ljust(78), end="", file=sys.stderr)

    return report


def jsonable(value: Any) -> Any:
    """Tuples to lists and non-finite floats to null, so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def summary(demo: Demo, cfg, result: Result, seconds: float) -> dict[str, Any]:
    """The `--json` object: demo, config, metrics, verdict {en, zh}, seconds, peak RSS."""
    return jsonable({
        "demo": demo.id, "config": cfg.as_dict(), "metrics": result.metrics,
        "verdict": result.verdict.as_dict(), "seconds": round(seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })


def resolve(args: argparse.Namespace) -> tuple[Demo, dict[str, Any]]:
    """The demo and settings named on the command line (a question brings its own preset)."""
    values: dict[str, Any] = {}
    if args.question:
        from . import bank

        try:
            question = bank.load().get(args.question)
        except KeyError:
            raise ConfigError(_("unknown question {id}", "未知问题 {id}").format(id=repr(args.question))) from None
        if not question.demo or question.demo not in registry.demos():
            raise ConfigError(_("question {id} links to demo {demo}, which is not built yet",
                                "问题 {id} 关联的演示 {demo} 尚未实现").format(id=repr(question.id),
                                                                      demo=repr(question.demo)))
        demo_id, values = question.demo, dict(question.preset)
    elif args.demo:
        demo_id = args.demo
    else:
        raise ConfigError(_("name a demo or pass --question ID", "请指定演示名称或使用 --question ID"))
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(_("--set expects key=value, got {item}", "--set 需要 key=value 形式，收到 {item}")
                              .format(item=repr(item)))
        values[key.strip()] = text.strip()
    return registry.get(demo_id), values


def cmd_run(args: argparse.Namespace) -> int:
    demo, values = resolve(args)
    cfg = make(demo.config, values)
    start = time.perf_counter()
    result = demo.run(cfg, stderr_progress(demo.id))
    seconds = time.perf_counter() - start
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(summary(demo, cfg, result, seconds), ensure_ascii=False))
    else:
        for name, value in result.metrics.items():
            print(f"{name:32s} {value:.4f}")
        print(f"\n{result.verdict.en}\n{result.verdict.zh}\n({seconds:.1f} s)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for demo in registry.demos().values():
        print(f"{demo.id:20s} {demo.category:16s} {demo.title.en} / {demo.title.zh}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.classroom:
        from .classroom import main

        return main(args.classroom, smoke=args.smoke, json_path=args.json)
    if args.live:
        from .classroom import main_live

        return main_live(args.demos, json_path=args.json)
    from .bench import bench, lesson_seeds

    demo_ids = args.demos or list(registry.demos())
    if args.seeds:
        return lesson_seeds(demo_ids, args.seeds)
    return bench(demo_ids, args.json, args.overhead_repeats)


def cmd_bank(args: argparse.Namespace) -> int:
    from . import bank, samples

    if args.schema:
        bank.SCHEMA_FILE.write_text(bank.schema_text(), encoding="utf-8")
        print(f"wrote {bank.SCHEMA_FILE}")
        return 0
    questions = bank.load()
    lines = samples.sample_lines(questions) if args.samples else bank.status_lines(questions)
    print("\n".join(lines))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmlab", description="fmlab demos from the command line")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list demos").set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="run one demo")
    r.add_argument("demo", nargs="?", help="demo id (see `list`)")
    r.add_argument("--question", help="run the demo linked to this question id, with its preset")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=cmd_run)
    b = sub.add_parser("bench", help="time every demo's default run and the training loop's overhead")
    b.add_argument("demos", nargs="*", help="demo ids (default: all)")
    b.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    b.add_argument("--overhead-repeats", type=int, default=5, help="repeats of the loop-overhead measurement")
    b.add_argument("--seeds", type=int, metavar="N",
                   help="instead: on how many of seeds 0..N-1 each demo's default run shows its claim")
    b.add_argument("--classroom", type=int, metavar="N",
                   help="instead: N students in a real browser against a real server (waits, errors, memory)")
    b.add_argument("--smoke", action="store_true", help="with --classroom: the demos' fast smoke settings")
    b.add_argument("--live", action="store_true",
                   help="instead: seconds from Run to the first live loss point in a real browser, per demo")
    b.set_defaults(func=cmd_bench)
    k = sub.add_parser("bank", help="question bank report")
    k.add_argument("--status", action="store_true", help="which linked demos exist and which are pending (default)")
    k.add_argument("--samples", action="store_true", help="run every code sample and report its own time (after shared imports)")
    k.add_argument("--schema", action="store_true", help="rewrite questions/schema.json from the schema in fmlab/bank.py")
    k.set_defaults(func=cmd_bank)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err.text.en}\n错误：{err.text.zh}", file=sys.stderr)
        return 2
