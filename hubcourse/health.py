"""/healthz: the state of the database, the broker, and the background processes.

Anyone gets the status alone (and 200 or 503); a signed-in site admin gets the details.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.connection import Connection

from hubcourse.models import Heartbeat
from hubcourse.tasks import run_tag


def _check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict[str, Any]:
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises many kinds; all mean "cannot reach the broker"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "transport": str(transport)}


def _check_heartbeat(name: str) -> dict[str, Any]:
    beat = Heartbeat.objects.filter(name=name).first()
    if beat is None:
        return {"ok": False, "error": f"no {name} has reported yet"}
    tag = run_tag()
    if tag and tag not in beat.detail.split():
        # make run started afresh: a heartbeat from before is no sign its processes are up.
        return {"ok": False, "error": f"no {name} of this run has reported yet"}
    age = (timezone.now() - beat.at).total_seconds()
    ok = age <= settings.HEARTBEAT_MAX_AGE.total_seconds()
    result: dict[str, Any] = {"ok": ok, "last_seen": beat.at.isoformat(), "age_seconds": round(age)}
    if not ok:
        result["error"] = f"last heartbeat {round(age)} s ago"
    return result


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    checks: dict[str, dict[str, Any]] = {"database": database, "broker": _check_broker()}
    if database["ok"]:
        checks["worker"] = _check_heartbeat("worker")
        checks["beat"] = _check_heartbeat("beat")
    else:
        checks["worker"] = checks["beat"] = {"ok": False, "error": "database is down"}
    healthy = all(check["ok"] for check in checks.values())
    status = 200 if healthy else 503
    if not (request.user.is_authenticated and request.user.is_staff):
        # Anonymous probes (load balancers, compose) need the answer, not what is inside.
        return JsonResponse({"status": "ok" if healthy else "unhealthy"}, status=status)
    body = {
        "status": "ok" if healthy else "unhealthy",
        "version": settings.HUBCOURSE_VERSION,
        **checks,
    }
    return JsonResponse(body, status=status)
