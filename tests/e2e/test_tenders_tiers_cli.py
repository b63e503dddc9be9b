"""docs/packs/tenders.md's "Tiers, quotas and payments" examples, run as written on the demo
data: the CLI lines (a spent quota is one line on stderr and exit 1), the curl lines against
``rescore serve`` (a 429 with Retry-After), and the hand-signed Stripe event (applied once)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from helpers import clean_env, run, serving

pytestmark = pytest.mark.e2e

DOC = Path(__file__).parents[2] / "docs" / "packs" / "tenders.md"
SECRET = "whsec_documentacion"
ENV = {
    "RESCORE_DATABASE_URL": "sqlite:///t.db",
    "RESCORE_PACKS": "tenders",
    "RESCORE_EMBEDDER": "hashing",
    "RESCORE_TENDERS_STRIPE_SECRET": SECRET,
}
FREE = "4462ebfc-5f91-5ef0-9cfb-ac6e7687a66e"


def blocks() -> list[str]:
    """The code blocks of the section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Tiers, quotas and payments") :]
    return re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.DOTALL)


def block(starting: str) -> str:
    return next(b for b in blocks() if b.startswith(starting))


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    run("init", "--demo-data", cwd=tmp_path, env=ENV)
    return tmp_path


def shell(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_examples_run_as_documented(demo: Path) -> None:
    refusals = []
    for line in block("rescore tenders").splitlines():
        args = shlex.split(line, comments=True)[1:]
        done = run(*args, cwd=demo, env=ENV, check="refused" not in line)
        if "refused" in line:
            assert done.returncode == 1, done.stdout
            refusals.append(done.stderr.strip())
    (error,) = refusals
    shown = block("error: ").strip()
    timestamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.sub(timestamp, "T", error) == re.sub(timestamp, "T", shown)
    assert (demo / "factura.pdf").read_bytes().startswith(b"%PDF-")
    plan = json.loads(
        run("tenders", "suscripcion", "show", FREE, "--json", cwd=demo, env=ENV).stdout
    )
    quota = next(q for q in plan["cuotas"] if q["feature"] == "price_analysis")
    assert (plan["tier"], quota["usados"], quota["limite"]) == ("emprendedor", 3, 5)
    lacking = run(
        "tenders", "probabilidad", "2003-4-COT26", "77037867-2", "5", "--suscriptor", FREE,
        cwd=demo, env=ENV, check=False,
    )  # fmt: skip
    assert lacking.returncode == 1
    assert lacking.stderr.strip().splitlines() == [
        "error: suscriptor_id: win_probability is not in tier emprendedor; "
        "tier pyme has it ($9.990 CLP/month)"
    ]
    table = run("tenders", "planes", cwd=demo, env=ENV).stdout
    assert "price_analysis    2/day" in table


def test_the_http_and_stripe_examples_run_as_documented(demo: Path) -> None:
    key = run("keys", "create", "--scope", "read", cwd=demo, env=ENV).stdout.strip()
    with serving(demo, ENV) as url:
        env = {"RESCORE_URL": url, "KEY": key, "RESCORE_TENDERS_STRIPE_SECRET": SECRET}
        answers = []
        for line in block("curl").splitlines():
            done = shell(line, demo, **env)
            assert done.returncode == 0, done.stderr
            answers.append(done.stdout)
        planes, plan, precio, search, pagos, _ = answers
        assert json.loads(planes)["tiers"][0]["tier"] == "free"
        assert json.loads(plan)["tier"] == "free"
        assert precio.startswith("HTTP/1.1 200")
        assert json.loads(search)["productos"]
        assert json.loads(pagos)["pagos"][0]["monto_clp"] == 19990
        assert (demo / "factura.pdf").read_bytes().startswith(b"%PDF-")
        price = block("curl").splitlines()[2]
        spent = shell(price, demo, **env).stdout  # the second of two a day
        assert spent.startswith("HTTP/1.1 200")
        refused = shell(price, demo, **env).stdout
        assert refused.startswith("HTTP/1.1 429"), refused
        wait = int(re.search(r"(?im)^retry-after: (\d+)", refused).group(1))  # type: ignore[union-attr]
        assert 0 < wait <= 25 * 3600
        assert "tier free's 2 per day are used" in refused
        signed = block("body=")
        first = json.loads(shell(signed, demo, **env).stdout)
        assert (first["resultado"], first["tier"]) == ("upgraded", "pyme")
        assert json.loads(shell(signed, demo, **env).stdout)["resultado"] == "duplicate"
        forged = shell(signed, demo, **(env | {"RESCORE_TENDERS_STRIPE_SECRET": "whsec_x"}))
        assert json.loads(forged.stdout)["field"] == "header.stripe-signature"
