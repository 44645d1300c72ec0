"""nox sessions, generated from the distributions found under packages/, plugins/ and templates/.

* ``tests-<distribution>``: a fresh venv with that distribution, its infd dependencies and its test
  extra only; checks that ``infd plugins --json`` lists its entry points; runs its tests (on two
  pytest-xdist workers, one test file each, where the test extra lists pytest-xdist).
* ``integration``: every library and plugin installed (templates are installed and removed by the
  tests themselves); runs ``integration_tests/`` on two pytest-xdist workers, then the tests marked
  ``installs`` (they pip-install into the venv) alone.
* ``lint``: ruff check and ruff format --check.
* ``bench``: runs every script in ``benchmarks/`` (not part of the default run).
* ``tests-robustness``: the test sessions and ``integration`` again with one and two OpenMP threads, with
  AVX2 kernels instead of the CPU's widest, and with the other torch pin (not part of the default run).

torch is installed once into a shared folder (``.nox/_torch``) that every session's venv sees through a
``.pth`` file, so no session downloads or unpacks it again. Each local distribution is built into a wheel
once per nox run (in ``.nox/_build``, a venv with the build backend) and every session installs those
wheel files, non-editable, in one pip call: the same wheels ``pip install <folder>`` would build, without
building each distribution again in every session, and without byte-compiling every installed module.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent.resolve()
# Two shared torch layers: the CPU build of torch on local disk for most sessions, and the torch +
# torchvision pair that works together (needed by open_clip and clean-fid) for distributions that
# need torchvision (NEEDS_TORCHVISION), directly, in their test extra or through an infd dependency.
TORCH_PIN = ("torch==2.13.0",)
VISION_TORCH_PIN = ("torch==2.14.1", "torchvision==0.29.1")
# Requirements that bring torchvision (themselves or through their own dependencies).
NEEDS_TORCHVISION = {"torchvision", "open-clip-torch", "clean-fid"}
#: Set (to anything) to give every session the torch + torchvision layer, i.e. the other torch pin for
#: the sessions that use TORCH_PIN (tests-robustness does; torchvision 0.29.1 needs torch 2.14.1).
VISION_TORCH_EVERYWHERE = "INFD_NOX_VISION_TORCH"
TEST_TOOLS = ["pytest>=7"]
#: pytest-xdist workers for integration (its tests mostly wait on ``infd`` subprocesses that use one
#: thread each) and for the distributions whose test extra lists pytest-xdist (tests that set one torch
#: thread, or wait on subprocesses): two keep a 2-core machine busy
PARALLEL_TOOLS = ["pytest-xdist>=3.5"]
WORKERS = 2
BUILD_TOOLS = ["hatchling>=1.27", "hatch-fancy-pypi-readme>=24.1"]

nox.options.error_on_missing_interpreters = True


@dataclasses.dataclass(frozen=True)
class Dist:
    name: str
    path: Path
    infd_deps: tuple[str, ...]
    needs_torchvision: bool
    entry_points: tuple[str, ...]
    extras: tuple[str, ...]
    template: bool = False
    test_infd_deps: tuple[str, ...] = ()
    #: its test extra lists pytest-xdist: its tests run on WORKERS workers, one test file each
    parallel_tests: bool = False


def _requirement_name(requirement: str) -> str:
    for stop in "<>=!~;[ (":
        requirement = requirement.split(stop, 1)[0]
    return re.sub(r"[-_.]+", "-", requirement.strip().lower())


def find_distributions() -> dict[str, Dist]:
    """Every distribution under packages/, plugins/ and templates/, read from its pyproject.toml."""
    found = {}
    for pyproject in sorted(
        [
            *ROOT.glob("packages/*/pyproject.toml"),
            *ROOT.glob("plugins/*/pyproject.toml"),
            *ROOT.glob("templates/*/pyproject.toml"),
        ]
    ):
        project = tomllib.loads(pyproject.read_text())["project"]
        deps = tuple(_requirement_name(r) for r in project.get("dependencies", []))
        test_deps = {_requirement_name(r) for r in project.get("optional-dependencies", {}).get("test", [])}
        found[project["name"]] = Dist(
            name=project["name"],
            path=pyproject.parent,
            infd_deps=tuple(d for d in deps if d.startswith("infd-")),
            test_infd_deps=tuple(sorted(d for d in test_deps if d.startswith("infd-"))),
            needs_torchvision=bool(NEEDS_TORCHVISION & {*deps, *test_deps}),
            entry_points=tuple(project.get("entry-points", {}).get("infd", {})),
            extras=tuple(project.get("optional-dependencies", {})),
            template=pyproject.parent.parent.name == "templates",
            parallel_tests="pytest-xdist" in test_deps,
        )
    return found


DISTRIBUTIONS = find_distributions()


def infd_closure(name: str) -> list[Dist]:
    """The distribution and every infd distribution it needs, dependencies first."""
    ordered: list[Dist] = []

    def visit(dist_name: str) -> None:
        if dist_name not in DISTRIBUTIONS:
            raise ValueError(f"{name} depends on {dist_name}, which is not in this repository")
        dist = DISTRIBUTIONS[dist_name]
        for dep in dist.infd_deps:
            visit(dep)
        if dist not in ordered:
            ordered.append(dist)

    visit(name)
    return ordered


def needs_vision_torch(dists: list[Dist]) -> bool:
    """Whether any of these distributions lists torchvision (so only VISION_TORCH_PIN works for them)."""
    return any(d.needs_torchvision for d in dists)


def torch_pins(dists: list[Dist]) -> tuple[str, ...]:
    """The torch layer these distributions need: with torchvision if any of them lists it (or if
    ``INFD_NOX_VISION_TORCH`` is set)."""
    vision = needs_vision_torch(dists) or bool(os.environ.get(VISION_TORCH_EVERYWHERE))
    return VISION_TORCH_PIN if vision else TORCH_PIN


def site_packages(session: nox.Session) -> Path:
    """The session venv's purelib folder."""
    purelib = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    )
    return Path(str(purelib).strip())


