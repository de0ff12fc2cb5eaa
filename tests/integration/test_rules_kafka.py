"""Rule files end to end: the real baton binary with `--rules FILE` against a real Kafka broker
(see README.md), `baton check-config`, a bad rule file at start-up, and reloading on SIGHUP and
on change.

Like test_baton_kafka.py, each test asserts the exact outputs, waits for
baton_events_consumed_total before reading them, and reads on for a moment so that an extra
record would show up.
"""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time

from harness import PROTO_CT, baton_bin, decode_output, handoff_id

PRICING = "https://www.example.com/pricing"
BLOG = "https://www.example.com/blog/cold-chain-trends"
DAY_MIN = 24 * 60  # minutes in a day, for event times days before the base

EARLY = "buying-group-forming"
MEETING = "meeting-request-untouched"
CANONICAL = "tier1-email-opens-and-pricing"

# A non-default rule file: a buying group forming at a Tier 1/2 account goes to the SDR as an
# early signal; a meeting request at an account sales has left alone for two weeks goes to the
# AE as sales-ready, and is tried first.
RULES_V5 = textwrap.dedent("""\
    # Rules for the integration tests (README "Rule file").
    version: 5

    rules:
      # Buying group forming at a Tier 1 or 2 account: three roles engaged in 30 days -> SDR.
      - name: buying-group-forming
        priority: 50
        level: EARLY_SIGNAL
        message: "{account_name}: {reason}. Warm up the buying group before the AE steps in."
        when:
          all:
            - tier_in: [TIER_1, TIER_2]
            - roles_covered:
                roles: [DECISION_MAKER, FUNCTIONAL_OWNER, TECHNICAL_EVALUATOR, FINANCE]
                at_least: 3
                within: 30d

      # A meeting requested at a target account that sales has left alone for two weeks -> AE.
      - name: meeting-request-untouched
        priority: 90
        level: SALES_READY
        cooldown: 14d
        message: "{contact_title} at {account_name} asked for a meeting: {reason}."
        when:
          all:
            - tier_in: [TIER_1, TIER_2, TIER_3]
            - count: {type: MEETING_REQUEST, at_least: 1, within: 7d}
            - days_since_sales_touch: {at_least_days: 14}
    """)


def canonical_rules(version: int, opens: int) -> str:
    """The default rule (deploy/rules/default.yaml) with `opens` email opens instead of 3."""
    return textwrap.dedent(f"""\
        version: {version}
        rules:
          - name: tier1-email-opens-and-pricing
            priority: 100
            level: SALES_READY
            cooldown: 30d
            message: "{{account_name}} ({{tier}}) is showing buying intent: {{reason}}."
            when:
              all:
                - count: {{type: EMAIL_OPEN, per: CONTACT, at_least: {opens}, within: 14d}}
                - count: {{type: PAGE_VISIT, url_segment: pricing, at_least: 1, within: 14d}}
                - tier_in: [TIER_1]
        """)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of `text` containing `needle`."""
    found = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def check_config(path) -> subprocess.CompletedProcess:
    return subprocess.run([str(baton_bin()), "check-config", str(path)], capture_output=True,
                          text=True, timeout=30)


def replace_file(path, text: str, mtime_ns: int) -> None:
    """Replaces `path` atomically with `text`, giving the new file modification time
    `mtime_ns`, so that baton sees either the old file or the new one, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, path)


def describe(records):
    return [(r.topic, r.partition, r.offset, r.key, r.header_list()) for rs in records.values()
            for r in rs]


def check_headers(record, kind, output_id, account_id):
    assert record.key == account_id.encode()
    assert record.header("content-type") == PROTO_CT
    assert record.header("baton-output-type") == kind
    assert record.header("baton-output-id") == output_id


def ids(records):
    return sorted(r.header("baton-output-id") for r in records)


