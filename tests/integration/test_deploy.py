"""deploy/: the systemd units pass `systemd-analyze verify`, run commands the CLI has, and
keep the service unprivileged; the nginx example forwards what the bot needs and nothing
else (and passes `nginx -t` where nginx is installed)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import BoardSettings, TelegramSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("repairbot.service", "repairbot-backup.service", "repairbot-backup.timer")
INSTALLED = "/opt/repairbot/.venv/bin/repairbot"  # where the units expect the command


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and keys (a key may repeat, as ExecStart does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def repairbot_argv(exec_start: str) -> list[str] | None:
    """The arguments an ExecStart line gives `repairbot` (through `sh -c` too), with
    systemd's own escapes ($$, %%) undone; None if it does not run repairbot."""
    words = shlex.split(exec_start.replace("$$", "$").replace("%%", "%"))
    if Path(words[0]).name == "sh" and words[1] == "-c":
        words = shlex.split(words[2])
    for i, word in enumerate(words):
        if word == INSTALLED:
            return words[i + 1 :]
    return None


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian/Ubuntu: apt-get install systemd)")
    command = Path(sys.executable).with_name("repairbot")
    if not command.is_file():
        pytest.skip(f"the repairbot command is not installed beside {sys.executable}")
    for name in UNITS:  # the installed command's path replaced by this checkout's
        text = (DEPLOY / name).read_text(encoding="utf-8").replace(INSTALLED, str(command))
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [tool, "verify", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if str(tmp_path) in line
    ]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr
    security = subprocess.run(
        [tool, "security", "--offline=true", str(tmp_path / "repairbot.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert exposure is not None, security.stdout + security.stderr
    # systemd rates 0-10, "OK" up to 3.9; an unhardened service scores 9.6.
    assert float(exposure.group(1)) <= 2.5, security.stdout


def test_the_service_runs_unprivileged_with_its_secrets_from_the_environment_file() -> None:
    service = unit("repairbot.service")["Service"]
    assert service["User"] == ["repairbot"] and service["Group"] == ["repairbot"]
    assert service["EnvironmentFile"] == ["/etc/repairbot/env"]
    assert service["Restart"] == ["on-failure"]
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]
    # The working directory is the one writable place (a SQLite file lives there).
    assert service["WorkingDirectory"] == service["ReadWritePaths"] == ["/var/lib/repairbot"]
    assert not any("token" in v.lower() for values in service.values() for v in values)
    backup = unit("repairbot-backup.service")["Service"]
    assert backup["User"] == ["repairbot"] and backup["Type"] == ["oneshot"]
    timer = unit("repairbot-backup.timer")["Timer"]
    assert timer["OnCalendar"] == ["*-*-* 03:30:00"] and timer["Persistent"] == ["true"]


@pytest.mark.parametrize("name", ["repairbot.service", "repairbot-backup.service"])
def test_what_the_units_run_is_a_repairbot_command(name: str, tmp_path: Path) -> None:
    commands = [
        argv
        for line in unit(name)["Service"]["ExecStart"]
        if (argv := repairbot_argv(line)) is not None
    ]
    assert len(commands) == 1
    argv = commands[0]
    words = [w for w in argv if re.fullmatch(r"[a-z]+", w)][:2]
    # --help after the unit's own arguments: argparse accepts them all, then prints help.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: repairbot {' '.join(words[: 2 if words[0] == 'db' else 1])}" in result.stdout
    if name == "repairbot-backup.service":
        assert argv[:2] == ["db", "backup"]
        assert re.fullmatch(r"/var/backups/repairbot/repairbot-\$\(date .*\)\.backup", argv[-1])


def test_the_nginx_example_forwards_the_webhook_and_the_board_and_nothing_else() -> None:
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    body = "\n".join(line.split("#")[0] for line in conf.splitlines())  # comments out
    upstreams = dict(re.findall(r"upstream (\w+) \{\s*server 127\.0\.0\.1:(\d+);", body))
    assert upstreams == {
        "repairbot_webhook": str(TelegramSettings().webhook_port),
        "repairbot_board": str(BoardSettings().port),
    }
    webhook = re.search(r"location = (/telegram/\S+) \{(.*?)\n    \}", body, re.S)
    assert webhook is not None
    assert (
        "proxy_set_header X-Telegram-Bot-Api-Secret-Token $http_x_telegram_bot_api_secret_token"
        in webhook.group(2)
    )
    assert "proxy_pass http://repairbot_webhook;" in webhook.group(2)
    locations = re.findall(r"location (?:= )?(\S+) \{", body)
    assert locations == [webhook.group(1), "/board", "/"]
    assert re.search(r"location / \{\s*return 404;\s*\}", body)
    assert "9090" not in body  # the ops listener is never proxied


def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if nginx is None or openssl is None:
        pytest.skip("nginx (and openssl) not installed: apt-get install nginx to check it")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=bot.example.edu", "-keyout", str(key), "-out", str(cert)),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/letsencrypt/live/bot.example.edu/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/bot.example.edu/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