def install_torch(session: nox.Session, pins: tuple[str, ...]) -> None:
    """Make a shared torch install visible in this session's venv (installing it on first use)."""
    layer = ROOT / ".nox" / "_torch" / "_".join(p.replace("==", "-") for p in pins)
    marker = layer / ".complete"
    if not marker.exists():
        shutil.rmtree(layer, ignore_errors=True)
        session.run("python", "-m", "pip", "install", "--quiet", "--target", str(layer), *pins)
        marker.write_text(" ".join(pins))
    (site_packages(session) / "_infd_shared_torch.pth").write_text(f"{layer}\n")


BUILD_ENV = ROOT / ".nox" / "_build"
#: wheel file of each local distribution built in this nox run (filled on first use)
_WHEELS: dict[str, Path] = {}


def build_python(session: nox.Session) -> Path:
    """The python of ``.nox/_build``, a venv with BUILD_TOOLS (made on first use, remade if they change)."""
    python = BUILD_ENV / "bin" / "python"
    marker = BUILD_ENV / ".complete"
    if not (marker.exists() and marker.read_text() == " ".join(BUILD_TOOLS)):
        shutil.rmtree(BUILD_ENV, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(BUILD_ENV), external=True)
        session.run(str(python), "-m", "pip", "install", "--quiet", *BUILD_TOOLS, external=True)
        marker.write_text(" ".join(BUILD_TOOLS))
    return python


