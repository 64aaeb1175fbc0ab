"""`GET /metrics`: Prometheus metrics of the whole installation, read from the database when scraped.

Several gunicorn workers and dispatcher processes run at once, so per-process counters would each
see a slice. A custom collector (prometheus_client's documented way to export numbers held
elsewhere) instead counts the durable rows at scrape time: every worker answers the same numbers,
and a restart loses nothing. Counters (texts sent, failures by carrier code, time to acknowledge)
are counts over all rows, so they only grow while rows are kept.

Off (404) unless METRICS_TOKEN is set; then a scrape must send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from . import clock, spool
from .extensions import db
from .health import dispatcher_state, stale_after
from .models import CheckIn, Escalation, Message

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

LEVELS = ("emergency", "urgent", "routine")
ACK_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)  # seconds: the protocol's steps, then a day
SENT = ("queued", "accepted", "scheduled", "sending", "sent", "delivered", "undelivered", "read")


class InstallationCollector(Collector):
    """The installation's state, counted from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("aftercare_database_up", "1 when the database answered this scrape")
        now = clock.now()
        try:
            families = list(self._from_database(now))
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("metrics: database unavailable")
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        yield up
        yield from families
        waiting = spool.summary(now)
        spooled = GaugeMetricFamily("aftercare_inbound_spooled", "Inbound texts on this host waiting for the database")
        spooled.add_metric([], waiting.count)
        yield spooled

    def _from_database(self, now: datetime) -> Iterator[Metric]:
        due = GaugeMetricFamily("aftercare_due_items", "Work due now, by kind", labels=["kind"])
        overdue = GaugeMetricFamily("aftercare_overdue_items",
                                    "Work due for longer than three dispatch intervals, by kind", labels=["kind"])
        oldest = GaugeMetricFamily("aftercare_oldest_due_age_seconds", "How long the oldest due item has waited",
                                   labels=["kind"])
        late = now - stale_after()
        for kind, column, where in (
            ("checkin", CheckIn.due_at, CheckIn.status == "planned"),
            ("text", Message.send_after, sa.and_(Message.direction == "out", Message.purpose != "alert",
                                                 Message.status.in_(("pending", "unconfirmed")))),
            ("alert", Message.send_after, sa.and_(Message.purpose == "alert",
                                                  Message.status.in_(("pending", "unconfirmed")))),
            ("alert_timer", Escalation.next_alert_at, Escalation.status == "open"),
        ):
            count, late_count, first = db.session.execute(
                sa.select(sa.func.count(), sa.func.count().filter(column <= late), sa.func.min(column))
                .where(where, column <= now)).one()
            due.add_metric([kind], count)
            overdue.add_metric([kind], late_count)
            oldest.add_metric([kind], (now - first).total_seconds() if first else 0)
        yield from (due, overdue, oldest)

        findings = GaugeMetricFamily("aftercare_open_findings", "Findings not yet acknowledged, by level",
                                     labels=["level"])
        counts = dict(db.session.execute(sa.select(Escalation.level, sa.func.count())
                                         .where(Escalation.status == "open").group_by(Escalation.level)).all())
        for level in LEVELS:
            findings.add_metric([level], counts.get(level, 0))
        yield findings

        yield self._acknowledge_times()

        sent = CounterMetricFamily("aftercare_texts_sent", "Texts the carrier accepted, by purpose", labels=["purpose"])
        for purpose, count in db.session.execute(
                sa.select(Message.purpose, sa.func.count()).where(Message.direction == "out", Message.status.in_(SENT))
                .group_by(Message.purpose)).all():
            sent.add_metric([purpose], count)
        yield sent
        failed = CounterMetricFamily("aftercare_text_failures",
                                     "Texts that failed or were undelivered, by carrier error code ('none': given up "
                                     "without one)", labels=["purpose", "code"])
        for purpose, code, count in db.session.execute(
                sa.select(Message.purpose, Message.error_code, sa.func.count())
                .where(Message.direction == "out", Message.status.in_(("failed", "undelivered")))
                .group_by(Message.purpose, Message.error_code)).all():
            failed.add_metric([purpose, str(code) if code is not None else "none"], count)
        yield failed

        state = dispatcher_state(now)
        heartbeat = GaugeMetricFamily("aftercare_dispatcher_heartbeat_age_seconds",
                                      "Seconds since a dispatcher last completed a pass (-1: never)")
        heartbeat.add_metric([], state.age_seconds if state.age_seconds is not None else -1)
        yield heartbeat

    def _acknowledge_times(self) -> Metric:
        family = HistogramMetricFamily("aftercare_time_to_acknowledge_seconds",
                                       "From the first alert at a finding's level to its acknowledgement, by level",
                                       labels=["level"])
        rows = db.session.execute(
            sa.select(Escalation.level, sa.func.coalesce(Escalation.alert_started_at, Escalation.created_at),
                      Escalation.acknowledged_at)
            .where(Escalation.acknowledged_at.is_not(None))).all()
        for level in LEVELS:
            seconds = [max((acked - opened).total_seconds(), 0.0) for lvl, opened, acked in rows if lvl == level]
            buckets = [(str(float(b)), sum(1 for s in seconds if s <= b)) for b in ACK_BUCKETS]
            family.add_metric([level], buckets + [("+Inf", len(seconds))], sum(seconds))
        return family


def registry() -> CollectorRegistry:
    """This app's registry (not the library's global one: tests and processes make several apps)."""
    found = current_app.extensions.get("aftercare.metrics")
    if found is None:
        found = CollectorRegistry(auto_describe=False)
        found.register(InstallationCollector())
        current_app.extensions["aftercare.metrics"] = found
    return found


@bp.get("/metrics")
def metrics() -> Response:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("a bearer token is required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)
