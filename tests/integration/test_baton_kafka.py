"""End-to-end tests: the real baton binary against a real Kafka broker (see README.md).

Each test has its own topics, consumer group and data directory. Each one asserts the exact
outputs: which ids, kinds, accounts and assignees appear, and how many, with nothing extra.
To know when baton has processed what was sent, the tests wait for
baton_events_consumed_total. Baton publishes a commit's outputs before it counts the commit, so
the outputs are already on the broker when the count is reached. The reader then reads on for a
couple of seconds, so that an unexpected extra record would show up.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import shutil
import subprocess
import time

import pytest

import harness
from harness import JSON_CT, PROTO_CT, RULE, decode_output, handoff_id

PRICING = "https://www.example.com/en/pricing?plan=team"


def crm_setup(inputs, account_id, name, tier, ae, contacts, fmt="json", stage="Engaged"):
    """Sends an account's contacts, then its account record. Returns the number sent."""
    n = 0
    for i, (cid, email, full_name, title, role) in enumerate(contacts):
        inputs.send(inputs.contact(f"crm-{cid}", 0, account_id, cid, email, full_name, title,
                                   role), "protobuf" if i % 2 else "json")
        n += 1
    inputs.send(inputs.account(f"crm-{account_id}", 0.5, account_id, name, tier, ae=ae,
                               sdr="sdr-tom", marketing="mkt-priya",
                               selection_reason="expansion: new EU data centre", icp_fit=87.5,
                               stage=stage), fmt)
    return n + 1


def ids(records, header="baton-output-id"):
    return sorted(r.header(header) for r in records)


def check_output_headers(record, kind, output_id, account_id, content_type=PROTO_CT):
    assert record.key == account_id.encode()
    assert record.header("content-type") == content_type
    assert record.header("baton-output-type") == kind
    assert record.header("baton-output-id") == output_id


def describe(records):
    return [(r.topic, r.partition, r.offset, r.key, r.header_list()) for rs in records.values()
            for r in rs]


