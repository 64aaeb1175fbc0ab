"""`flask doctor` prints the state of the installation and exits non-zero when something is wrong."""

from datetime import datetime, timedelta, timezone

from support import enroll

from bot import dispatch
from test_health import dispatcher_beat

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=timezone.utc)


def doctor(runner, clock, now=NOW):
    clock.set(now)
    return runner.invoke(args=["doctor"])


def line(output: str, part: str) -> str:
    return next(row for row in output.splitlines() if row.split()[1:2] == part.split()[:1])


def test_a_working_installation_is_all_ok(runner, clock, clinic):
    dispatcher_beat(NOW - timedelta(seconds=5))
    result = doctor(runner, clock)
    assert result.exit_code == 0, result.output
    for part in ("database", "migrations", "dispatcher", "gateway", "due", "failed", "inbound"):
        assert line(result.output, part).startswith("OK"), result.output
    assert "at head" in line(result.output, "migrations")


def test_no_dispatcher_fails_and_says_what_to_start(runner, clock, clinic):
    result = doctor(runner, clock)
    assert result.exit_code == 1
    assert line(result.output, "dispatcher").startswith("FAIL")
    assert "flask scheduler" in line(result.output, "dispatcher")


def test_work_left_due_for_more_than_three_intervals_fails_and_names_the_oldest(runner, clock, clinic):
    dispatcher_beat(NOW - timedelta(seconds=5))
    enroll(clinic, ended=NOW - timedelta(seconds=46))  # its welcome is due since then, and nobody sent it
    result = doctor(runner, clock)
    assert result.exit_code == 1
    assert line(result.output, "due").startswith("FAIL")
    assert "oldest due: check-in due 46 s ago" in line(result.output, "due")


def test_work_due_within_three_intervals_is_fine(runner, clock, clinic):
    dispatcher_beat(NOW - timedelta(seconds=5))
    enroll(clinic, ended=NOW - timedelta(seconds=45))
    result = doctor(runner, clock)
    assert result.exit_code == 0, result.output


def test_a_given_up_text_is_a_warning_not_a_failure(runner, clock, clinic, tmp_path):
    from test_dispatch import FlakyGateway
    from bot.gateways import SendError

    dispatcher_beat(NOW - timedelta(seconds=5))
    enroll(clinic, ended=NOW - timedelta(hours=2))
    down = FlakyGateway(tmp_path / "down.jsonl", [SendError("503", transient=True) for _ in range(8)])
    moment = NOW - timedelta(hours=2)
    for _ in range(8):
        dispatch.run_once(now=moment, gateway=down)
        moment += timedelta(minutes=31)
    result = doctor(runner, clock, now=moment)
    assert line(result.output, "failed").startswith("WARN") and "1 text(s) given up" in result.output
