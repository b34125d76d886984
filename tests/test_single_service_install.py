"""One service installed alone, the way ops install it: the kernel's distribution and
the service's, built from this checkout and installed (not editable) in a fresh
virtual environment, nothing else. There it migrates (``crm migrate``, no gateway
installed), starts as ``crm up`` starts it, answers a signed ``ping``, stops, and
passes its own tests, shipped in its distribution and run from there
(``pytest --pyargs services.<name>.tests``, the test kit's plugin loaded by its
entry point, the checkout nowhere on ``sys.path``).

The wheels are built from a copy of each part: pip builds in the source tree, and
a ``build/`` left there from an earlier build would end up in the wheel.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
# distribution: (its project directory, its package's directory, where the package goes
# in site-packages, what of the package is not shipped)
PARTS = {
    "crm-kernel": ("shared", "shared", "shared", {"tests"}),
    "crm-gateway": ("gateway", "gateway", "gateway", {"tests"}),
    "crm-testkit": ("testing", "testing/crm_testkit", "crm_testkit", set()),
    "crm-leads": ("services/leads", "services/leads", "services/leads", set()),
    "crm-sales": ("services/sales", "services/sales", "services/sales", set()),
}
SITE_PACKAGES = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
SHIPPED_SUFFIXES = {".py", ".mako", ".ini"}
NOT_SOURCE = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")

PING = """
import sys, time
from nameko.standalone.rpc import ClusterRpcProxy
from crm_testkit.helpers import signed_context
from shared.caller import Caller, Role
from shared.config import load_settings

service, caller = sys.argv[1], Caller(user_id=None, role=Role.OPS, name="packaging", request_id="packaging")
deadline = time.monotonic() + 60
while True:  # until the service consumes its queue
    try:
        with ClusterRpcProxy({"AMQP_URI": load_settings().amqp_uri, "serializer": "json"}, timeout=10,
                             context_data=signed_context(caller)) as proxy:
            print(getattr(proxy, service).ping(caller.to_context()))
            break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """Every part's wheel, by distribution name."""
    work = tmp_path_factory.mktemp("wheels")
    sources = []
    for name, (project, _, _, _) in PARTS.items():
        shutil.copytree(ROOT / project, work / "src" / name, ignore=NOT_SOURCE)
        sources.append(str(work / "src" / name))
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(work / "wheelhouse"), *sources],
        timeout=600)
    built = {re.sub(r"-.*", "", path.name).replace("_", "-"): path for path in (work / "wheelhouse").glob("*.whl")}
    assert set(built) == set(PARTS), built
    return built


@pytest.mark.parametrize("distribution", PARTS)
def test_each_distribution_ships_its_whole_package(wheels, distribution):
    """Every module, subpackage and migration of the tree is in the wheel, nothing else:
    a new module ships by itself, a new subpackage fails here until it is listed."""
    _, package, installed_as, not_shipped = PARTS[distribution]
    source = ROOT / package
    expected = {path.relative_to(source).as_posix() for path in source.rglob("*")
                if path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts
                and not {"build", "dist"} & set(path.relative_to(source).parts)
                and path.relative_to(source).parts[0] not in not_shipped}
    with zipfile.ZipFile(wheels[distribution]) as wheel:
        shipped = {name.removeprefix(installed_as + "/") for name in wheel.namelist()
                   if name.startswith(installed_as + "/")}
    assert shipped == expected


@pytest.mark.timeout(900)
@pytest.mark.parametrize("service", ["leads", "sales"])
def test_a_service_installed_alone_migrates_runs_and_passes_its_own_tests(wheels, throwaway, tmp_path, service):
    other = {"leads": "sales", "sales": "leads"}[service]
    work = tmp_path / "work"
    work.mkdir()
    run([sys.executable, "-m", "venv", str(work / "venv")], timeout=120)
    python, crm = str(work / "venv" / "bin" / "python"), str(work / "venv" / "bin" / "crm")
    run([python, "-m", "pip", "install", "--quiet", str(wheels["crm-kernel"]), str(wheels["crm-testkit"]),
         f"{wheels[f'crm-{service}']}[test]"], timeout=600)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "AMQP_URI") and not k.endswith("_DATABASE_URL")}
    database = throwaway.database(f"alone_{service}")
    # Its consumer contract tests read the bus document the suite publishes, not a producer's code.
    env.update(AMQP_URI=throwaway.vhost(f"alone-{service}"), CRM_DATA_DIR=str(work / "data"),
               CRM_BUS_DOCUMENT=str(ROOT / "docs" / "contracts" / "asyncapi.json"),
               **{f"{service.upper()}_DATABASE_URL": database})

    installed = run([python, "-c", f"import services.{service}; print(services.{service}.__file__)"],
                    cwd=work, env=env).stdout
    assert installed.startswith(str(work / "venv" / SITE_PACKAGES)), installed
    for absent in ("gateway", f"services.{other}"):
        missing = run([python, "-c", f"import {absent}"], cwd=work, env=env, check=False)
        assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr, (absent, missing.stderr)

    migrated = run([crm, "migrate"], cwd=work, env=env).stdout
    assert "no gateway installed here" in migrated and f"migrated {service}" in migrated, migrated
    assert re.search(r"declared [1-9]\d* consumer queues", migrated), migrated
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()

    try:
        started = run([crm, "up"], cwd=work, env=env, timeout=300).stdout
        assert f"started {service} (pid" in started and "started gateway" not in started, started
        answer = run([python, "-c", PING, service], cwd=work, env=env, timeout=120, check=False)
        log = work / ".run" / f"{service}.log"
        assert answer.stdout.strip() == "pong", \
            answer.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "no log")
    finally:
        stopped = run([crm, "down"], cwd=work, env=env).stdout
    assert f"stopped {service}" in stopped, stopped

    tests = run([python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--rootdir", str(work),
                 "--pyargs", f"services.{service}.tests"], cwd=work, env=env, check=False, timeout=600)
    outcome = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr
    assert tests.returncode == 0 and re.search(r"\d+ passed", outcome), tests.stdout[-6000:] + tests.stderr[-3000:]
    assert not re.search(r"skipped|xfail|error", outcome), outcome
    ran = [line for line in tests.stdout.splitlines() if " PASSED" in line]
    assert ran and all(line.startswith(f"venv/{SITE_PACKAGES}/services/{service}/tests/")
                       for line in ran), ran[:5]


def run(argv: list[str], check: bool = True, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done