def test_handoff_end_to_end(pb, inputs, topics, outputs, make_baton):
    ev, out = pb.events, pb.outputs
    baton = make_baton().start()

    nw, gx = "acc-northwind", "acc-globex"
    dana = ("c-nw-dana", "dana.reyes@northwind.example", "Dana Reyes", "VP Operations",
            "DECISION_MAKER")
    li = ("c-nw-li", "li.chen@northwind.example", "Li Chen", "Head of IT", "TECHNICAL_EVALUATOR")
    sam = ("c-gx-sam", "sam.ortiz@globex.example", "Sam Ortiz", "CFO", "FINANCE")
    crm = crm_setup(inputs, nw, "Northwind Robotics", "TIER_1", "ae-maria", [dana, li], "json")
    crm += crm_setup(inputs, gx, "Globex Logistics", "TIER_2", "ae-david", [sam], "protobuf")
    inputs.flush()
    # Contacts must be known before the engagement that names a contact by email arrives.
    baton.wait_consumed(topics.crm, crm)

    # Two opens by Dana (the second by her email, in other letter case), the second re-sent as
    # a duplicate, a blog visit that is not a pricing page, and Li's pricing visit: 2 distinct
    # opens, so nothing yet. The same at the Tier 2 account.
    sends = [
        (inputs.open("nw-open-1", 10, nw, contact_id="c-nw-dana"), "json"),
        (inputs.visit("nw-blog", 15, nw, "c-nw-dana", "https://www.example.com/blog/pricing-tips"),
         "protobuf"),
        (inputs.open("nw-open-2", 20, nw, contact_email="Dana.Reyes@Northwind.example"),
         "protobuf"),
        (inputs.open("nw-open-2", 20, nw, contact_email="Dana.Reyes@Northwind.example"), "json"),
        (inputs.visit("nw-pricing", 30, nw, "c-nw-li", PRICING), "json"),
        (inputs.open("gx-open-1", 10, gx, contact_id="c-gx-sam"), "protobuf"),
        (inputs.open("gx-open-2", 20, gx, contact_id="c-gx-sam"), "json"),
        (inputs.visit("gx-pricing", 30, gx, "c-gx-sam", PRICING), "protobuf"),
    ]
    for msg, fmt in sends:
        inputs.send(msg, fmt)
    inputs.flush()
    m = baton.wait_consumed(topics.engagement, len(sends))
    assert m.value("baton_events_duplicate_total") == 1, m.dump()
    early = outputs.read({}, settle=1.0)
    assert sum(len(rs) for rs in early.values()) == 0, describe(early)

    # The third distinct open at each account: only the Tier 1 account hands off.
    inputs.send(inputs.open("nw-open-3", 40, nw, contact_id="c-nw-dana"), "json")
    inputs.send(inputs.open("gx-open-3", 40, gx, contact_id="c-gx-sam"), "protobuf")
    inputs.flush()
    m = baton.wait_consumed(topics.engagement, len(sends) + 2)

    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert len(got[topics.routed_leads]) == 1, describe(got)
    assert len(got[topics.alerts]) == 1, describe(got)
    assert got[topics.deadletter] == [], describe(got)

    hid = handoff_id(nw, "nw-open-3")
    lead_rec, alert_rec = got[topics.routed_leads][0], got[topics.alerts][0]
    check_output_headers(lead_rec, "RoutedLead", f"lead:{hid}", nw)
    check_output_headers(alert_rec, "Alert", f"alert:handoff:{hid}", nw)

    lead = decode_output(pb, lead_rec)
    assert lead.lead_id == f"lead:{hid}" and lead.handoff_id == hid
    assert (lead.account_id, lead.account_name, lead.tier) == (nw, "Northwind Robotics",
                                                               ev.TIER_1)
    assert (lead.selection_reason, lead.icp_fit, lead.stage) == (
        "expansion: new EU data centre", 87.5, "Engaged")
    assert (lead.assignee_id, lead.assignee_role) == ("ae-maria", "AE")
    assert list(lead.routing_path) == ["Tier 1 SALES_READY", "account AE ae-maria"]
    assert (lead.rule_name, lead.rule_version, lead.qualification_level) == (RULE, 1,
                                                                             out.SALES_READY)
    # The watermark is the third open (minute 40); the pricing visit was at minute 30.
    assert lead.reason.startswith("3 email opens by contact")
    assert lead.reason == ("3 email opens by contact c-nw-dana in 14d; "
                           "pricing page visit 10m ago; Tier 1")
    # The records that made the rule hold, in event-time order.
    assert [t.event_id for t in lead.trigger_events] == [
        "nw-open-1", "nw-open-2", "nw-pricing", "nw-open-3"]
    assert [t.type for t in lead.trigger_events] == [ev.EMAIL_OPEN] * 2 + [ev.PAGE_VISIT,
                                                                           ev.EMAIL_OPEN]
    assert [t.contact_id for t in lead.trigger_events] == ["c-nw-dana"] * 2 + ["c-nw-li",
                                                                              "c-nw-dana"]
    assert lead.trigger_events[2].url == PRICING
    assert lead.trigger_events[3].event_time.seconds == inputs.at(40)
    assert (lead.contact.contact_id, lead.contact.email, lead.contact.full_name,
            lead.contact.title, lead.contact.role) == (
        "c-nw-dana", "dana.reyes@northwind.example", "Dana Reyes", "VP Operations",
        ev.DECISION_MAKER)
    s = lead.engagement
    assert (s.window_days, s.email_opens, s.page_visits, s.pricing_page_visits,
            s.engaged_contacts) == (14, 3, 2, 1, 2)
    assert list(s.roles_engaged) == [ev.DECISION_MAKER, ev.TECHNICAL_EVALUATOR]
    assert lead.triggered_at.seconds == inputs.at(40)
    assert (lead.owners.ae_id, lead.owners.sdr_id, lead.owners.marketing_owner_id) == (
        "ae-maria", "sdr-tom", "mkt-priya")
    assert "Northwind Robotics" in lead.recommended_message

    alert = decode_output(pb, alert_rec)
    assert alert.alert_id == f"alert:handoff:{hid}"
    assert (alert.kind, alert.severity, alert.account_id, alert.handoff_id) == (
        out.HANDOFF, out.INFO, nw, hid)
    assert list(alert.recipients) == ["ae-maria"]
    assert (alert.tier, alert.rule_name, alert.escalation_level) == (ev.TIER_1, RULE, 0)
    assert alert.occurred_at.seconds == inputs.at(40)
    assert alert.summary == ("Northwind Robotics (Tier 1) is sales-ready for AE ae-maria: "
                             + lead.reason)
    assert "Dana" not in alert.summary and "dana.reyes" not in alert.summary  # no personal data

    m = baton.metrics()
    assert m.value("baton_events_consumed_total", topic=topics.crm) == crm, m.dump()
    assert m.value("baton_events_consumed_total", topic=topics.engagement) == len(sends) + 2
    assert m.value("baton_events_duplicate_total") == 1, m.dump()
    assert m.value("baton_handoffs_total", rule=RULE, tier="TIER_1") == 1, m.dump()
    assert m.value("baton_handoffs_total") == 1, m.dump()
    assert m.value("baton_routed_leads_total") == 1, m.dump()
    assert m.value("baton_alerts_total", kind="HANDOFF") == 1, m.dump()
    assert m.value("baton_alerts_total") == 1, m.dump()
    assert m.value("baton_events_deadlettered_total") == 0, m.dump()
    assert m.value("baton_commits_total") >= 1, m.dump()
    baton.stop()


