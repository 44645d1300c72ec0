"""Move every infd distribution to one version, with the sibling pins that go with it.

    python tools/bump_version.py 0.2.0          # rewrite versions, __version__ and infd-* pins
    python tools/bump_version.py --check        # exit 1 unless all agree (what CI asserts)

The released distributions (``packages/*`` and ``plugins/*``) move in lockstep: each one's
``[project] version``, the ``__version__`` of its module, and every ``"infd-<name>~=X"`` requirement on a
sibling (in its dependencies and its extras), in those and in ``templates/*`` (a plugin template pins
the infd-core it was written against).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"^\d+(\.\d+)+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
PROJECT_VERSION = re.compile(r'^version = "([^"]+)"$', re.M)
MODULE_VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.M)
SIBLING_PIN = re.compile(r'"(infd-[a-z0-9-]+)(~=[^";]*)?"')


def released(root: Path) -> list[Path]:
    """The folders of the distributions released together."""
    found = [*root.glob("packages/*/pyproject.toml"), *root.glob("plugins/*/pyproject.toml")]
    return sorted(p.parent for p in found)


def pinning(root: Path) -> list[Path]:
    """Every pyproject.toml whose infd-* requirements are pinned to the released version."""
    return [*(d / "pyproject.toml" for d in released(root)), *sorted(root.glob("templates/*/pyproject.toml"))]


def module_inits(folder: Path) -> list[Path]:
    return sorted(folder.glob("src/*/__init__.py"))


def _dependencies_block(text: str) -> tuple[int, int]:
    """Start and end of the ``dependencies = [...]`` list of ``[project]`` (names elsewhere are left)."""
    start = text.index("dependencies = [")
    return start, text.index("]", start)


def _requirement_blocks(text: str) -> list[tuple[int, int]]:
    """The ``dependencies`` list and the ``[project.optional-dependencies]`` table (extras may pin a
    sibling too, e.g. a plugin's optional command), last first so that rewriting keeps the offsets."""
    blocks = [_dependencies_block(text)]
    header = "[project.optional-dependencies]"
    if header in text:
        start = text.index(header)
        following = text.find("\n[", start + len(header))
        blocks.append((start, len(text) if following < 0 else following))
    return sorted(blocks, reverse=True)


def bump(root: Path, new: str) -> list[Path]:
    """Rewrite versions and sibling pins to ``new``; returns the files changed."""
    if not VERSION.match(new):
        raise SystemExit(f"bump_version: {new!r} is not a version like 0.2.0 or 1.0.0rc1")
    names = {_name(d) for d in released(root)}
    changed = []
    for path in pinning(root):
        text = path.read_text()
        if path.parent in released(root):
            text = PROJECT_VERSION.sub(f'version = "{new}"', text, count=1)
        for start, end in _requirement_blocks(text):
            block = SIBLING_PIN.sub(
                lambda m: f'"{m.group(1)}~={new}"' if m.group(1) in names else m.group(0), text[start:end]
            )
            text = text[:start] + block + text[end:]
        changed += _write(path, text)
    for folder in released(root):
        for init in module_inits(folder):
            changed += _write(init, MODULE_VERSION.sub(f'__version__ = "{new}"', init.read_text()))
    return changed


def check(root: Path) -> list[str]:
    """Every disagreement: versions that differ, ``__version__`` that lags, pins not ``~=version``."""
    versions = {_name(d): _field(PROJECT_VERSION, d / "pyproject.toml") for d in released(root)}
    problems = []
    if len(set(versions.values())) != 1:
        problems.append(f"versions differ: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}")
    version = max(set(versions.values()), key=list(versions.values()).count)
    for folder in released(root):
        for init in module_inits(folder):
            found = MODULE_VERSION.search(init.read_text())
            if found and found.group(1) != versions[_name(folder)]:
                problems.append(f"{init.relative_to(root)}: __version__ {found.group(1)}")
    for path in pinning(root):
        text = path.read_text()
        for start, end in _requirement_blocks(text):
            for match in SIBLING_PIN.finditer(text[start:end]):
                if match.group(1) in versions and match.group(2) != f"~={version}":
                    problems.append(f"{path.relative_to(root)}: {match.group(0)} (want ~={version})")
    return problems


def _name(folder: Path) -> str:
    return _field(re.compile(r'^name = "([^"]+)"$', re.M), folder / "pyproject.toml")


def _field(pattern: re.Pattern[str], path: Path) -> str:
    found = pattern.search(path.read_text())
    if found is None:
        raise SystemExit(f"bump_version: {path}: no {pattern.pattern}")
    return found.group(1)


def _write(path: Path, text: str) -> list[Path]:
    if path.read_text() == text:
        return []
    path.write_text(text)
    return [path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", nargs="?", help="the new version, e.g. 0.2.0")
    parser.add_argument("--check", action="store_true", help="only check that everything agrees")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check == bool(args.version):
        parser.error("give a version, or --check")
    if args.version:
        for path in bump(args.root, args.version):
            print(f"updated {path.relative_to(args.root)}")
    problems = check(args.root)
    for problem in problems:
        print(f"bump_version: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
