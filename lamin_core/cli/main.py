"""`lamin`: instance set-up and branches here; other commands come from modules and plugins.

Adapters add commands through the entry-point group `lamin_core.commands` (name = the command,
value = `module:function(argv: list[str]) -> int`), e.g. `lamin serve` and `lamin nextflow`; the first
line of the function's docstring is the command's line in `lamin --help` (after a "`usage`: " prefix).
Errors are printed as one line and a non-zero exit, never a traceback (`lamin --debug ...` or
`LAMIN_DEBUG=1` shows it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

PLUGIN_GROUP = "lamin_core.commands"


def _cmd_init(args: argparse.Namespace) -> int:
    from ..setup import init

    settings = init(storage=args.storage, db=args.db, name=args.name, modules=args.modules)
    print(f"→ initialized instance {settings.name!r} (storage {settings.storage_root}, {settings.dialect})")
    return 0


def _cmd_connect(args: argparse.Namespace) -> int:
    from ..setup import connect

    settings = connect(args.name)
    print(f"→ connected to instance {settings.name!r}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ..setup import info

    for key, value in info().items():
        print(f"{key}: {value}")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from ..setup import delete

    delete(args.name, force=args.force)
    print(f"→ deleted instance {args.name!r}")
    return 0


def _cmd_switch(args: argparse.Namespace) -> int:
    from ..setup.branches import switch

    branch = switch(args.branch, create=args.create)
    print(f"→ switched to branch {branch.name!r}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from ..setup.branches import merge

    n = merge(args.branch)
    print(f"→ merged {n} records from branch {args.branch!r} into main; the branch is marked merged")
    return 0


def _cmd_save(args: argparse.Namespace) -> int:
    from .transforms import save_path

    return save_path(args.path, key=args.key, description=args.description, kind=args.kind)


def _cmd_load(args: argparse.Namespace) -> int:
    from .transforms import load_source

    return load_source(args.uid, args.into)


def _cmd_gc(args: argparse.Namespace) -> int:
    from ..artifacts.gc import collect

    report = collect(dry_run=args.dry_run, older_than=args.older_than)
    for garbage in report.found:
        print(f"{garbage.path}  {garbage.size} bytes  ({garbage.reason})")
    print(f"→ {report.summary(dry_run=args.dry_run)}")
    return 0


def build_parser(with_plugins: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamin", description="lamin-core: data lineage for your pipelines")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("init", help="create an instance and connect to it")
    p.add_argument("--storage", required=True, help="a local folder or a URI such as s3://bucket/prefix")
    p.add_argument("--db", default=None, help="postgresql://user:pwd@host:port/db (default: SQLite in the storage root)")
    p.add_argument("--name", default=None, help="instance name (default: from the storage or database name)")
    p.add_argument("--modules", default=None, help="comma-separated modules, e.g. bionty")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("connect", help="make an instance the current one")
    p.add_argument("name")
    p.set_defaults(func=_cmd_connect)

    p = sub.add_parser("info", help="show the current instance")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("delete", help="delete an instance")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="really delete")
    p.set_defaults(func=_cmd_delete)

    p = sub.add_parser("switch", help="switch branch (-c creates it)")
    p.add_argument("-c", "--create", action="store_true")
    p.add_argument("branch")
    p.set_defaults(func=_cmd_switch)

    p = sub.add_parser("merge", help="merge a branch into main")
    p.add_argument("branch")
    p.set_defaults(func=_cmd_merge)

    p = sub.add_parser("save", help="save a script, notebook, plan, or a data file (with --key)")
    p.add_argument("path")
    p.add_argument("--key", default=None, help="where it goes: a relative path such as raw/data.csv (required for data files)")
    p.add_argument("--description", default=None)
    p.add_argument("--kind", default=None, choices=["plan"], help="save any file as a plan (files in a 'plans' folder are)")
    p.set_defaults(func=_cmd_save)

    p = sub.add_parser("load", help="write a transform's source back to disk")
    p.add_argument("uid", help="a transform uid or a URL ending with one")
    p.add_argument("--into", default=".", help="folder to write into")
    p.set_defaults(func=_cmd_load)

    p = sub.add_parser("gc", help="remove what interrupted saves left in storage (never data a record names)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    p.add_argument("--older-than", type=float, default=3600.0, metavar="SECONDS",
                   help="leave unrecorded data younger than this alone (default: 3600; saves in progress are always left)")
    p.set_defaults(func=_cmd_gc)
    if with_plugins:  # only for --help: listing them imports the packages that provide them
        for name, summary in _plugin_summaries():
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def _plugin_summaries() -> list[tuple[str, str]]:
    from importlib.metadata import entry_points

    out = []
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            doc = (ep.load().__doc__ or "").strip().splitlines()
        except Exception as e:  # a broken plugin must not break `lamin --help`
            doc = [f"(could not load: {type(e).__name__})"]
        first = doc[0] if doc else ""
        if first.startswith("`") and "`: " in first:  # "`lamin x [--y]`: what it does" -> what it does
            first = first.split("`: ", 1)[1]
        out.append((ep.name, first.rstrip(".") or f"provided by {ep.value.split(':')[0].split('.')[0]}"))
    return out


def _plugin(name: str) -> Callable[[list[str]], int] | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name == name:
            return ep.load()  # type: ignore[no-any-return]
    return None


def main(argv: list[str] | None = None) -> int:
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get("LAMIN_DEBUG"))
    if argv[:1] == ["--debug"]:
        debug, argv = True, argv[1:]
    wants_help = not argv or argv[0] in ("-h", "--help")
    parser = build_parser(with_plugins=wants_help)  # plugins' commands only for the help text (they load their packages)
    builtin = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]  # help: not consulted
    try:
        if argv and not argv[0].startswith("-") and argv[0] not in builtin:
            command = _plugin(argv[0])
            if command is None:
                parser.error(f"unknown command {argv[0]!r} (is the package that provides it installed?)")
            return command(argv[1:])
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 1
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # users get one clear line; --debug / LAMIN_DEBUG=1 shows the traceback
        if debug:
            raise
        from ..errors import LaminError

        text = " ".join(str(e).split()) or type(e).__name__
        if not isinstance(e, (LaminError, ValueError, FileNotFoundError, PermissionError)):
            text = f"{type(e).__name__}: {text} (lamin --debug ... shows where it happened)"  # unexpected
        print(f"error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