def test_malformed_message_is_deadlettered_and_neighbours_processed(pb, inputs, topics, outputs,
                                                                    make_baton):
    baton = make_baton().start()
    acct = "acc-initech"
    crm = crm_setup(inputs, acct, "Initech Systems", "TIER_1", "ae-sofia",
                    [("c-in-peter", "peter.gibbons@initech.example", "Peter Gibbons",
                      "Director of Engineering", "CHAMPION")])
    inputs.flush()
    baton.wait_consumed(topics.crm, crm)

    # Everything has the same key, so it all goes to one engagement partition, in this order.
    bad_json = b'{"event_id": "in-bad", "event_time": "2026-11-20T10:00:00Z", "source": '
    no_id = inputs.open("", 21, acct, contact_id="c-in-peter")
    no_id_value, no_id_headers = inputs.encode(no_id, "json")
    assert b"event_id" not in no_id_value
    sent = [
        inputs.send(inputs.open("in-open-1", 10, acct, contact_id="c-in-peter"), "json"),
        inputs.send(inputs.open("in-open-2", 20, acct, contact_id="c-in-peter"), "protobuf"),
        inputs.send_raw(topics.engagement, acct, bad_json,
                        [("content-type", JSON_CT), ("x-trace-id", "trace-42")]),
        inputs.send_raw(topics.engagement, acct, no_id_value, no_id_headers),
        inputs.send(inputs.open("in-open-3", 30, acct, contact_id="c-in-peter"), "json"),
        inputs.send(inputs.visit("in-pricing", 40, acct, "c-in-peter", PRICING), "protobuf"),
    ]
    inputs.flush()
    partitions = {d.partition for d in sent}
    assert len(partitions) == 1, partitions
    partition = partitions.pop()
    assert [d.offset for d in sent] == sorted(d.offset for d in sent)
    m = baton.wait_consumed(topics.engagement, len(sent))

    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1, topics.deadletter: 2})
    assert len(got[topics.routed_leads]) == 1, describe(got)
    assert len(got[topics.alerts]) == 1, describe(got)
    assert len(got[topics.deadletter]) == 2, describe(got)

    # The handoff still happens, and it used the events on both sides of the bad ones.
    hid = handoff_id(acct, "in-pricing")
    check_output_headers(got[topics.routed_leads][0], "RoutedLead", f"lead:{hid}", acct)
    check_output_headers(got[topics.alerts][0], "Alert", f"alert:handoff:{hid}", acct)
    lead = decode_output(pb, got[topics.routed_leads][0])
    assert [t.event_id for t in lead.trigger_events] == [
        "in-open-1", "in-open-2", "in-open-3", "in-pricing"]
    assert lead.assignee_id == "ae-sofia"
    assert lead.reason.startswith("3 email opens by contact c-in-peter in 14d; ")
    alert = decode_output(pb, got[topics.alerts][0])
    assert (alert.kind, list(alert.recipients)) == (pb.outputs.HANDOFF, ["ae-sofia"])

    dead = sorted(got[topics.deadletter], key=lambda r: int(r.header("baton-source-offset")))
    for record, delivery, code in [(dead[0], sent[2], "bad_json"),
                                   (dead[1], sent[3], "missing_field")]:
        assert record.key == acct.encode()
        assert record.value == delivery.value  # the original bytes, unchanged
        headers = record.header_list()
        names = [k for k, _ in headers]
        assert len(names) == len(set(names)), headers
        reason = dict(headers).get("baton-error-reason", "")
        original = [(k, v.decode()) for k, v in delivery.headers]
        expected = original + [
            ("baton-error-code", code),
            ("baton-error-reason", reason),
            ("baton-source-topic", topics.engagement),
            ("baton-source-partition", str(partition)),
            ("baton-source-offset", str(delivery.offset)),
        ]
        assert sorted(headers) == sorted(expected), headers
        assert reason.startswith(f"{code}: "), reason
    assert dict(dead[0].header_list())["baton-error-reason"].startswith(
        "bad_json: not a valid baton.v1.EngagementEvent: ")
    assert dict(dead[1].header_list())["baton-error-reason"] == (
        "missing_field: event_id is required")

    m = baton.metrics()
    assert m.value("baton_events_deadlettered_total", reason="bad_json") == 1, m.dump()
    assert m.value("baton_events_deadlettered_total", reason="missing_field") == 1, m.dump()
    assert m.value("baton_events_deadlettered_total") == 2, m.dump()
    assert m.value("baton_events_consumed_total", topic=topics.engagement) == len(sent), m.dump()
    assert m.value("baton_handoffs_total", rule=RULE, tier="TIER_1") == 1, m.dump()
    assert m.value("baton_routed_leads_total") == 1, m.dump()
    baton.stop()


