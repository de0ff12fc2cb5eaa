"""Follow-up SLAs end to end on the wall clock: the real baton binary with a rule file of short
SLAs against a real Kafka broker. A handoff nobody follows up gets its reminder, breach and
escalations (the second reassigning it to the AE's backup, whose new SLA then breaches too) while
no event arrives at all; a handoff the AE calls back in time gets none. Every alert appears
exactly once, in order, also across a restart (README.md, "Follow-up SLA")."""
from __future__ import annotations

import textwrap
import time

from harness import decode_output, handoff_id, wait_until

PRICING = "https://www.example.com/pricing"

# The canonical rule, an AE with a backup and a manager, and a Tier 1 SLA of 10 seconds on the
# default 24x7 calendar: reminder at 5 s, breach at 10 s, then two escalation steps.
RULES = textwrap.dedent("""\
    version: 9
    rules:
      - name: tier1-email-opens-and-pricing
        priority: 100
        level: SALES_READY
        message: "{account_name} ({tier}) is showing buying intent: {reason}."
        when:
          all:
            - count: {type: EMAIL_OPEN, per: CONTACT, at_least: 3, within: 14d}
            - count: {type: PAGE_VISIT, url_segment: pricing, at_least: 1, within: 14d}
            - tier_in: [TIER_1]
    team:
      reps:
        - {id: ae-maria, backup: ae-tom, manager: mgr-lee}
        - {id: ae-omar, backup: ae-tom, manager: mgr-lee}
    sla:
      policies:
        - tier_in: [TIER_1]
          level_in: [SALES_READY]
          first_follow_up: 10s
          remind_at: 0.5
          escalation:
            - {after: 2s, notify: [MANAGER, ACCOUNT_MARKETING_OWNER]}
            - {after: 4s, reassign_to: BACKUP}
    """)


def qualifying(inputs, prefix, account_id, contact_id, seconds):
    """A pricing visit and three opens by one contact, the last at `seconds` after the base."""
    m = seconds / 60
    return [inputs.visit(f"{prefix}-pricing", m - 0.2, account_id, contact_id, PRICING),
            inputs.open(f"{prefix}-open-1", m - 0.15, account_id, contact_id),
            inputs.open(f"{prefix}-open-2", m - 0.1, account_id, contact_id),
            inputs.open(f"{prefix}-open-3", m, account_id, contact_id)]


def alert_ids(records):
    return [r.header("baton-output-id") for r in records]


