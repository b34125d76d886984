"""The kernel's ``crm`` lists and runs the commands the installed parts register
under ``crm.commands`` beside its own, imports one only when it is needed, and
refuses a name the kernel has or two parts register, naming both."""
from __future__ import annotations

import sys
import uuid

import pytest
from click.testing import CliRunner

from shared.cli import main

KERNEL_COMMANDS = ("contracts", "down", "dlq", "events", "migrate", "up")


@pytest.fixture
def register(tmp_path, monkeypatch):
    """``register(distribution, **commands)``: a stand-in distribution on sys.path, found
    through its metadata as an installed one is; each command echoes its own name."""
    modules = []

    def make(distribution: str, **commands: str) -> str:
        module = f"crm_standin_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text("import click\n" + "".join(
            f"\n@click.command()\ndef {function}():\n    click.echo({f'{name} from {distribution}'!r})\n"
            for name, function in commands.items()))
        info = tmp_path / f"{distribution.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[crm.commands]\n" + "".join(
            f"{name} = {module}:{function}\n" for name, function in commands.items()))
        modules.append(module)
        return module

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for module in modules:
        sys.modules.pop(module, None)


def crm(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_installed_parts_commands_are_listed_beside_the_kernels_and_run():
    listed = crm("--help")
    assert listed.exit_code == 0, listed.output
    commands = [line.split()[0] for line in listed.output.split("Commands:")[1].splitlines() if line.strip()]
    assert commands == sorted([*KERNEL_COMMANDS, "keys", "leads"])
    assert "  keys " in listed.output and "API keys." in listed.output
    keys = crm("keys", "--help")
    assert keys.exit_code == 0 and "create  Create a user with ROLE and an API key" in keys.output
    leads = crm("leads", "import", "--help")
    assert leads.exit_code == 0 and "Import a CSV or XLSX FILE of leads through the gateway" in leads.output


def test_a_registered_command_is_imported_only_when_it_is_needed(register):
    module = register("crm-hello", hello="hello")
    assert crm("contracts", "--help").exit_code == 0
    assert module not in sys.modules
    answer = crm("hello")
    assert answer.exit_code == 0 and answer.output == "hello from crm-hello\n"
    assert "hello" in crm("--help").output


def test_a_name_the_kernel_has_is_refused_naming_both(register):
    module = register("crm-clash", up="up_again", hello="hello")
    for args in (["--help"], ["up", "--help"]):
        refused = crm(*args)
        assert refused.exit_code == 1
        assert refused.output.strip() == (
            "Error: `crm up` is the kernel's own command (crm-kernel, shared.cli) and is also registered "
            f"under crm.commands by crm-clash ({module}:up_again); the registered one needs another name")
    assert crm("hello").output == "hello from crm-clash\n"  # what is not ambiguous still runs


def test_a_name_two_parts_register_is_refused_naming_both(register):
    first, second = register("crm-one", hello="hello"), register("crm-two", hello="hello")
    refused = crm("hello")
    assert refused.exit_code == 1
    assert "`crm hello` is registered under crm.commands by " in refused.output
    assert f"crm-one ({first}:hello)" in refused.output and f"crm-two ({second}:hello)" in refused.output
    assert crm("dlq", "--help").exit_code == 0
