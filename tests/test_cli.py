"""The command line takes secrets from files or the environment; on the command line it warns."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mta_notebook import AuthenticationError, Client
from mta_notebook.contract.signature import sign


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mta_notebook", *args, "--port", str(port)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("MTA_")}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            proc.communicate(timeout=20)  # also closes the pipes


def _stderr(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=20)[1]


def test_webhook_secret_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = "whsec-" + "ab" * 20
    path = tmp_path / "secret.txt"
    path.write_text(secret + "\n", encoding="utf-8")  # an editor's trailing newline
    body = b'{"type":"MTAWebhook.DELIVERY_STATUS","messageId":1,"status":4,'
    body += b'"destinationNumber":"+13125550123"}'
    for args, env in (
        (["--secret-file", str(path)], {}),
        ([], {"MTA_WEBHOOK_SECRET": secret}),
    ):
        port = _free_port()
        out = tmp_path / f"hooks-{port}"
        with _serving(["webhooks", "serve", "--out", str(out), *args], port, env) as proc:
            ok = httpx.post(
                f"http://127.0.0.1:{port}/",
                content=body,
                headers={"X-Signature": sign(body, secret)},
            )
            assert ok.status_code == 200
            forged = httpx.post(
                f"http://127.0.0.1:{port}/", content=body, headers={"X-Signature": "0" * 64}
            )
            assert forged.status_code == 401
            assert "warning" not in _stderr(proc)


def test_a_secret_on_the_command_line_is_warned_about(tmp_path: Path) -> None:
    port = _free_port()
    with _serving(
        ["webhooks", "serve", "--out", str(tmp_path), "--secret", "s3cret-value"], port, {}
    ) as proc:
        err = _stderr(proc)
    assert "--secret on the command line is visible to every user" in err
    assert "s3cret-value" not in err


def test_sandbox_key_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("sk-sandbox-file-key\n", encoding="utf-8")
    port = _free_port()
    with _serving(["sandbox", "--api-key-file", str(path)], port, {}):
        with Client(
            api_key="sk-sandbox-file-key", base_url=f"http://127.0.0.1:{port}/v3"
        ) as client:
            assert client.verify_api_key().name
        with (
            Client(api_key="sk-other", base_url=f"http://127.0.0.1:{port}/v3") as client,
            pytest.raises(AuthenticationError),
        ):
            client.verify_api_key()


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mta_notebook",
            "webhooks",
            "serve",
            "--out",
            str(tmp_path),
            "--secret-file",
            str(missing),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert f"cannot read --secret-file {missing}" in proc.stderr
    assert "Traceback" not in proc.stderr
