import os
import subprocess
import sys
from pathlib import Path


def test_a_script_using_only_the_public_api_sees_liveness_verified_once():
    script = Path(__file__).parent / "scripts" / "public_api_flow.py"
    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "status=completed outcome=passed verified_signals=1"
