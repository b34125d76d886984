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
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from crm_testkit.helpers import wait_for

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
    "crm-finance": ("services/finance", "services/finance", "services/finance", set()),
}
SITE_PACKAGES = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
SHIPPED_SUFFIXES = {".py", ".mako", ".ini"}
SHIPPED_FOLDERS = {"fonts"}  # package data shipped whole (finance's invoice font and its licence)
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
                if (path.suffix in SHIPPED_SUFFIXES
                    or (path.is_file() and SHIPPED_FOLDERS & set(path.relative_to(source).parts)))
                and "__pycache__" not in path.parts
                and not {"build", "dist"} & set(path.relative_to(source).parts)
                and path.relative_to(source).parts[0] not in not_shipped}
    with zipfile.ZipFile(wheels[distribution]) as wheel:
        shipped = {name.removeprefix(installed_as + "/") for name in wheel.namelist()
                   if name.startswith(installed_as + "/")}
    assert shipped == expected


@pytest.mark.timeout(900)
@pytest.mark.parametrize("service", ["leads", "sales", "finance"])
def test_a_service_installed_alone_migrates_runs_and_passes_its_own_tests(wheels, throwaway, tmp_path, service):
    other = {"leads": "sales", "sales": "leads", "finance": "sales"}[service]
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


@pytest.mark.timeout(900)
def test_a_gateway_installed_alone_serves_a_service_installed_alone(wheels, throwaway, tmp_path):
    """The gateway holds no service code: in a virtual environment with the kernel and the
    gateway only, it serves leads' routes, learnt from leads running from its own environment."""
    from gateway.identity import new_key_string
    data, key = tmp_path / "data", new_key_string()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "AMQP_URI") and not k.endswith("_DATABASE_URL")}
    env.update(AMQP_URI=throwaway.vhost("alone-gateway"), CRM_DATA_DIR=str(data), GATEWAY_ADMIN_KEY=key,
               GATEWAY_PORT=str(_free_port()), GATEWAY_DATABASE_URL=throwaway.database("alone_gateway"),
               LEADS_DATABASE_URL=throwaway.database("alone_gateway_leads"))
    places = {}
    for part, wheel_names in (("gateway", ("crm-kernel", "crm-gateway")), ("leads", ("crm-kernel", "crm-leads"))):
        places[part] = tmp_path / part
        places[part].mkdir()
        run([sys.executable, "-m", "venv", str(places[part] / "venv")], timeout=120)
        run([str(places[part] / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
             *(str(wheels[name]) for name in wheel_names)], timeout=600)
    crm = {part: str(places[part] / "venv" / "bin" / "crm") for part in places}
    missing = run([str(places["gateway"] / "venv" / "bin" / "python"), "-c", "import services.leads"],
                  cwd=places["gateway"], env=env, check=False)
    assert "ModuleNotFoundError" in missing.stderr, missing.stderr

    base = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    try:
        started = run([crm["gateway"], "up"], cwd=places["gateway"], env=env, timeout=300).stdout
        assert "started gateway" in started and "started leads" not in started, started
        assert requests.get(f"{base}/api/v1/leads", headers={"Authorization": f"Bearer {key}"}).status_code == 404
        run([crm["leads"], "migrate"], cwd=places["leads"], env=env)
        started = run([crm["leads"], "up"], cwd=places["leads"], env=env, timeout=300).stdout
        assert "started leads" in started and "started gateway" not in started, started
        auth = {"Authorization": f"Bearer {key}"}
        wait_for(lambda: requests.get(f"{base}/api/v1/leads", headers=auth).status_code == 200, timeout=60,
                 message="the gateway to serve leads' routes")
        created = requests.post(f"{base}/api/v1/leads", json={"company": "Alone Ltd"}, headers=auth)
        assert created.status_code == 201 and created.json()["company"] == "Alone Ltd", created.text
        assert "/api/v1/leads/{lead_id}" in requests.get(f"{base}/api/v1/openapi.json").json()["paths"]
    finally:
        run([crm["leads"], "down"], cwd=places["leads"], env=env, check=False)
        run([crm["gateway"], "down"], cwd=places["gateway"], env=env, check=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(argv: list[str], check: bool = True, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done
