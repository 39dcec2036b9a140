"""What no reader could guess: importing the app loads no dialect, SDK or boto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHARED = str(Path(__file__).resolve().parents[2] / "shared")

PROBE = """
import json, sys
from gateway.http.app import create_app
create_app()
print(json.dumps(sorted(sys.modules)))
"""

FORBIDDEN_PREFIXES = (
    "gateway.providers.openai",
    "gateway.providers.anthropic",
    "gateway.providers.bedrock",
    "gateway.local",
    "openai",
    "anthropic",
    "boto3",
    "botocore",
    "genai_prices",
    "moto",
    "yaml",
)


def test_app_import_loads_no_dialect_sdk_or_aws_client() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": SHARED, "PATH": ""},
    ).stdout
    modules = json.loads(out)
    assert "gateway.http.app" in modules
    loaded = [m for m in modules if m.startswith(FORBIDDEN_PREFIXES)]
    assert loaded == []