@pytest.mark.parametrize("data_dir", ["kept", "lost"])
def test_restart_keeps_state_and_does_not_hand_off_twice(pb, inputs, topics, outputs,
                                                         make_baton, data_dir):
    """With the data directory kept, run 3 resumes from its own checkpoint; with it lost (a
    new machine), run 3 rebuilds the state from the changelog topic first."""
    acct = "acc-umbrella"
    baton = make_baton()

    # Run 1: the account, two opens and a pricing visit. Nothing yet.
    baton.start()
    crm = crm_setup(inputs, acct, "Umbrella Analytics", "TIER_1", "ae-james",
                    [("c-um-alice", "alice.wong@umbrella.example", "Alice Wong", "CTO",
                      "DECISION_MAKER")])
    inputs.flush()
    baton.wait_consumed(topics.crm, crm)
    run1 = [
        inputs.send(inputs.open("um-open-1", 10, acct, contact_id="c-um-alice"), "json"),
        inputs.send(inputs.open("um-open-2", 20, acct, contact_id="c-um-alice"), "protobuf"),
        inputs.send(inputs.visit("um-pricing", 30, acct, "c-um-alice", PRICING), "json"),
    ]
    inputs.flush()
    baton.wait_consumed(topics.engagement, len(run1))
    early = outputs.read({}, settle=1.0)
    assert sum(len(rs) for rs in early.values()) == 0, describe(early)
    baton.stop()

    # Run 2, with the same data dir and group: the third open completes the rule from the
    # state run 1 stored.
    baton.start()
    inputs.send(inputs.open("um-open-3", 40, acct, contact_id="c-um-alice"), "json")
    inputs.flush()
    m = baton.wait_consumed(topics.engagement, 1)
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    hid = handoff_id(acct, "um-open-3")
    assert ids(got[topics.routed_leads]) == [f"lead:{hid}"], describe(got)
    assert ids(got[topics.alerts]) == [f"alert:handoff:{hid}"], describe(got)
    assert got[topics.deadletter] == [], describe(got)
    lead = decode_output(pb, got[topics.routed_leads][0])
    assert [t.event_id for t in lead.trigger_events] == [
        "um-open-1", "um-open-2", "um-pricing", "um-open-3"]
    m = baton.metrics()
    # Run 2 resumed after what run 1 committed: it consumed only the new event.
    assert m.value("baton_events_consumed_total", topic=topics.engagement) == 1, m.dump()
    assert m.value("baton_events_consumed_total", topic=topics.crm) == 0, m.dump()
    assert m.value("baton_handoffs_total", rule=RULE, tier="TIER_1") == 1, m.dump()
    baton.stop()

    # Run 3: more opens, another pricing visit and a re-sent third open. Nothing more.
    if data_dir == "lost":
        shutil.rmtree(baton.data_dir)
    baton.start()
    restored = baton.metrics().value("baton_changelog_restored_records_total")
    if data_dir == "lost":
        # The account's records, the directory entries and the input offsets, at least.
        assert restored >= 5, baton.metrics().dump()
    else:
        assert restored == 0, baton.metrics().dump()
        # Finding that nothing is left to restore takes no wait: the broker holds a fetch that
        # finds nothing for fetch.wait.max.ms (500 ms by default; the reader asks for 10).
        took = baton.metrics().value("baton_last_restore_seconds")
        assert 0 < took < 0.4, baton.metrics().dump()
    run3 = [
        inputs.send(inputs.open("um-open-4", 50, acct, contact_id="c-um-alice"), "protobuf"),
        inputs.send(inputs.open("um-open-5", 55, acct, contact_id="c-um-alice"), "json"),
        inputs.send(inputs.visit("um-pricing-2", 60, acct, "c-um-alice", PRICING), "json"),
        inputs.send(inputs.open("um-open-3", 40, acct, contact_id="c-um-alice"), "protobuf"),
    ]
    inputs.flush()
    m = baton.wait_consumed(topics.engagement, len(run3))
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert ids(got[topics.routed_leads]) == [f"lead:{hid}"], describe(got)
    assert ids(got[topics.alerts]) == [f"alert:handoff:{hid}"], describe(got)
    assert got[topics.deadletter] == [], describe(got)
    m = baton.metrics()
    assert m.value("baton_events_duplicate_total") == 1, m.dump()  # the re-sent um-open-3
    assert m.value("baton_events_consumed_total", topic=topics.engagement) == len(run3), m.dump()
    assert m.value("baton_events_consumed_total", topic=topics.crm) == 0, m.dump()
    assert m.value("baton_handoffs_total") == 0, m.dump()
    assert m.value("baton_routed_leads_total") == 0, m.dump()
    baton.stop()