def test_the_wall_clock_fires_reminder_breach_and_escalations_with_no_events(
        pb, inputs, topics, outputs, make_baton, tmp_path):
    out = pb.outputs
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    baton = make_baton("--rules", str(rules)).start()

    # Event times are now: the SLA clock runs on the wall clock from the handoff.
    inputs.base = int(time.time())
    ha, hb = "acc-halcyon", "acc-borealis"
    crm = [inputs.account("crm-ha", -1, ha, "Halcyon Freight", "TIER_1", ae="ae-maria",
                          marketing="mkt-priya"),
           inputs.account("crm-hb", -1, hb, "Borealis Energy", "TIER_1", ae="ae-omar",
                          marketing="mkt-priya")]
    for msg in crm:
        inputs.send(msg, "json")
    inputs.flush()
    baton.wait_consumed(topics.crm, 2)
    # The output reader joins its group now, so that it sees the handoffs the moment they are
    # committed (the follow-up below must come within Borealis's 5 s reminder time).
    wait_until("the output reader is assigned",
               lambda: outputs.read({}, settle=0.2) is not None and outputs._c.assignment(),
               timeout=30)

    inputs.base = int(time.time())
    for i, msg in enumerate(qualifying(inputs, "ha", ha, "c-ha-1", 0)
                            + qualifying(inputs, "hb", hb, "c-hb-1", 0)):
        inputs.send(msg, "protobuf" if i % 2 else "json")
    inputs.flush()
    hid_a, hid_b = handoff_id(ha, "ha-open-3"), handoff_id(hb, "hb-open-3")
    got = outputs.read({topics.routed_leads: 2, topics.alerts: 2}, settle=0)
    # Omar calls Borealis back right away: its SLA is met, no reminder or breach follows.
    inputs.send(inputs.sales_activity("hb-call", (time.time() - inputs.base) / 60, hb, "ae-omar",
                                      "CALL"), "json")
    inputs.flush()
    baton.wait_consumed(topics.crm, 3)

    # Then no event at all while Halcyon's clock runs out: 6 more alerts in about 24 seconds.
    got = outputs.read({topics.routed_leads: 3, topics.alerts: 8}, timeout=60, settle=3)
    by_account = {ha: [], hb: []}
    for r in got[topics.alerts]:
        by_account[r.key.decode()].append(r)
    assert alert_ids(by_account[ha]) == [
        f"alert:handoff:{hid_a}",
        f"alert:sla_reminder:{hid_a}",
        f"alert:sla_breach:{hid_a}",
        f"alert:escalation:{hid_a}:1",
        f"alert:escalation:{hid_a}:2",
        f"alert:sla_reminder:{hid_a}:1",
        f"alert:sla_breach:{hid_a}:1",
    ], [r.header_list() for r in got[topics.alerts]]
    assert alert_ids(by_account[hb]) == [f"alert:handoff:{hid_b}"]
    assert sorted(r.header("baton-output-id") for r in got[topics.routed_leads]) == sorted(
        [f"lead:{hid_a}", f"lead:{hid_a}:1", f"lead:{hid_b}"])

    alerts = {a.alert_id: a for a in (decode_output(pb, r) for r in by_account[ha])}
    leads = {lead.lead_id: lead for lead in (decode_output(pb, r)
                                             for r in got[topics.routed_leads])}
    first = leads[f"lead:{hid_a}"]
    handed_at = first.triggered_at.seconds
    assert first.assignee_id == "ae-maria"
    assert first.sla_deadline.seconds == handed_at + 10
    # Each alert is stamped with its due time, whenever it fired.
    reminder = alerts[f"alert:sla_reminder:{hid_a}"]
    assert (reminder.kind, reminder.severity, list(reminder.recipients)) == (
        out.SLA_REMINDER, out.WARNING, ["ae-maria"])
    assert reminder.occurred_at.seconds == handed_at + 5
    breach = alerts[f"alert:sla_breach:{hid_a}"]
    assert (breach.kind, breach.severity, list(breach.recipients), breach.escalation_level) == (
        out.SLA_BREACH, out.CRITICAL, ["ae-maria"], 0)
    assert breach.occurred_at.seconds == breach.sla_deadline.seconds == handed_at + 10
    esc1 = alerts[f"alert:escalation:{hid_a}:1"]
    assert (esc1.kind, esc1.escalation_level, list(esc1.recipients)) == (
        out.ESCALATION, 1, ["mgr-lee", "mkt-priya"])
    assert esc1.occurred_at.seconds == handed_at + 12
    esc2 = alerts[f"alert:escalation:{hid_a}:2"]
    assert (esc2.escalation_level, list(esc2.recipients), esc2.assignee_id) == (
        2, ["ae-tom"], "ae-tom")
    assert esc2.occurred_at.seconds == handed_at + 14
    assert "reassigned to ae-tom" in esc2.summary, esc2.summary
    # The reassignment is a new lead for the backup, with the same context and a new SLA.
    second = leads[f"lead:{hid_a}:1"]
    assert (second.handoff_id, second.assignee_id, second.assignment,
            second.previous_assignee_id) == (hid_a, "ae-tom", 1, "ae-maria")
    assert second.sla_deadline.seconds == handed_at + 24
    assert (second.reason, second.rule_name) == (first.reason, first.rule_name)
    assert list(second.routing_path) == ["escalation 2: no follow-up by ae-maria",
                                         "rep ae-maria: being reassigned away",
                                         "backup of ae-maria ae-tom"]
    assert alerts[f"alert:sla_breach:{hid_a}:1"].occurred_at.seconds == handed_at + 24

    m = baton.wait_metric("baton_sla_outcomes_total", 2, outcome="breached")
    assert m.value("baton_sla_outcomes_total", outcome="met") == 1, m.dump()
    assert m.value("baton_sla_outcomes_total", outcome="cancelled") == 0, m.dump()
    assert m.value("baton_alerts_total", kind="SLA_BREACH") == 2, m.dump()
    assert m.value("baton_alerts_total", kind="ESCALATION") == 2, m.dump()
    assert m.value("baton_time_to_first_follow_up_seconds_count") == 1, m.dump()
    # Six wall-clock timers fired, each within the commit interval or so of its due time.
    assert m.value("baton_timer_lateness_seconds_count") == 6, m.dump()
    assert m.value("baton_timer_lateness_seconds_bucket", le="2.5") == 6, m.dump()

    # A restart fires nothing again: every timer has fired or been stopped, durably.
    baton.stop()
    again = make_baton("--rules", str(rules)).start()
    wait_until("the restarted baton has its partitions",
               lambda: again.metrics().get("baton_assigned_partitions"), timeout=30)
    got = outputs.read({}, settle=4)
    assert (len(got[topics.routed_leads]), len(got[topics.alerts])) == (3, 8), [
        r.header_list() for r in got[topics.alerts]]
