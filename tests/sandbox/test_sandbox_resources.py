"""Sandbox subscribers, groups, dedicated numbers and deliveries over loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from mta_notebook import sandbox
from mta_notebook.contract.assumptions import SMS_OVER_160
from mta_notebook.contract.events import DEFAULT_PAYLOAD_VERSION

KEY = "res-key"


@pytest.fixture
def sb(start_sandbox: Any) -> sandbox.Sandbox:
    started: sandbox.Sandbox = start_sandbox(api_key=KEY, seed=5, time_scale=1.0)
    return started


def test_subscriber_upsert_get_patch_delete(http: httpx.Client) -> None:
    created = http.post(
        "/subscribers",
        json={"e164Number": "+13125550001", "firstName": "Ann", "email": "Ann@Example.com"},
    )
    assert created.status_code == 200
    sub = created.json()["data"]
    assert created.json()["message"] == "Subscriber created"
    assert sub["e164Number"] == "+13125550001"
    assert sub["number"] == 3125550001
    assert sub["firstName"] == "Ann"
    again = http.post("/subscribers", json={"number": "312-555-0001", "lastName": "Lee"})
    assert again.json()["message"] == "Subscriber updated"
    assert again.json()["data"]["id"] == sub["id"]
    for key in (str(sub["id"]), "+13125550001", "3125550001", "ann@example.com"):
        got = http.get(f"/subscribers/{key}")
        assert got.status_code == 200, key
        assert got.json()["data"]["lastName"] == "Lee"
    patched = http.patch(f"/subscribers/{sub['id']}", json={"firstName": "Anne"})
    assert patched.json()["data"]["firstName"] == "Anne"
    assert http.delete("/subscribers/+13125550001").status_code == 200
    missing = http.get(f"/subscribers/{sub['id']}")
    assert missing.status_code == 404
    assert missing.json()["name"] == "NotFoundError"
    bad = http.post("/subscribers", json={"firstName": "Nobody"})
    assert bad.status_code == 400
    assert "number" in bad.json()["message"]


def test_subscriber_list_pages_from_zero(http: httpx.Client) -> None:
    records = [{"e164Number": f"+1312555{i:04d}", "firstName": f"F{i}"} for i in range(7)]
    assert http.post("/subscribers/bulk", json=records).status_code == 200
    page0 = http.get("/subscribers", params={"page": 0, "pageSize": 3}).json()["data"]
    page2 = http.get("/subscribers", params={"page": 2, "pageSize": 3}).json()["data"]
    assert (page0["page"], page0["pageSize"], page0["total"]) == (0, 3, 7)
    assert [r["firstName"] for r in page0["rows"]] == ["F0", "F1", "F2"]
    assert [r["firstName"] for r in page2["rows"]] == ["F6"]
    assert http.get("/subscribers", params={"pageSize": 1001}).status_code == 400
    assert http.get("/subscribers", params={"page": -1}).status_code == 400
    found = http.get("/subscribers", params={"query": "f3"}).json()["data"]
    assert found["total"] == 1


def test_bulk_create_only_and_per_record_errors(http: httpx.Client) -> None:
    http.post("/subscribers", json={"e164Number": "+13125550001"})
    records = [
        {"e164Number": "+13125550001", "firstName": "Exists"},
        {"e164Number": "+13125550002", "firstName": "New"},
        {"e164Number": "not a phone"},
        {"firstName": "no contact"},
        {"e164Number": "+13125550003", "groupIds": [99]},
    ]
    data = http.post("/subscribers/bulk", params={"createOnly": "true"}, json=records).json()
    data = data["data"]
    assert data["totalRecordCount"] == 5
    assert data["createdRecordCount"] == 1
    assert data["errorRecordCount"] == 4
    assert [e["index"] for e in data["errorRecords"]] == [0, 2, 3, 4]
    assert "already exists" in data["errorRecords"][0]["error"]
    assert data["errorRecords"][0]["firstName"] == "Exists"  # the request fields are kept
    upsert = http.post("/subscribers/bulk", json=records[:2]).json()["data"]
    assert upsert["updatedRecordCount"] == 2
    assert upsert["createdRecordCount"] == 0
    patch = http.patch("/subscribers/bulk", json=[{"e164Number": "+13125550009"}]).json()
    assert patch["data"]["errorRecordCount"] == 1
    too_many = [{"e164Number": "+13125550001"}] * 1001
    resp = http.post("/subscribers/bulk", json=too_many)
    assert resp.status_code == 400
    assert "1000" in resp.json()["message"]
    assert http.post("/subscribers/bulk", json={"a": 1}).status_code == 400
    wrapped = {"subscribers": [{"e164Number": "+13125550005"}]}  # the body is an array
    assert http.post("/subscribers/bulk", json=wrapped).status_code == 400


def test_groups_and_sending_to_them(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    group = http.post("/groups", json={"name": "VIP"}).json()["data"]
    assert http.post("/groups", json={}).status_code == 400
    ids = []
    for i in range(3):
        resp = http.post("/subscribers", json={"e164Number": f"+1312555000{i}"})
        ids.append(resp.json()["data"]["id"])
    add = http.post(f"/groups/{group['id']}/subscribers", json={"subscriberId": ids[0]})
    assert add.status_code == 200
    one_by_list = {"subscriberIds": ids[1:]}  # each endpoint takes its documented field only
    assert http.post(f"/groups/{group['id']}/subscribers", json=one_by_list).status_code == 400
    many_by_one = {"subscriberId": ids[1]}
    bulk_url = f"/groups/{group['id']}/subscribers/bulk-create"
    assert http.post(bulk_url, json=many_by_one).status_code == 400
    http.post(bulk_url, json={"subscriberIds": ids[1:]})
    listed = http.get("/groups").json()["data"]
    assert listed["rows"][0]["memberCount"] == 3
    assert http.get(f"/groups/{group['id']}").json()["data"]["name"] == "VIP"
    assert http.post("/groups/999/subscribers", json={"subscriberId": ids[0]}).status_code == 404
    assert http.get(f"/subscribers/{ids[0]}").json()["data"]["groups"][0]["name"] == "VIP"
    resp = http.post(
        "/send", json={"groups": [group["id"]], "subscriberIds": [ids[0]], "message": "g"}
    )
    assert resp.json()["data"]["totalSent"] == 3  # deduplicated
    http.post("/subscribers", json={"e164Number": "+13125550099"})
    assert (
        http.post("/send", json={"allSubscribers": True, "message": "all"}).json()["data"][
            "totalSent"
        ]
        == 4
    )
    assert len(sb.ground_truth()) == 7
    gid = group["id"]
    assert http.delete(f"/groups/{gid}/subscribers/{ids[0]}").status_code == 200
    bulk = http.post(f"/groups/{gid}/subscribers/bulk-delete", json={"subscriberIds": ids[1:2]})
    assert bulk.json()["data"]["memberCount"] == 1
    assert http.patch(f"/groups/{gid}", json={"name": "VVIP"}).json()["data"]["name"] == "VVIP"
    assert http.delete(f"/groups/{gid}").status_code == 200
    assert http.get(f"/groups/{gid}").status_code == 404
    assert http.get(f"/subscribers/{ids[2]}").json()["data"]["groups"] == []


def test_send_creates_unknown_subscribers(http: httpx.Client) -> None:
    http.post("/send", json={"subscribers": ["+13125550077", "new@example.com"], "message": "x"})
    subs = http.get("/subscribers").json()["data"]["rows"]
    assert {s["e164Number"] for s in subs} == {"+13125550077", None}
    assert {s["email"] for s in subs} == {None, "new@example.com"}


def test_dedicated_numbers_show_identities(http: httpx.Client) -> None:
    numbers = {n["id"]: n for n in http.get("/dedicated-numbers").json()["data"]}
    assert numbers[100] == {
        "id": 100,
        "number": "+13125550100",
        "senderName": None,
        "senderIdentityEnabled": None,
    }
    assert numbers[101]["senderName"] == "Acme"
    assert numbers[102]["senderName"] == "Acme Deals"
    assert numbers[103]["senderIdentityEnabled"] is False


def test_deliveries_filters_and_paging(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.configure(outcomes={"sms": {"delivered": 0.5, "undelivered": 0.5}})
    phones = [f"+1312555{i:04d}" for i in range(10)]
    first = http.post("/send", json={"subscribers": phones, "message": "a", "externalId": "x-1"})
    http.post("/send", json={"subscribers": phones[:4], "message": "b", "externalId": "x-2"})
    before = http.get("/deliveries").json()["data"]
    assert before["total"] == 14
    assert {r["status"] for r in before["rows"]} == {"sent"}
    sb.settle()
    truth = sb.ground_truth()
    rows = http.get("/deliveries", params={"pageSize": 1000}).json()["data"]["rows"]
    assert [(r["number"], r["status"]) for r in rows] == [(t["phone"], t["status"]) for t in truth]
    assert set(rows[0]) == {"messageId", "externalId", "number", "status", "date"}
    # /deliveries has no externalId filter: an undocumented parameter is ignored
    by_ext = http.get("/deliveries", params={"externalId": "x-2"}).json()["data"]
    assert by_ext["total"] == 14
    delivered = http.get("/deliveries", params={"filters[status]": "delivered"}).json()["data"]
    assert delivered["total"] == sum(t["status"] == "delivered" for t in truth)
    assert 0 < delivered["total"] < 14
    paged = http.get("/deliveries", params={"page": 1, "pageSize": 5}).json()["data"]
    assert (paged["page"], paged["pageSize"], len(paged["rows"])) == (1, 5, 5)
    today = datetime.now(timezone.utc).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    window = {"filters[startDate]": today.isoformat(), "filters[endDate]": today.isoformat()}
    assert http.get("/deliveries", params=window).json()["data"]["total"] == 14
    future = http.get("/deliveries", params={"filters[startDate]": tomorrow}).json()["data"]
    assert future["total"] == 0
    assert http.get("/deliveries", params={"filters[startDate]": "12/01/2026"}).status_code == 400
    assert http.get("/deliveries", params={"filters[status]": "lost"}).status_code == 400
    message_id = first.json()["data"]["messageId"]
    x1 = [r for r in rows if r["externalId"] == "x-1"]  # matched client-side
    assert {r["messageId"] for r in x1} == {message_id}
    assert len(x1) == 10
    desc = http.get("/deliveries", params={"sortDirection": "DESC"}).json()["data"]["rows"]
    assert desc[0]["externalId"] == "x-2"


def test_admin_identities_and_config(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.set_identities([{"name": "Beta", "longcodeId": 104, "number": "+13125550104"}])
    names = [i["name"] for i in http.get(sb.root_url + "/_sandbox/identities").json()["data"]]
    assert names == ["Acme", "Acme Deals", "Legacy Brand", "Beta"]
    sb.set_identities([{"name": "Solo", "longcodeId": 105, "number": "+13125550105"}], replace=True)
    numbers = [n["id"] for n in http.get("/dedicated-numbers").json()["data"]]
    assert numbers == [100, 105]
    bad = http.post(sb.root_url + "/_sandbox/identities", json=[{"name": "x"}])
    assert bad.status_code == 400
    cfg = http.get(sb.root_url + "/_sandbox/config").json()["data"]
    assert cfg["webhook_secret"] == "***"
    assert (cfg["payload_version"], cfg["webhook_date_format"]) == (DEFAULT_PAYLOAD_VERSION, "utc")
    assert cfg["sms_over_160"] == SMS_OVER_160
    sb.configure(landlines=["3125550007"], payload_version="V1")
    cfg = http.get(sb.root_url + "/_sandbox/config").json()["data"]
    assert (cfg["landlines"], cfg["payload_version"]) == (["+13125550007"], "V1")
    assert http.post(sb.root_url + "/_sandbox/config", json={"reply_rate": "x"}).status_code == 400