def test_a_restart_reads_new_input_on_any_partition_at_once(pb, inputs, topics, make_baton):
    """librdkafka keeps one fetch per broker in flight, and a partition started while it is out
    waits for it. With the consumer's default fetch.wait.max.ms the broker held a first fetch
    that found nothing for 500 ms: from assignment to the first new event committed took 0.6 s
    instead of about 0.11 s in one restart of three, and 1.1 s instead of 0.28 s where the
    partition had never been read (the first round here). Baton asks for 50 ms."""
    baton = make_baton().start()
    account_on = {}  # input partition -> an account whose records go there
    for i in range(10 * harness.PARTITIONS):
        d = inputs.send(inputs.account(f"crm-acc-p{i}", 0, f"acc-p{i}", f"P {i}", "TIER_2"),
                        "protobuf")
        inputs.flush()
        account_on.setdefault(d.partition, f"acc-p{i}")
    assert sorted(account_on) == list(range(harness.PARTITIONS)), account_on
    baton.wait_consumed(topics.crm, 10 * harness.PARTITIONS)
    baton.stop()

    took = []
    for round_ in range(3):
        for partition, acct in sorted(account_on.items()):
            inputs.send(inputs.open(f"{acct}-open-{round_}", 10 + round_, acct), "protobuf")
            inputs.flush()
            baton.start(wait=False)
            deadline = time.monotonic() + 30
            assigned = None
            while True:
                m = baton.try_metrics()
                now = time.monotonic()
                assert now < deadline and baton.running, baton.log_tail(30)
                if m is not None and assigned is None and \
                        m.get("baton_assigned_partitions") == 3 * harness.PARTITIONS:
                    assigned = now
                if assigned is not None and m is not None and \
                        m.value("baton_events_consumed_total", topic=topics.engagement) >= 1:
                    break
                time.sleep(0.005)  # between scrapes, also while /metrics is not up yet
            took.append((partition, round(now - assigned, 3)))
            baton.stop()
    assert max(t for _, t in took) < 0.45, took


