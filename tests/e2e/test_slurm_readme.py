"""The README's "Running on Slurm" section: a real Slurm cluster from ``nuri slurm-dev up``, the demo
commons served on it, and the first session's walkthrough run verbatim against it.

The cluster gets its own ports, cluster name and NURI_HOME (appended to the README's ``up``), so
the test runs beside a developer's own ``nuri slurm-dev`` cluster.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.test_readme_walkthrough import (
    BIN,
    free_port,
    readme_block,
    run_block,
    wait_until_serving,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="a Slurm cluster needs root"),
]

ISOLATION = "--port-base 9817 --cluster-name nurireadme"


def test_the_demo_commons_runs_on_slurm_as_the_readme_shows(tmp_path: Path) -> None:
    began = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
    port = free_port()
    env = {
        **os.environ,
        "NURI_HOME": str(tmp_path / "home"),
        "NURI_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NURI_ANALYSES": "false",  # no forecasting beside the test: it has two cores to share
    }
    for name in ("NURI_TOKEN", "NURI_DATABASE_URL", "NURI_BACKEND", "SLURM_CONF"):
        env.pop(name, None)
    up_line, serve_line = [
        line.split("  #")[0].strip()
        for line in readme_block("Running on Slurm").splitlines()
        if line.strip()
    ]
    assert up_line == 'eval "$(.venv/bin/nuri slurm-dev up)"'
    assert serve_line == ".venv/bin/nuri serve --demo --backend slurm"
    (tmp_path / ".venv").symlink_to(BIN.parent)
    up = subprocess.run(
        ["bash", "-e", "-c", f"{up_line.replace('slurm-dev up', f'slurm-dev up {ISOLATION}')}\n"
         'echo "SLURM_CONF=$SLURM_CONF"'],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        slurm_conf = tmp_path / "home" / "slurm-dev" / "slurm.conf"
        assert f"SLURM_CONF={slurm_conf}" in up.stdout
        log = (tmp_path / "serve.log").open("wb")
        server = subprocess.Popen(
            [*serve_line.split(), "--port", str(port)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until_serving(env["NURI_URL"], server, tmp_path / "serve.log", 30)
            walkthrough = tmp_path / "walk"
            walkthrough.mkdir()
            result = run_block(readme_block("A first session"), env, walkthrough)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "devices 0,1" in result.stdout and "done" in result.stdout
            job_id = int(re.findall(r"JOB_ID=(\d+)", result.stdout)[-1])
            assert '"state": "COMPLETED"' in result.stdout
            queue = subprocess.run(
                ["sacct", "-a", "-X", "-n", "-P", "-S", began, "-o",
                 "JobName,Account,Partition,State"],
                env={**env, "SLURM_CONF": str(slurm_conf), "TZ": "UTC"},
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert re.search(rf"^nuri[0-9a-f]{{8}}-{job_id}-1\|snu-nlp\|h100-ksc\|COMPLETED$",
                             queue, re.M), queue  # fmt: skip
            reconcile = subprocess.run(
                [str(BIN / "nuri"), "slurm", "reconcile"],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
            assert "agree" in reconcile.stdout
        finally:
            server.terminate()
            server.wait(15)
            log.close()
    finally:
        down = subprocess.run(
            [str(BIN / "nuri"), "slurm-dev", "down", *ISOLATION.split()],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert down.returncode == 0, down.stderr
