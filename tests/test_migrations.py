"""The migrations create exactly the tables the models describe, and move old data safely."""

from datetime import datetime, time
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import app_config, is_postgres

from bot import create_app
from bot.extensions import db


def test_models_and_migrations_do_not_drift(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


# -- 0008: one open finding per episode (issue #10, item 2) --------------------------------------

T0 = datetime(2026, 11, 17, 23, 0)


def scratch_url(database_url: str, tmp_path: Path) -> str:
    """An empty database of the same kind as the test database, for migrating up and down."""
    if not is_postgres(database_url):
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_migrations"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    scratch = url.set(database=name)
    engine = sa.create_engine(scratch)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return scratch.render_as_string(hide_password=False)


@pytest.fixture
def scratch_app(database_url, tmp_path):
    app = create_app(app_config(scratch_url(database_url, tmp_path), tmp_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def revision_before(revision: str) -> str:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    return ScriptDirectory.from_config(config).get_revision(revision).down_revision


def old_rows(connection) -> None:
    """Data written before 0008: Maria's episode with three open findings at once (the race), one
    acknowledged; Ana's episode with one open finding; Maria with two open findings outside any episode."""
    t = {name: sa.Table(name, sa.MetaData(), autoload_with=connection)
         for name in ("clinics", "patients", "treatment_sessions", "escalations")}
    connection.execute(t["clinics"].insert().values(
        id=1, name="Harbor", sms_name="Harbor PT", phone="+12125550100", timezone="America/New_York",
        quiet_start=time(21), quiet_end=time(8), business_open=time(8), business_close=time(18),
        business_days="12345", emergency_realert_minutes=5, emergency_backup_minutes=15,
        urgent_backup_minutes=30, daily_text_limit=4, created_at=T0))
    for pid in (1, 2):
        connection.execute(t["patients"].insert().values(
            id=pid, clinic_id=1, name=f"P{pid}", phone=f"+1212555014{pid}", language="en", precautions=[],
            created_at=T0))
        connection.execute(t["treatment_sessions"].insert().values(
            id=pid, patient_id=pid, ended_at=T0, regions=["upper_back"], status="open", created_at=T0))
    findings = [  # id, patient, session, level, status, minute opened
        (1, 1, 1, "urgent", "open", 1), (2, 1, 1, "emergency", "open", 2), (3, 1, 1, "emergency", "open", 3),
        (4, 1, 1, "urgent", "open", 4), (5, 1, 1, "emergency", "acknowledged", 0),
        (6, 2, 2, "routine", "open", 1), (7, 1, None, "routine", "open", 1), (8, 1, None, "routine", "open", 2)]
    for fid, pid, sid, level, status, minute in findings:
        connection.execute(t["escalations"].insert().values(
            id=fid, clinic_id=1, patient_id=pid, session_id=sid, level=level, rule="E1", code=f"C{fid}",
            status=status, alerts_sent=1,
            created_at=T0.replace(minute=minute), next_alert_at=T0.replace(minute=minute + 5)))


def findings_by_status(connection) -> dict[int, tuple[str, bool]]:
    rows = connection.execute(sa.text("SELECT id, status, next_alert_at FROM escalations ORDER BY id"))
    return {r.id: (r.status, r.next_alert_at is not None) for r in rows}


def test_0008_keeps_the_most_urgent_newest_open_finding_of_each_episode_and_closes_the_rest(scratch_app):
    flask_migrate.upgrade(revision=revision_before("0008"))
    with db.engine.begin() as connection:
        old_rows(connection)
    flask_migrate.upgrade(revision="0008")
    with db.engine.connect() as connection:
        assert findings_by_status(connection) == {
            1: ("resolved", False), 2: ("resolved", False),
            3: ("open", True),  # the newest emergency: kept, over the newer urgent 4
            4: ("resolved", False), 5: ("acknowledged", True), 6: ("open", True),
            7: ("resolved", False), 8: ("open", True)}
        superseded = connection.execute(sa.text(
            "SELECT subject FROM audit_events WHERE action = 'escalation.superseded' ORDER BY subject")).scalars()
        assert list(superseded) == ["escalation:1", "escalation:2", "escalation:4", "escalation:7"]
        connection.rollback()
        insert = sa.text("INSERT INTO escalations (id, clinic_id, patient_id, session_id, level, rule, code, status,"
                         " alerts_sent, created_at) VALUES (:id, 1, :patient, :session, 'urgent', 'U1', :code, 'open', 0,"
                         " :at)")
        for fid, session in ((11, 1), (12, None)):  # a second open finding is refused, in or out of an episode
            with pytest.raises(sa.exc.IntegrityError):
                with connection.begin():
                    connection.execute(insert, {"id": fid, "patient": 1, "session": session, "code": f"X{fid}",
                                                 "at": T0})
        with connection.begin():  # the first one outside an episode for Ana is not
            connection.execute(insert, {"id": 9, "patient": 2, "session": None, "code": "X9", "at": T0})
    flask_migrate.downgrade(revision=revision_before("0008"))
    with db.engine.begin() as connection:  # without the indexes, a duplicate gets in again...
        connection.execute(insert, {"id": 10, "patient": 1, "session": 1, "code": "X10", "at": T0})
        assert findings_by_status(connection)[10] == ("open", False)
    flask_migrate.upgrade(revision="0008")  # ...and upgrading again closes it
    with db.engine.connect() as connection:
        assert [i for i, (s, _) in findings_by_status(connection).items() if s == "open"] == [3, 6, 8, 9]


# -- 0011: which findings each digest named (issue #13) -------------------------------------------

def digested_before_0011(connection) -> None:
    """Monday's 08:00 digests, written before 0011 kept their lists: Dana's named Maria's finding 1
    (still open) and Ana's finding 2 (acknowledged since); Ben's, at the same moment, named finding 3.
    Finding 4 is open but was never digested."""
    t = {name: sa.Table(name, sa.MetaData(), autoload_with=connection)
         for name in ("clinics", "patients", "providers", "escalations", "messages", "audit_events")}
    monday = datetime(2026, 11, 23, 13, 0)  # 08:00 in New York, stored as UTC
    connection.execute(t["clinics"].insert().values(
        id=1, name="Harbor", sms_name="Harbor PT", phone="+12125550100", timezone="America/New_York",
        quiet_start=time(21), quiet_end=time(8), business_open=time(8), business_close=time(18),
        business_days="12345", emergency_realert_minutes=5, emergency_backup_minutes=15,
        urgent_backup_minutes=30, daily_text_limit=4, created_at=T0))
    for pid in (1, 2, 3, 4):
        connection.execute(t["patients"].insert().values(
            id=pid, clinic_id=1, name=f"P{pid}", phone=f"+1212555014{pid}", language="en", precautions=[],
            created_at=T0))
    for prid, name in ((1, "Dana"), (2, "Ben")):
        connection.execute(t["providers"].insert().values(
            id=prid, clinic_id=1, name=name, email=f"{name.lower()}@harbor.example", password_hash="x",
            role="provider", duty="on_call", active=True, session_token=f"t{prid}", created_at=T0))
    for fid, status, digested in ((1, "open", True), (2, "acknowledged", True), (3, "open", True), (4, "open", False)):
        connection.execute(t["escalations"].insert().values(
            id=fid, clinic_id=1, patient_id=fid, level="routine", rule="R1", code=f"C{fid}", status=status,
            alerts_sent=int(digested), created_at=T0, digest_sent_at=monday if digested else None))
    for mid, provider in ((1, 1), (2, 2)):
        connection.execute(t["messages"].insert().values(
            id=mid, clinic_id=1, direction="out", provider_id=provider, purpose="digest", body="Aftercare routine",
            status="sent", attempts=1, created_at=monday, updated_at=monday))
    for fid, provider in ((1, 1), (2, 1), (3, 2)):
        connection.execute(t["audit_events"].insert().values(
            actor="system", action="escalation.digested", clinic_id=1, subject=f"escalation:{fid}",
            detail={"provider_id": provider}, created_at=monday))


def test_0011_links_each_open_finding_to_the_digest_that_named_it(scratch_app):
    flask_migrate.upgrade(revision=revision_before("0011"))
    with db.engine.begin() as connection:
        digested_before_0011(connection)
    flask_migrate.upgrade(revision="0011")
    with db.engine.connect() as connection:
        links = connection.execute(sa.text("SELECT message_id, escalation_id FROM digest_entries ORDER BY 2"))
        assert [tuple(row) for row in links] == [(1, 1), (2, 3)]
    from bot import escalation
    from bot.models import Provider
    dana = db.session.get(Provider, 1)
    assert [e.code for e in escalation.alerted_open(dana)] == ["C1"]
    db.session.rollback()  # let the downgrade take its locks
    flask_migrate.downgrade(revision=revision_before("0011"))
    with db.engine.connect() as connection:
        assert "digest_entries" not in sa.inspect(connection).get_table_names()