def test_output_format_json(pb, inputs, topics, outputs, make_baton):
    from google.protobuf import json_format

    baton = make_baton("--output-format", "json").start()
    acct = "acc-hooli"
    crm_setup(inputs, acct, "Hooli Cloud", "TIER_1", "ae-maria",
                    [("c-ho-gavin", "gavin.b@hooli.example", "Gavin Belson", "CEO",
                      "DECISION_MAKER")])
    for i, minute in enumerate((10, 20, 30)):
        inputs.send(inputs.open(f"ho-open-{i + 1}", minute, acct, contact_id="c-ho-gavin"),
                    "json")
    inputs.send(inputs.visit("ho-pricing", 40, acct, "c-ho-gavin", PRICING), "json")
    inputs.flush()
    baton.wait_consumed(topics.engagement, 4)

    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert len(got[topics.routed_leads]) == 1 and len(got[topics.alerts]) == 1, describe(got)
    assert got[topics.deadletter] == [], describe(got)
    # If the CRM records were applied after the engagement, the firing event is the account
    # upsert instead; either way there is exactly one handoff.
    lead_rec, alert_rec = got[topics.routed_leads][0], got[topics.alerts][0]
    lead_json, alert_json = json.loads(lead_rec.value), json.loads(alert_rec.value)
    hid = lead_json["handoff_id"]
    assert hid in (handoff_id(acct, "ho-pricing"), handoff_id(acct, f"crm-{acct}"))
    check_output_headers(lead_rec, "RoutedLead", f"lead:{hid}", acct, JSON_CT)
    check_output_headers(alert_rec, "Alert", f"alert:handoff:{hid}", acct, JSON_CT)

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    for doc in (lead_json, alert_json):
        camel = [k for k in keys(doc) if k != k.lower()]
        assert not camel, f"not snake_case: {camel}"
    assert lead_json["lead_id"] == f"lead:{hid}"
    assert (lead_json["account_id"], lead_json["assignee_id"], lead_json["assignee_role"]) == (
        acct, "ae-maria", "AE")
    assert lead_json["tier"] == "TIER_1" and lead_json["rule_name"] == RULE
    assert len(lead_json["trigger_events"]) == 4
    assert lead_json["contact"]["contact_id"] == "c-ho-gavin"
    assert (alert_json["alert_id"], alert_json["kind"], alert_json["recipients"]) == (
        f"alert:handoff:{hid}", "HANDOFF", ["ae-maria"])
    # Both parse strictly as their messages (unknown fields would be an error).
    json_format.Parse(lead_rec.value, pb.outputs.RoutedLead())
    json_format.Parse(alert_rec.value, pb.outputs.Alert())
    baton.stop()


