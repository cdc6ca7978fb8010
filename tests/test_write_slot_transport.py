"""The write slot's HTTP transport (tasks/busy_retry.py, ``BusyRetryTransport``): a busy
Prefect server (``503``, SQLite's "database is locked") is asked again after a short pause
instead of Prefect's client's 2 s back-off; every other answer passes at once. Against a real
HTTP server on 127.0.0.1 (tests/fixture_site.py)."""

from __future__ import annotations

import httpx
from fixture_site import FixtureSite
from newsledger.tasks.busy_retry import BusyRetryTransport
from newsledger.tasks.prefect_tasks import _slot_client_settings


def client(attempts: int = 8) -> httpx.Client:
    return httpx.Client(transport=BusyRetryTransport(httpx.HTTPTransport(), attempts=attempts))


def test_a_busy_answer_is_asked_again_until_the_server_answers(site: FixtureSite) -> None:
    site.add_failures("/busy", failures=2, status=503)
    with client() as http:
        response = http.get(site.url("/busy"))
    assert response.status_code == 200
    assert site.count("/busy") == 3


def test_a_server_busy_for_good_gets_its_last_answer_passed_on(site: FixtureSite) -> None:
    site.add_failures("/down", failures=-1, status=503)
    with client(attempts=3) as http:
        response = http.get(site.url("/down"))
    assert response.status_code == 503
    assert site.count("/down") == 3


def test_other_errors_pass_at_once(site: FixtureSite) -> None:
    site.add_failures("/error", failures=1, status=500)
    with client() as http:
        response = http.get(site.url("/error"))
    assert response.status_code == 500
    assert site.count("/error") == 1


def test_the_slot_client_settings_carry_the_transport(site: FixtureSite) -> None:
    site.add_failures("/busy-once", failures=1, status=503)
    with httpx.Client(**_slot_client_settings()) as http:
        response = http.get(site.url("/busy-once"))
    assert response.status_code == 200
    assert site.count("/busy-once") == 2