def lead_view(lead) -> dict:
    """The fields of a RoutedLead, as plain values to compare whole."""
    s = lead.engagement
    c = lead.contact
    return {
        "ids": (lead.lead_id, lead.handoff_id),
        "account": (lead.account_id, lead.account_name, lead.tier, lead.selection_reason,
                    lead.icp_fit, lead.stage),
        "assignee": (lead.assignee_id, lead.assignee_role),
        "routing_path": list(lead.routing_path),
        "rule": (lead.rule_name, lead.rule_version, lead.qualification_level),
        "reason": lead.reason,
        "trigger_events": [(t.event_id, t.type, t.event_time.seconds, t.contact_id)
                           for t in lead.trigger_events],
        "contact": (c.contact_id, c.email, c.full_name, c.title, c.role),
        "recommended_message": lead.recommended_message,
        "triggered_at": lead.triggered_at.seconds,
        "engagement": (s.window_days, s.email_opens, s.email_clicks, s.page_visits,
                       s.pricing_page_visits, s.content_downloads, s.webinar_events,
                       s.form_fills, s.intent_signals, s.replies, s.meetings,
                       s.engaged_contacts, s.engagement_score),
        "roles_engaged": list(s.roles_engaged),
        "role_engagement": [(r.role, r.last_engaged.seconds, r.contacts)
                            for r in s.role_engagement],
        "touches": (s.last_marketing_touch.seconds, s.last_sales_touch.seconds),
        "owners": (lead.owners.ae_id, lead.owners.sdr_id, lead.owners.marketing_owner_id),
    }


def alert_view(alert) -> dict:
    return {
        "ids": (alert.alert_id, alert.handoff_id),
        "kind": (alert.kind, alert.severity),
        "account": (alert.account_id, alert.account_name, alert.tier),
        "recipients": list(alert.recipients),
        "summary": alert.summary,
        "occurred_at": alert.occurred_at.seconds,
        "rule_name": alert.rule_name,
    }


def send_all(inputs, sends) -> int:
    for i, msg in enumerate(sends):
        inputs.send(msg, "json" if i % 2 == 0 else "protobuf")
    inputs.flush()
    return len(sends)


def account_setup(inputs, account_id, name, tier, ae, sdr, contacts, sales_touch_days=None):
    """The CRM records of one account: its contacts, the account, and optionally a sales call
    `sales_touch_days` days before the base. Returns them, to be sent."""
    msgs = [inputs.contact(f"crm-{cid}", 0, account_id, cid, f"{cid}@{account_id}.example",
                           full_name, title, role)
            for cid, full_name, title, role in contacts]
    msgs.append(inputs.account(f"crm-{account_id}", 0.5, account_id, name, tier, ae=ae, sdr=sdr,
                               marketing="mkt-priya", selection_reason="ABM target list",
                               icp_fit=80, stage="Engaged"))
    if sales_touch_days is not None:
        msgs.append(inputs.sales_activity(f"crm-call-{account_id}", -sales_touch_days * DAY_MIN,
                                          account_id, ae, "CALL", contact_id=contacts[0][0]))
    return msgs