def assert_hands_off_once(baton, inputs, topics, outputs, name: str) -> None:
    """A Tier 1 account `acc-<name>` (its CRM records first, waited for), then 3 opens and a
    pricing visit: exactly one lead and one HANDOFF alert, with the expected ids. The baton must
    not have consumed CRM records before."""
    acct = f"acc-{name}"
    crm_setup(inputs, acct, f"{name} Corp", "TIER_1", "ae-james",
              [(f"c-{name}", f"ann@{name}.example", "Ann Lee", "CTO", "DECISION_MAKER")])
    inputs.flush()
    baton.wait_consumed(topics.crm, 2)
    for i in range(3):
        inputs.send(inputs.open(f"{name}-open-{i}", 10 + i, acct, contact_id=f"c-{name}"), "json")
    inputs.send(inputs.visit(f"{name}-pricing", 20, acct, f"c-{name}", PRICING), "json")
    inputs.flush()
    hid = handoff_id(acct, f"{name}-pricing")
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert ids(got[topics.routed_leads]) == [f"lead:{hid}"], describe(got)
    assert ids(got[topics.alerts]) == [f"alert:handoff:{hid}"], describe(got)


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs, to fill up. Skips where mounting is not allowed (not root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory) -> None:
    """Writes a filler file until the file system is full."""
    chunk = b"\0" * (1 << 20)
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_stops_progress_and_recovers_with_nothing_lost_or_doubled(
        pb, inputs, topics, outputs, make_baton, small_disk):
    acct = "acc-diskfull"
    # A small write buffer (RocksDB preallocates write-ahead log space by its size), and a
    # free-space floor that fits a 32 MiB disk.
    baton = make_baton("--write-buffer-mb", "1", "--min-free-disk-mb", "4")
    baton.data_dir = small_disk / "data"
    baton.start()
    crm = crm_setup(inputs, acct, "Diskfull Corp", "TIER_1", "ae-james",
                    [("c-df-ann", "ann@diskfull.example", "Ann Lee", "CTO", "DECISION_MAKER")])
    inputs.flush()
    baton.wait_consumed(topics.crm, crm)

    # Fill the disk, then stream engagement (every 10th record invalid, so the units have
    # outputs: dead letters) until a store write is refused. The failing unit's transaction has
    # committed: Baton stops consuming and committing, reports it, and stays up.
    fill(small_disk)
    sent = 0
    failed = lambda m: m.value("baton_commit_failures_total", stage="store") >= 1
    while not failed(baton.metrics()):
        assert sent < 200_000, "no store write refused on a full disk"
        for _ in range(500):
            if sent % 10 == 0:
                inputs.send_raw(topics.engagement, f"acc-flood-{sent % 200}", b"{not json",
                                [("content-type", JSON_CT)])
            else:
                inputs.send(inputs.open(f"flood-{sent}", 5, f"acc-flood-{sent % 200}",
                                        contact_id="c-fl"), "protobuf")
            sent += 1
        inputs.flush()
    baton.wait_metrics("baton_up 0", lambda m: m.value("baton_up") == 0)

    # While stopped, the events of a handoff arrive.
    for i in range(3):
        inputs.send(inputs.open(f"df-open-{i}", 10 + i, acct, contact_id="c-df-ann"), "json")
    inputs.send(inputs.visit("df-pricing", 20, acct, "c-df-ann", PRICING), "json")
    inputs.flush()

    (small_disk / "filler").unlink()
    baton.wait_metrics("baton_up 1 again", lambda m: m.value("baton_up") == 1, timeout=60)
    inputs.send(inputs.open("df-open-0", 10, acct, contact_id="c-df-ann"), "json")  # re-sent
    inputs.flush()
    hid = handoff_id(acct, "df-pricing")
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1, topics.deadletter: sent // 10},
                       timeout=60)
    assert ids(got[topics.routed_leads]) == [f"lead:{hid}"], describe(got)
    assert ids(got[topics.alerts]) == [f"alert:handoff:{hid}"], describe(got)
    # Every invalid record dead-lettered once: the unit that failed in the store was caught up
    # from the changelog, not processed again.
    places = [r.header("baton-source-offset") + "@" + r.header("baton-source-partition")
              for r in got[topics.deadletter]]
    per_partition = collections.Counter(p.split("@")[1] for p in places)
    assert len(places) == len(set(places)) == sent // 10, (
        f"{len(places)} dead letters ({len(set(places))} distinct) of {sent // 10}; "
        f"by input partition {dict(sorted(per_partition.items()))}\n{baton.metrics().dump()}")
    m = baton.metrics()
    assert m.value("baton_changelog_restored_records_total") >= 1, m.dump()
    assert m.value("baton_events_duplicate_total") == 1, m.dump()  # the re-sent df-open-0
    baton.stop()