def wheels(session: nox.Session, dists: list[Dist]) -> dict[str, Path]:
    """The wheel of each distribution, building (in one pip call) those not yet built in this nox run."""
    missing = [d for d in dists if d.name not in _WHEELS]
    if missing:
        (ROOT / ".nox").mkdir(exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="_wheels-", dir=ROOT / ".nox"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        session.run(
            str(build_python(session)), "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
            "--wheel-dir", str(folder), *(str(d.path) for d in missing), external=True,
        )  # fmt: skip
        for dist in missing:
            found = list(folder.glob(f"{dist.name.replace('-', '_')}-*.whl"))
            if len(found) != 1:
                session.error(f"building {dist.name} gave {len(found)} wheels in {folder}")
            _WHEELS[dist.name] = found[0]
    return {d.name: _WHEELS[d.name] for d in dists}


def install(
    session: nox.Session, dists: list[Dist], extras: dict[str, str], tools: tuple[str, ...] = ()
) -> None:
    """Install the wheels of local distributions (``extras``: distribution name → extras to add, e.g.
    ``"test"``), pytest and ``tools``, in one pip call."""
    install_torch(session, torch_pins(dists))
    built = wheels(session, dists)
    # a reused venv (nox -r) holds the previous run's builds of the same version, which pip would keep
    purelib = site_packages(session)
    installed = [d.name for d in dists if any(purelib.glob(f"{d.name.replace('-', '_')}-*.dist-info"))]
    if installed:
        session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", *installed, silent=True)
    targets = [
        f"{built[d.name]}[{extras[d.name]}]" if d.name in extras else str(built[d.name]) for d in dists
    ]
    # --no-compile: Python byte-compiles what a test imports when it first imports it, instead of pip
    # compiling every installed module (scipy, sklearn, matplotlib...) in every session
    session.install("--quiet", "--no-compile", "--disable-pip-version-check", *tools, *TEST_TOOLS, *targets)


def check_plugins_listed(session: nox.Session, dist: Dist) -> None:
    """``infd plugins --json`` must list the distribution's entry points, with no failures."""
    out = session.run("infd", "plugins", "--json", silent=True)
    report = json.loads(str(out))
    names = {p["name"] for p in report["plugins"]}
    missing = [ep for ep in dist.entry_points if ep not in names]
    if missing or report["failures"] or "infd_core" not in names:
        session.error(f"infd plugins --json: missing {missing}, failures {report['failures']}")


def _make_tests_session(dist: Dist) -> None:
    @nox.session(name=f"tests-{dist.name}")
    def tests(session: nox.Session) -> None:
        # infd distributions the test extra names are installed from this repository too
        dists = infd_closure(dist.name)
        for extra in dist.test_infd_deps:
            dists += [d for d in infd_closure(extra) if d not in dists]
        install(session, dists, extras={dist.name: "test"} if "test" in dist.extras else {})
        check_plugins_listed(session, dist)
        parallel = ["-n", str(WORKERS), "--dist", "loadfile"] if dist.parallel_tests else []
        session.run("pytest", str(dist.path / "tests"), "-q", *parallel, *session.posargs)


for _dist in DISTRIBUTIONS.values():
    _make_tests_session(_dist)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: CLI end to end, third-party plugin install, multi-process runs."""
    # infd-core's http extra: the hostile-input tests read checkpoints from local HTTP servers; the build
    # tools: the tests pip-install plugin folders without build isolation
    dists = [d for d in DISTRIBUTIONS.values() if not d.template]
    install(session, dists, extras={"infd-core": "http"}, tools=(*BUILD_TOOLS, *PARALLEL_TOOLS))
    tests = str(ROOT / "integration_tests")
    if session.posargs:  # a chosen subset, in one process
        session.run("pytest", tests, "-q", *session.posargs)
        return
    # in parallel (tests marked xdist_group share a module fixture, so they stay on one worker), except
    # those that pip-install into this venv, which run afterwards on their own: no other test sees them
    workers = ["-n", str(WORKERS), "--dist", "loadgroup"]
    session.run("pytest", tests, "-q", *workers, "-m", "not installs")
    session.run("pytest", tests, "-q", "-m", "installs")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("--quiet", "ruff==0.17.6")
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run every benchmark script (prints ratio tables, writes JSON); not part of CI."""
    install(session, [d for d in DISTRIBUTIONS.values() if not d.template], extras={})
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    if not scripts:
        session.log("no benchmark scripts yet")
    for script in scripts:
        session.run("python", str(script), *session.posargs)


#: The conditions tests-robustness runs the suite under, one nested run each: what differs between
#: users' machines and changes the rounding of batched float operations (threads, vector width and BLAS
#: kernels, torch build).
ROBUSTNESS = {
    "threads-1": {"OMP_NUM_THREADS": "1"},
    "threads-2": {"OMP_NUM_THREADS": "2"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "other-torch": {VISION_TORCH_EVERYWHERE: "1"},
}


def robustness_sessions(variant: str) -> list[str]:
    """The sessions a variant runs: every test session and integration; for ``other-torch`` the test
    sessions on TORCH_PIN (the torchvision ones have no other pin: 0.29.1 needs torch 2.14.1)."""
    if variant == "other-torch":
        return [
            f"tests-{d.name}" for d in DISTRIBUTIONS.values() if not needs_vision_torch(infd_closure(d.name))
        ]
    return [*(f"tests-{d.name}" for d in DISTRIBUTIONS.values()), "integration"]


@nox.session(name="tests-robustness", venv_backend="none", default=False)
def tests_robustness(session: nox.Session) -> None:
    """The test sessions again under each ROBUSTNESS variant (posargs: a subset), each a nested
    ``nox -r`` that reuses the sessions' venvs and the shared torch layers; not part of CI."""
    variants = session.posargs or list(ROBUSTNESS)
    unknown = [v for v in variants if v not in ROBUSTNESS]
    if unknown:
        session.error(f"unknown variants {unknown}; choose from {', '.join(ROBUSTNESS)}")
    failed = []
    for variant in variants:
        env = ROBUSTNESS[variant]
        names = robustness_sessions(variant)
        session.log(f"{variant} ({' '.join(f'{k}={v}' for k, v in env.items())}): {len(names)} sessions")
        command = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-r", "-s", *names]
        if subprocess.run(command, env={**os.environ, **env}, check=False).returncode:
            failed.append(variant)
    if failed:
        session.error(f"the suite failed under: {', '.join(failed)}")