def test_non_default_rule_file(pb, inputs, topics, outputs, make_baton, tmp_path):
    ev, out = pb.events, pb.outputs
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_V5)

    # check-config: OK, and one line per rule, highest priority first.
    result = check_config(rules)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.splitlines() == [
        f"{rules}: OK",
        "rule file version 5: 2 rules, engagement kept 30d",
        f"  {MEETING}: priority 90, SALES_READY, cooldown 14d: when (tier is Tier 1 or Tier 2 "
        "or Tier 3 AND >=1 meeting request within 7d AND no sales touch for >=14 days)",
        f"  {EARLY}: priority 50, EARLY_SIGNAL, cooldown 30d: when (tier is Tier 1 or Tier 2 "
        "AND >=3 of [decision maker, functional owner, technical evaluator, finance] engaged "
        "within 30d)",
    ], result.stdout

    # check-config on a broken copy: an unknown event type, named by file, line and field.
    broken = tmp_path / "broken.yaml"
    broken_text = RULES_V5.replace("type: MEETING_REQUEST,", "type: MEETING_REQUESTED,")
    broken.write_text(broken_text)
    result = check_config(broken)
    line = line_of(broken_text, "MEETING_REQUESTED")
    assert (result.returncode, result.stdout) == (1, ""), result
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{broken}:{line}: rules[1].when.all[1].count.type: "), errors
    assert "MEETING_REQUESTED" in errors[0], errors

    baton = make_baton("--rules", str(rules)).start()
    assert baton.metrics().get("baton_rules_version") == 5

    # Contoso (Tier 2): its buying group forms, then someone asks for a meeting. Sales last
    # called 20 days ago. Fabrikam (Tier 3): the same buying group, but the wrong tier.
    # Tailspin (Tier 1): two of the roles only, and a meeting request, but sales called 3 days
    # ago.
    co, fa, ts = "acc-contoso", "acc-fabrikam", "acc-tailspin"
    co_contacts = [("c-co-dm", "Ana Diaz", "VP Research", "DECISION_MAKER"),
                   ("c-co-fo", "Ben Okafor", "Head of Lab Operations", "FUNCTIONAL_OWNER"),
                   ("c-co-te", "Cleo Park", "Lab Systems Architect", "TECHNICAL_EVALUATOR"),
                   ("c-co-fin", "Dev Rao", "Finance Director", "FINANCE")]
    fa_contacts = [("c-fa-dm", "Eva Stone", "COO", "DECISION_MAKER"),
                   ("c-fa-fo", "Finn Wu", "Plant Manager", "FUNCTIONAL_OWNER"),
                   ("c-fa-te", "Gus Lee", "IT Architect", "TECHNICAL_EVALUATOR")]
    ts_contacts = [("c-ts-dm", "Hana Ito", "CEO", "DECISION_MAKER"),
                   ("c-ts-fin", "Ivo Berg", "CFO", "FINANCE"),
                   ("c-ts-user", "Jo Kim", "Analyst", "USER")]
    crm = (account_setup(inputs, co, "Contoso Pharma", "TIER_2", "ae-david", "sdr-nina",
                         co_contacts, sales_touch_days=20)
           + account_setup(inputs, fa, "Fabrikam Biotech", "TIER_3", "ae-lena", "sdr-omar",
                           fa_contacts, sales_touch_days=20)
           + account_setup(inputs, ts, "Tailspin Aerospace", "TIER_1", "ae-maria", "sdr-tom",
                           ts_contacts, sales_touch_days=3))
    n_crm = send_all(inputs, crm)
    baton.wait_consumed(topics.crm, n_crm)

    # Ana (decision maker) opens two emails, Ben (functional owner) visits a product page and
    # Cleo (technical evaluator) downloads a guide: three of the four roles -> the SDR.
    engagement = [
        inputs.open("co-open-1", 10, co, "c-co-dm"),
        inputs.open("co-open-2", 12, co, "c-co-dm"),
        inputs.visit("co-visit", 20, co, "c-co-fo", "https://www.example.com/products/lims"),
        inputs.engagement("co-download", 30, co, "CONTENT_DOWNLOAD", "c-co-te",
                          content_id="lims-buyers-guide"),
        inputs.open("fa-open", 10, fa, "c-fa-dm"),
        inputs.visit("fa-visit", 20, fa, "c-fa-fo", "https://www.example.com/products/lims"),
        inputs.engagement("fa-download", 30, fa, "CONTENT_DOWNLOAD", "c-fa-te",
                          content_id="lims-buyers-guide"),
        inputs.open("ts-open-1", 10, ts, "c-ts-dm"),
        inputs.open("ts-open-2", 15, ts, "c-ts-fin"),
        inputs.open("ts-open-3", 20, ts, "c-ts-user"),
        inputs.engagement("ts-meeting", 30, ts, "MEETING_REQUEST", "c-ts-dm"),
    ]
    n_eng = send_all(inputs, engagement)
    baton.wait_consumed(topics.engagement, n_eng)
    early_hid = handoff_id(co, "co-download", EARLY)
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert ids(got[topics.routed_leads]) == [f"lead:{early_hid}"], describe(got)
    assert ids(got[topics.alerts]) == [f"alert:handoff:{early_hid}"], describe(got)
    assert got[topics.deadletter] == [], describe(got)

    # Ana asks for a meeting: the sales-ready rule upgrades the open early signal -> the AE.
    n_eng += send_all(inputs, [inputs.engagement("co-meeting-1", 60, co, "MEETING_REQUEST",
                                                 "c-co-dm")])
    baton.wait_consumed(topics.engagement, n_eng)
    ready_hid = handoff_id(co, "co-meeting-1", MEETING)
    got = outputs.read({topics.routed_leads: 2, topics.alerts: 2})
    assert ids(got[topics.routed_leads]) == sorted([f"lead:{early_hid}", f"lead:{ready_hid}"]), \
        describe(got)
    assert ids(got[topics.alerts]) == sorted([f"alert:handoff:{early_hid}",
                                              f"alert:handoff:{ready_hid}"]), describe(got)
    assert got[topics.deadletter] == [], describe(got)

    # Dev (finance) asks for a meeting too, while the sales-ready handoff is open: nothing.
    n_eng += send_all(inputs, [inputs.engagement("co-meeting-2", 70, co, "MEETING_REQUEST",
                                                 "c-co-fin")])
    baton.wait_consumed(topics.engagement, n_eng)
    got = outputs.read({}, settle=1.5)
    assert (len(got[topics.routed_leads]), len(got[topics.alerts]),
            len(got[topics.deadletter])) == (2, 2, 0), describe(got)

    m = baton.metrics()
    assert m.get("baton_rules_version") == 5, m.dump()
    assert m.value("baton_rule_loads_total", result="ok") == 1, m.dump()
    assert m.value("baton_rule_loads_total", result="rejected") == 0, m.dump()
    assert m.value("baton_handoffs_total", rule=EARLY, tier="TIER_2") == 1, m.dump()
    assert m.value("baton_handoffs_total", rule=MEETING, tier="TIER_2") == 1, m.dump()
    assert m.value("baton_handoffs_total") == 2, m.dump()
    assert m.value("baton_routed_leads_total") == 2, m.dump()
    assert m.value("baton_alerts_total", kind="HANDOFF") == 2, m.dump()
    assert m.value("baton_alerts_total") == 2, m.dump()
    assert m.value("baton_events_deadlettered_total") == 0, m.dump()
    baton.stop()

    # The contents, compared whole so that a failure lists every field that differs.
    leads = {r.header("baton-output-id"): r for r in got[topics.routed_leads]}
    alerts = {r.header("baton-output-id"): r for r in got[topics.alerts]}
    for hid in (early_hid, ready_hid):
        check_headers(leads[f"lead:{hid}"], "RoutedLead", f"lead:{hid}", co)
        check_headers(alerts[f"alert:handoff:{hid}"], "Alert", f"alert:handoff:{hid}", co)
    touch = inputs.at(-20 * DAY_MIN)
    no_contact = ("", "", "", "", ev.BUYING_GROUP_ROLE_UNSPECIFIED)
    ana = ("c-co-dm", "c-co-dm@acc-contoso.example", "Ana Diaz", "VP Research",
           ev.DECISION_MAKER)
    owners = ("ae-david", "sdr-nina", "mkt-priya")

    # The early signal: tier first, then the roles in the rule's order (README condition table).
    # No count condition, so no trigger events and no contact; the summary covers the rule's
    # one window, 30d.
    early_reason = ("Tier 2; roles engaged in 30d: decision maker, functional owner, "
                    "technical evaluator")
    assert lead_view(decode_output(pb, leads[f"lead:{early_hid}"])) == {
        "ids": (f"lead:{early_hid}", early_hid),
        "account": (co, "Contoso Pharma", ev.TIER_2, "ABM target list", 80, "Engaged"),
        "assignee": ("sdr-nina", "SDR"),
        "routing_path": ["Tier 2 EARLY_SIGNAL", "account SDR sdr-nina"],
        "rule": (EARLY, 5, out.EARLY_SIGNAL),
        "reason": early_reason,
        "trigger_events": [],
        "contact": no_contact,
        "recommended_message": (f"Contoso Pharma: {early_reason}. Warm up the buying group "
                                "before the AE steps in."),
        "triggered_at": inputs.at(30),
        # window, opens, clicks, visits, pricing, downloads, webinar, forms, intent, replies,
        # meetings, contacts, score
        "engagement": (30, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 0.0),
        "roles_engaged": [ev.DECISION_MAKER, ev.FUNCTIONAL_OWNER, ev.TECHNICAL_EVALUATOR],
        "role_engagement": [(ev.DECISION_MAKER, inputs.at(12), 1),
                            (ev.FUNCTIONAL_OWNER, inputs.at(20), 1),
                            (ev.TECHNICAL_EVALUATOR, inputs.at(30), 1)],
        "touches": (inputs.at(30), touch),
        "owners": owners,
    }
    assert alert_view(decode_output(pb, alerts[f"alert:handoff:{early_hid}"])) == {
        "ids": (f"alert:handoff:{early_hid}", early_hid),
        "kind": (out.HANDOFF, out.INFO),
        "account": (co, "Contoso Pharma", ev.TIER_2),
        "recipients": ["sdr-nina"],
        "summary": f"Contoso Pharma (Tier 2) is showing an early signal for SDR sdr-nina: "
                   f"{early_reason}",
        "occurred_at": inputs.at(30),
        "rule_name": EARLY,
    }

    # The upgrade: the meeting request is the one trigger, and its contact (Ana) is the lead's
    # contact ("else the most recent trigger's contact"); the summary covers the rule's one
    # window, 7d.
    ready_reason = "Tier 2; meeting request just now; last sales touch 20d ago"
    assert lead_view(decode_output(pb, leads[f"lead:{ready_hid}"])) == {
        "ids": (f"lead:{ready_hid}", ready_hid),
        "account": (co, "Contoso Pharma", ev.TIER_2, "ABM target list", 80, "Engaged"),
        "assignee": ("ae-david", "AE"),
        "routing_path": ["Tier 2 SALES_READY", "account AE ae-david"],
        "rule": (MEETING, 5, out.SALES_READY),
        "reason": ready_reason,
        "trigger_events": [("co-meeting-1", ev.MEETING_REQUEST, inputs.at(60), "c-co-dm")],
        "contact": ana,
        "recommended_message": f"VP Research at Contoso Pharma asked for a meeting: "
                               f"{ready_reason}.",
        "triggered_at": inputs.at(60),
        "engagement": (7, 2, 0, 1, 0, 1, 0, 0, 0, 0, 1, 3, 0.0),
        "roles_engaged": [ev.DECISION_MAKER, ev.FUNCTIONAL_OWNER, ev.TECHNICAL_EVALUATOR],
        "role_engagement": [(ev.DECISION_MAKER, inputs.at(60), 1),
                            (ev.FUNCTIONAL_OWNER, inputs.at(20), 1),
                            (ev.TECHNICAL_EVALUATOR, inputs.at(30), 1)],
        "touches": (inputs.at(60), touch),
        "owners": owners,
    }
    assert alert_view(decode_output(pb, alerts[f"alert:handoff:{ready_hid}"])) == {
        "ids": (f"alert:handoff:{ready_hid}", ready_hid),
        "kind": (out.HANDOFF, out.INFO),
        "account": (co, "Contoso Pharma", ev.TIER_2),
        "recipients": ["ae-david"],
        "summary": f"Contoso Pharma (Tier 2) is sales-ready for AE ae-david: {ready_reason}",
        "occurred_at": inputs.at(60),
        "rule_name": MEETING,
    }


