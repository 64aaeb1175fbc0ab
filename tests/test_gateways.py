"""The Twilio gateway, driven through the twilio SDK's own client with a stand-in for the network."""

import json
import logging
from datetime import datetime, timedelta, timezone
from http.client import RemoteDisconnected

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ProtocolError

from bot.gateways import ConsoleGateway, SendError, TwilioGateway

SID = "AC" + "1" * 32


class Network(HttpClient):
    """Plays Twilio's side: canned answers in order, and a record of every request."""

    def __init__(self, *answers):
        super().__init__(logging.getLogger("test"), False, timeout=10)
        self.answers = list(answers)
        self.requests = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "url": url, "params": params, "data": data, "timeout": timeout})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def message_json(sid="SM" + "a" * 32, status="queued", body="hi", to="+12125550143", created=None):
    return json.dumps({"sid": sid, "status": status, "body": body, "to": to, "from": "+12125550199",
                       "account_sid": SID, "date_created": created or "Tue, 17 Nov 2026 15:00:00 +0000"})


def gateway(network, **kwargs):
    return TwilioGateway(account_sid=SID, auth_token="t", client=Client(SID, "t", http_client=network), **kwargs)


def test_a_text_goes_through_the_messaging_service_with_a_status_callback():
    network = Network(Response(201, message_json()))
    sent = gateway(network, messaging_service_sid="MG" + "2" * 32).send(
        "+12125550143", "hi", reference="msg-7", status_callback="https://aftercare.example.org/sms/status?m=7")
    assert (sent.sid, sent.status) == ("SM" + "a" * 32, "queued")
    request = network.requests[0]
    assert request["method"] == "POST" and request["url"].endswith(f"/Accounts/{SID}/Messages.json")
    assert request["data"] == {"To": "+12125550143", "Body": "hi", "MessagingServiceSid": "MG" + "2" * 32,
                               "StatusCallback": "https://aftercare.example.org/sms/status?m=7"}


def test_without_a_messaging_service_the_from_number_is_used():
    network = Network(Response(201, message_json()))
    gateway(network, from_number="+12125550199").send("+12125550143", "hi", reference="msg-1")
    assert network.requests[0]["data"]["From"] == "+12125550199"


def test_the_http_timeout_is_finite():
    real = TwilioGateway(account_sid=SID, auth_token="t", from_number="+12125550199", timeout=7.5)
    assert real.client.http_client.timeout == 7.5


@pytest.mark.parametrize("status, transient", [(500, True), (503, True), (429, True), (400, False), (401, False)])
def test_server_errors_and_rate_limits_are_retried_and_client_errors_are_not(status, transient):
    network = Network(Response(status, json.dumps({"code": 20003, "message": "nope", "status": status})))
    with pytest.raises(SendError) as failed:
        gateway(network, from_number="+12125550199").send("+12125550143", "hi", reference="msg-1")
    assert failed.value.transient is transient and not failed.value.uncertain


def test_an_opted_out_recipient_comes_back_with_twilios_code():
    network = Network(Response(400, json.dumps({"code": 21610, "message": "unsubscribed", "status": 400})))
    with pytest.raises(SendError) as failed:
        gateway(network, from_number="+12125550199").send("+12125550143", "hi", reference="msg-1")
    assert (failed.value.code, failed.value.transient) == (21610, False)


def test_a_connect_timeout_surely_did_not_send_but_a_read_timeout_might_have():
    with pytest.raises(SendError) as connect:
        gateway(Network(requests.exceptions.ConnectTimeout()), from_number="+1").send("+12125550143", "x",
                                                                                     reference="m")
    assert connect.value.transient and not connect.value.uncertain
    with pytest.raises(SendError) as read:
        gateway(Network(requests.exceptions.ReadTimeout()), from_number="+1").send("+12125550143", "x", reference="m")
    assert read.value.uncertain


def refused() -> requests.exceptions.ConnectionError:
    """What requests raises when nothing listens at the address: a real refused connection."""
    try:
        requests.post("http://127.0.0.1:1/2010-04-01/Accounts/AC1/Messages.json", timeout=2)
    except requests.exceptions.ConnectionError as exc:
        return exc
    raise AssertionError("port 1 answered")


def test_a_refused_connection_surely_did_not_send_so_it_is_retried_not_held_in_doubt():
    with pytest.raises(SendError) as failed:
        gateway(Network(refused()), from_number="+1").send("+12125550143", "x", reference="m")
    assert failed.value.transient and not failed.value.uncertain


def test_a_connection_dropped_after_the_request_went_might_have_sent():
    dropped = requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed")))
    with pytest.raises(SendError) as failed:
        gateway(Network(dropped), from_number="+1").send("+12125550143", "x", reference="m")
    assert failed.value.uncertain and not failed.value.transient


def test_lookup_finds_a_text_that_went_by_recipient_and_body_since_the_claim():
    page = json.dumps({"messages": [json.loads(message_json(sid="SMold", body="hi", created="Mon, 16 Nov 2026 15:00:00 +0000")),
                                    json.loads(message_json(sid="SMother", body="something else")),
                                    json.loads(message_json(sid="SMmine", body="hi", status="delivered"))],
                       "next_page_uri": None, "page": 0, "page_size": 50})
    network = Network(Response(200, page))
    found = gateway(network, from_number="+12125550199").lookup(
        "+12125550143", "hi", since=datetime(2026, 11, 17, 14, 59, tzinfo=timezone.utc), reference="msg-1")
    assert (found.sid, found.status) == ("SMmine", "delivered")
    assert network.requests[0]["params"]["To"] == "+12125550143"


def test_lookup_says_none_when_nothing_went():
    network = Network(Response(200, json.dumps({"messages": [], "next_page_uri": None, "page": 0, "page_size": 50})))
    assert gateway(network, from_number="+1").lookup("+12125550143", "hi", since=datetime.now(timezone.utc),
                                                     reference="m") is None


def test_the_console_gateway_remembers_across_instances(tmp_path):
    first = ConsoleGateway(tmp_path / "sms.jsonl")
    sent = first.send("+12125550143", "hola", reference="msg-3")
    again = ConsoleGateway(tmp_path / "sms.jsonl")  # a new process after a crash
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    assert again.lookup("+12125550143", "hola", since=since, reference="msg-3").sid == sent.sid
    assert again.lookup("+12125550143", "hola", since=since, reference="msg-4") is None