def test_a_fenced_instance_stops_and_its_successor_hands_off_once(pb, inputs, topics, outputs,
                                                                   make_baton, tmp_path):
    """Two processes with one transactional id (a zombie and its replacement): the newer one's
    registration fences the older, which stops with exit code 1 instead of fencing back."""
    shared = ("--transactional-id", "tx-shared", "--instance-id", "none")
    old = make_baton(*shared)
    old.start()
    new = make_baton(*shared)
    new.data_dir = tmp_path / "data-new"
    new.start(wait=False)
    harness.wait_until("the new instance registered its producer",
                       lambda: "transactional producer registered" in new.log_tail(200),
                       timeout=60)
    # Work for every partition, so that the old instance tries a transaction and learns.
    accounts = [f"acc-fence-{i}" for i in range(12)]
    for a in accounts:
        inputs.send(inputs.open(f"{a}-open", 5, a), "protobuf")
    inputs.flush()
    harness.wait_until("the fenced instance to exit", lambda: not old.running, timeout=60,
                       describe=lambda: old.log_tail(20))
    assert old.proc.returncode == 1, old.log_tail(20)
    assert "fenced: another producer registered transactional id tx-shared" in old.log_tail(50)
    old.proc = None
    new.wait_ready(timeout=60)

    assert_hands_off_once(new, inputs, topics, outputs, "fence")
    new.stop()


def test_a_missing_changelog_topic_stops_startup_naming_it(topics, make_baton):
    baton = make_baton()
    baton.topics = dataclasses.replace(topics, changelog=f"{topics.changelog}-missing")
    result = baton.run_to_exit(timeout=60)
    assert result.returncode == 1, result.stderr
    assert (f"changelog topic {topics.changelog}-missing does not exist: create it compacted"
            in result.stderr), result.stderr


def test_a_broker_down_at_start_up_is_waited_for(kafka, pb, inputs, topics, outputs, make_baton):
    baton = make_baton()
    kafka.stop()
    try:
        baton.start(wait=False)
        # Up, serving /metrics, consuming nothing.
        m = baton.wait_metrics("/metrics while the broker is down", lambda m: True)
        assert m.value("baton_assigned_partitions") == 0, m.dump()
    finally:
        kafka.restart()
    baton.wait_ready(timeout=90)
    assert_hands_off_once(baton, inputs, topics, outputs, "late-broker")
    baton.stop()