def test_bad_rule_file_stops_startup(make_baton, tmp_path):
    rules = tmp_path / "rules.yaml"
    text = RULES_V5.replace("within: 7d}", "within: 120d}")
    rules.write_text(text)
    line = line_of(text, "within: 120d")

    started = time.monotonic()
    result = make_baton("--rules", str(rules)).run_to_exit(timeout=15)
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result
    assert elapsed < 10, f"baton took {elapsed:.1f}s to refuse a bad rule file"
    error = f"{rules}:{line}: rules[1].when.all[1].count.within: must be between 1m and 90d"
    errors = [l for l in result.stderr.splitlines() if error in l]
    assert len(errors) == 1, result.stderr
    # It stopped before serving anything.
    assert "metrics at" not in result.stdout, result.stdout


def test_reload_on_sighup_keeps_state_and_rejects_bad_files(pb, inputs, topics, outputs,
                                                            make_baton, tmp_path):
    out = pb.outputs
    rules = tmp_path / "rules.yaml"
    rules.write_text(canonical_rules(version=1, opens=4))
    baton = make_baton("--rules", str(rules)).start()
    m = baton.metrics()
    assert (m.get("baton_rules_version"), m.value("baton_rule_loads_total", result="ok")) == (
        1, 1), m.dump()

    wa, st = "acc-wayne", "acc-stark"
    crm = (account_setup(inputs, wa, "Wayne Logistics", "TIER_1", "ae-maria", "sdr-tom",
                         [("c-wa-bruce", "Bruce Cho", "VP Supply Chain", "DECISION_MAKER")])
           + account_setup(inputs, st, "Stark Industrial", "TIER_1", "ae-james", "sdr-tom",
                           [("c-st-pepper", "Pepper Lin", "COO", "DECISION_MAKER")]))
    n_crm = send_all(inputs, crm)
    baton.wait_consumed(topics.crm, n_crm)

    # Three opens and a pricing visit: the rule in force wants four opens, so nothing.
    n_eng = send_all(inputs, [inputs.open("wa-open-1", 10, wa, "c-wa-bruce"),
                              inputs.open("wa-open-2", 20, wa, "c-wa-bruce"),
                              inputs.open("wa-open-3", 30, wa, "c-wa-bruce"),
                              inputs.visit("wa-pricing", 40, wa, "c-wa-bruce", PRICING)])
    baton.wait_consumed(topics.engagement, n_eng)
    got = outputs.read({}, settle=1.0)
    assert sum(len(rs) for rs in got.values()) == 0, describe(got)

    # Version 2 wants three opens. The new file keeps the old modification time, so only the
    # SIGHUP makes baton re-read it: exactly one more successful load.
    replace_file(rules, canonical_rules(version=2, opens=3), rules.stat().st_mtime_ns)
    baton.send_signal(signal.SIGHUP)
    m = baton.wait_metrics(
        'baton_rules_version == 2 and baton_rule_loads_total{result="ok"} == 2',
        lambda m: (m.get("baton_rules_version"), m.value("baton_rule_loads_total", result="ok"))
        == (2, 2), timeout=15)
    assert m.value("baton_rule_loads_total", result="rejected") == 0, m.dump()

    # One more event, a blog visit: the state from before the reload now meets version 2.
    n_eng += send_all(inputs, [inputs.visit("wa-blog", 50, wa, "c-wa-bruce", BLOG)])
    baton.wait_consumed(topics.engagement, n_eng)
    got = outputs.read({topics.routed_leads: 1, topics.alerts: 1})
    assert len(got[topics.routed_leads]) == 1, describe(got)
    assert len(got[topics.alerts]) == 1, describe(got)
    assert got[topics.deadletter] == [], describe(got)
    hid = handoff_id(wa, "wa-blog", CANONICAL)
    check_headers(got[topics.routed_leads][0], "RoutedLead", f"lead:{hid}", wa)
    check_headers(got[topics.alerts][0], "Alert", f"alert:handoff:{hid}", wa)
    lead = decode_output(pb, got[topics.routed_leads][0])
    assert (lead.rule_name, lead.rule_version, lead.qualification_level) == (
        CANONICAL, 2, out.SALES_READY)
    assert (lead.assignee_id, lead.assignee_role) == ("ae-maria", "AE")
    assert lead.reason == ("3 email opens by contact c-wa-bruce in 14d; "
                           "pricing page visit 10m ago; Tier 1")
    assert [t.event_id for t in lead.trigger_events] == [
        "wa-open-1", "wa-open-2", "wa-open-3", "wa-pricing"]

    # A broken file (an unknown tier), noticed by its new modification time alone: rejected,
    # logged with file:line:field, version 2 stays in force.
    broken = canonical_rules(version=3, opens=2).replace("[TIER_1]", "[TIER_9]")
    replace_file(rules, broken, rules.stat().st_mtime_ns + 5_000_000_000)
    m = baton.wait_metrics('baton_rule_loads_total{result="rejected"} == 1',
                           lambda m: m.value("baton_rule_loads_total", result="rejected") == 1,
                           timeout=15)
    assert m.get("baton_rules_version") == 2, m.dump()
    assert m.value("baton_rule_loads_total", result="ok") == 2, m.dump()
    where = f"{rules}:{line_of(broken, 'TIER_9')}: rules[0].when.all[2].tier_in[0]: "
    assert where in baton.log_tail(), baton.log_tail(20)
    # SIGHUP re-reads it: rejected again.
    baton.send_signal(signal.SIGHUP)
    m = baton.wait_metrics('baton_rule_loads_total{result="rejected"} == 2',
                           lambda m: m.value("baton_rule_loads_total", result="rejected") == 2,
                           timeout=15)
    assert (m.get("baton_rules_version"), m.value("baton_rule_loads_total", result="ok")) == (
        2, 2), m.dump()

    # Baton still runs and processes, with version 2: three opens and a pricing visit at Stark.
    assert baton.running
    n_eng += send_all(inputs, [inputs.open("st-open-1", 10, st, "c-st-pepper"),
                               inputs.open("st-open-2", 20, st, "c-st-pepper"),
                               inputs.visit("st-pricing", 25, st, "c-st-pepper", PRICING),
                               inputs.open("st-open-3", 30, st, "c-st-pepper")])
    baton.wait_consumed(topics.engagement, n_eng)
    got = outputs.read({topics.routed_leads: 2, topics.alerts: 2})
    assert len(got[topics.routed_leads]) == 2, describe(got)
    assert len(got[topics.alerts]) == 2, describe(got)
    assert got[topics.deadletter] == [], describe(got)
    hid2 = handoff_id(st, "st-open-3", CANONICAL)
    check_headers(got[topics.routed_leads][1], "RoutedLead", f"lead:{hid2}", st)
    check_headers(got[topics.alerts][1], "Alert", f"alert:handoff:{hid2}", st)
    lead = decode_output(pb, got[topics.routed_leads][1])
    assert (lead.rule_name, lead.rule_version, lead.assignee_id) == (CANONICAL, 2, "ae-james")
    assert lead.reason == ("3 email opens by contact c-st-pepper in 14d; "
                           "pricing page visit 5m ago; Tier 1")

    m = baton.metrics()
    assert m.value("baton_handoffs_total", rule=CANONICAL, tier="TIER_1") == 2, m.dump()
    assert m.value("baton_routed_leads_total") == 2, m.dump()
    assert (m.get("baton_rules_version"), m.value("baton_rule_loads_total", result="ok"),
            m.value("baton_rule_loads_total", result="rejected")) == (2, 2, 2), m.dump()
    baton.stop()
