"""The example config is generated from the settings table and parses back to it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from resolver.config.endpoints import Endpoint
from resolver.config.example import example_config
from resolver.config.load import load_config
from resolver.config.settings import SETTINGS
from tests.config.config_files import write_config


def test_the_example_config_loads_with_the_documented_production_values(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, example_config()))
    assert config.blocklists == Path("/etc/dnsfence/blocklists")
    assert config.timezone == "Europe/Brussels"
    assert config.server.listen == (Endpoint("0.0.0.0", 53), Endpoint("::", 53))
    assert config.server.allow_clients == tuple(ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "::1/128"))
    assert config.upstream.servers == (Endpoint("9.9.9.9", 53), Endpoint("149.112.112.112", 53))
    # every key: its example where one is documented, else its default
    for setting in SETTINGS:
        section = getattr(config, setting.section) if setting.section else config
        expected = setting.default if setting.example is None else setting.parse(setting.example)
        assert getattr(section, setting.key) == expected, setting.key
    # and each key is explained in a comment just above it
    lines = example_config().splitlines()
    sections = []  # the section each line is in ("" at the top level)
    for line in lines:
        top = line and not line.startswith((" ", "#"))
        sections.append(line[:-1] if top and line.endswith(":") else
                        ("" if top else (sections[-1] if sections else "")))
    for setting in SETTINGS:
        (line_no,) = [i for i, line in enumerate(lines)
                      if line.strip().startswith(f"{setting.key}:")
                      and sections[i] == setting.section]
        assert lines[line_no - 1].strip().startswith(f"# {setting.help}"), setting.key


def test_the_shipped_example_file_is_the_generated_one() -> None:
    shipped = Path(__file__).resolve().parents[2] / "dnsfence.example.yaml"
    assert shipped.read_text(encoding="utf-8") == example_config(), (
        "regenerate it: python -c 'from resolver.config.example import example_config; "
        "import sys; sys.stdout.write(example_config())' > dnsfence.example.yaml")
