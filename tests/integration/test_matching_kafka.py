"""Lead-to-account matching end to end: engagement that names no account is matched by its email
domain, re-keyed by Baton onto its internal matched topic, consumed back and handed off; free mail
goes to the unmatched topic; an unknown domain waits until an account claims it (README.md,
"Lead-to-account matching")."""
from __future__ import annotations

from harness import PROTO_CT, handoff_id

PRICING = "https://www.example.com/pricing"


def email_only(inputs, event_id, minutes, email, kind="EMAIL_OPEN", url=""):
    """An engagement event with a contact email and no account id."""
    return inputs.engagement(event_id, minutes, "", kind, "", email, url=url)


def test_email_domain_match_hands_off_and_free_mail_is_unmatched(pb, inputs, topics, outputs,
                                                                  make_baton):
    ev = pb.events
    baton = make_baton().start()
    # The account owns northwind.example; its contacts are unknown to the CRM.
    inputs.send(inputs.account("crm-nw", 0, "acc-northwind", "Northwind Robotics", "TIER_1",
                               ae="ae-maria", marketing="mkt-priya"), "json")
    inputs.flush()
    baton.wait_consumed(topics.crm, 1)

    dana = "dana@eu.northwind.example"  # a subdomain of the account's domain
    sends = [
        email_only(inputs, "nw-pricing", 10, dana, "PAGE_VISIT", PRICING),
        email_only(inputs, "nw-open-1", 20, dana),
        email_only(inputs, "nw-open-2", 30, dana),
        email_only(inputs, "nw-open-3", 40, "Dana@EU.Northwind.example"),
        email_only(inputs, "free-1", 45, "someone@gmail.com"),
    ]
    for i, msg in enumerate(sends):
        inputs.send(msg, "json" if i % 2 else "protobuf")
    inputs.flush()

    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1, topics.unmatched: 1})
    assert len(got[topics.routed_leads]) == 1, got
    assert len(got[topics.alerts]) == 1, got
    assert got[topics.deadletter] == [], got
    hid = handoff_id("acc-northwind", "nw-open-3")
    lead = pb.outputs.RoutedLead.FromString(got[topics.routed_leads][0].value)
    assert lead.lead_id == f"lead:{hid}"
    assert (lead.account_id, lead.assignee_id) == ("acc-northwind", "ae-maria")
    assert lead.reason.startswith("3 email opens by contact dana@eu.northwind.example in 14d")
    assert [t.event_id for t in lead.trigger_events] == [
        "nw-pricing", "nw-open-1", "nw-open-2", "nw-open-3"]
    assert {t.matched_by for t in lead.trigger_events} == {ev.EMAIL_DOMAIN}
    assert got[topics.routed_leads][0].header("content-type") == PROTO_CT

    unmatched = got[topics.unmatched]
    assert len(unmatched) == 1, unmatched
    assert unmatched[0].key == b"gmail.com"
    assert unmatched[0].header("baton-unmatched-reason") == (
        "no account id, unknown contact and a free-mail domain")
    assert unmatched[0].header("baton-source-topic") == topics.engagement

    m = baton.metrics()
    assert m.value("baton_events_matched_total", method="EMAIL_DOMAIN") == 4, m.dump()
    assert m.value("baton_events_unmatched_total") == 1, m.dump()
    assert m.value("baton_events_consumed_total", topic=topics.matched) == 4, m.dump()


def test_unknown_domain_waits_until_an_account_claims_it(pb, inputs, topics, outputs,
                                                         make_baton):
    ev = pb.events
    baton = make_baton().start()
    li = "li@newco.example"
    sends = [
        email_only(inputs, "nc-pricing", 10, li, "PAGE_VISIT", PRICING),
        email_only(inputs, "nc-open-1", 20, li),
        email_only(inputs, "nc-open-2", 30, li),
        email_only(inputs, "nc-open-3", 40, li),
    ]
    for msg in sends:
        inputs.send(msg, "json")
    inputs.flush()
    baton.wait_consumed(topics.engagement, len(sends))
    early = outputs.read({topics.unmatched: 4})
    assert len(early[topics.unmatched]) == 4, early
    assert early[topics.routed_leads] == [] and early[topics.alerts] == [], early

    # The CRM now puts newco on the target list: the waiting engagement is matched and counted.
    inputs.send(inputs.account("crm-nc", 50, "acc-newco", "Newco Analytics", "TIER_1",
                               ae="ae-sofia"), "protobuf")
    inputs.flush()
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert len(got[topics.routed_leads]) == 1, got
    assert len(got[topics.alerts]) == 1, got
    lead = pb.outputs.RoutedLead.FromString(got[topics.routed_leads][0].value)
    assert (lead.account_id, lead.assignee_id) == ("acc-newco", "ae-sofia")
    assert {t.matched_by for t in lead.trigger_events} == {ev.EMAIL_DOMAIN}
    m = baton.metrics()
    assert m.value("baton_events_matched_total", method="EMAIL_DOMAIN") == 4, m.dump()
