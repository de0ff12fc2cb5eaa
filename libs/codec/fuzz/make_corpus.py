#!/usr/bin/env python3
"""Regenerates decode_fuzz's seed corpus (corpus/) and dictionary (json.dict).

Each seed is one selector byte (see decode_fuzz.cc), an optional content-type header, then a
payload: valid engagement and CRM events of every kind, as binary protobuf and as JSON, and a few
hostile ones (extreme timestamps, unknown enums, non-UTF-8 bytes, an over-long id, a truncated
message). The protobuf modules are generated from proto/baton/v1 with protoc into a temporary
directory, so the seeds always match the schema.

Usage: python3 libs/codec/fuzz/make_corpus.py   (needs protoc and the protobuf Python package)
"""

import importlib
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
CORPUS = HERE / "corpus"

# Selector bits, as decode_fuzz.cc reads them.
CRM = 0x01
JSON = 0x02
HEADER = 0x04


def load_modules():
    out = pathlib.Path(tempfile.mkdtemp(prefix="baton_pb_"))
    protos = sorted(str(p) for p in (REPO / "proto/baton/v1").glob("*.proto"))
    subprocess.run(["protoc", f"-I{REPO / 'proto'}", f"--python_out={out}", *protos], check=True)
    sys.path.insert(0, str(out))
    from google.protobuf import json_format  # noqa: E402 (after protoc wrote the modules)

    return importlib.import_module("baton.v1.events_pb2"), json_format


pb, json_format = load_modules()
TS_2026 = 1795168800  # 2026-11-20T10:00:00Z
TS_2200 = 7258118400  # 2200-01-01T00:00:00Z


def seed(selector, payload, header=None):
    data = bytes([selector | (HEADER if header is not None else 0)])
    if header is not None:
        data += bytes([len(header)]) + header.encode()
    return data + payload


def as_json(message, camel_case=False):
    # Baton prints proto field names; producers may send protobuf's default lowerCamelCase.
    text = json_format.MessageToJson(message, preserving_proto_field_name=not camel_case,
                                     indent=None)
    return text.encode()


def engagement(event_id, type_, **fields):
    e = pb.EngagementEvent(event_id=event_id, source="marketo", type=type_, **fields)
    e.event_time.seconds = TS_2026
    return e


def crm(event_id, **payload):
    c = pb.CrmEvent(event_id=event_id, source="salesforce", **payload)
    c.event_time.seconds = TS_2026
    return c


def period(start, end):
    p = pb.Period()
    p.start.seconds = start
    p.end.seconds = end
    return p


email_open = engagement("mk-1", pb.EMAIL_OPEN, account_id="acc-acme",
                        contact_email="jane@acme.example", campaign_id="q4-launch")
page_visit = engagement("web-7", pb.PAGE_VISIT, contact_id="c-1",
                        url="https://acme.example/en/Pricing/?plan=team")
intent = engagement("int-1", pb.INTENT_SIGNAL, account_id="acc-acme", intent_topic="crm software",
                    intent_score=87.5)
account = crm("crm-1", account_upsert=pb.AccountUpsert(
    account_id="acc-acme", name="Acme", domains=["acme.example", "acme.de"], tier=pb.TIER_1,
    owners=pb.Owners(ae_id="ae-1", sdr_id="sdr-1", marketing_owner_id="mo-1"),
    selection_reason="expansion", icp_fit=92, stage="Engaged"))
account.account_upsert.decision_date.seconds = TS_2026 + 86400 * 30
contact = crm("crm-2", contact_upsert=pb.ContactUpsert(
    contact_id="c-1", account_id="acc-acme", email="jane@acme.example", full_name="Jane Doe",
    title="CFO", role=pb.FINANCE))
deal = crm("crm-3", deal_stage_change=pb.DealStageChange(
    deal_id="d-1", account_id="acc-acme", stage="Negotiation", amount_minor=12_500_000,
    currency="USD"))
activity = crm("crm-4", sales_activity=pb.SalesActivity(
    account_id="acc-acme", rep_id="ae-1", contact_id="c-1", kind=pb.CALL, automated=True))
disposition = crm("crm-5", handoff_disposition=pb.HandoffDisposition(
    handoff_id="ho-1", account_id="acc-acme", rep_id="ae-1", disposition=pb.REJECTED,
    reason=pb.BAD_TIMING, note="call back in Q1"))
rep = crm("crm-6", rep_status=pb.RepStatus(
    rep_id="ae-1", time_zone="Europe/Berlin", calendar="emea",
    out_of_office=[period(TS_2026, TS_2026 + 86400 * 3)]))
plan = crm("crm-7", outreach_plan=pb.OutreachPlan(
    plan_id="sprint-q4", account_id="acc-acme", kind=pb.SALES_SPRINT, owner_id="ae-1",
    period=period(TS_2026, TS_2026 + 86400 * 11), name="Q4 call blitz"))

# Hostile inputs.
epoch = engagement("mk-1970", pb.EMAIL_OPEN, contact_id="c-1")
epoch.event_time.seconds = 0
future = engagement("mk-2200", pb.FORM_FILL, contact_id="c-1")
future.event_time.seconds = TS_2200
plan_2200 = crm("crm-8", outreach_plan=pb.OutreachPlan(
    plan_id="campaign-far", account_id="acc-acme", kind=pb.MARKETING_CAMPAIGN,
    period=period(TS_2026, TS_2200 + 86400 * 150)))
unknown_number = engagement("mk-99", pb.EMAIL_OPEN, contact_id="c-1")
unknown_number.type = 99
# protobuf refuses to build a string that is not UTF-8, so write a two-byte character and swap
# its bytes for invalid ones of the same length.
non_utf8 = engagement("mk-bytes", pb.EMAIL_CLICK, contact_id="c-1", campaign_id="q4-\u00e9")
non_utf8_wire = non_utf8.SerializeToString().replace(b"q4-\xc3\xa9", b"q4-\xff\xfe")
huge_id = crm("x" * 1000, sales_activity=pb.SalesActivity(
    account_id="acc-acme", rep_id="ae-1", kind=pb.EMAIL))
truncated = account.SerializeToString()[:-7]

SEEDS = {
    "eng_email_open.pb": seed(0, email_open.SerializeToString()),
    "eng_email_open.json": seed(JSON, as_json(email_open)),
    "eng_page_visit.pb": seed(0, page_visit.SerializeToString()),
    "eng_page_visit_header.json": seed(0, as_json(page_visit), "application/json; charset=utf-8"),
    "eng_page_visit_camel.json": seed(JSON, as_json(page_visit, camel_case=True)),
    "eng_intent_signal.pb": seed(0, intent.SerializeToString()),
    "eng_intent_signal.json": seed(JSON, as_json(intent)),
    "crm_account_upsert.pb": seed(CRM, account.SerializeToString()),
    "crm_account_upsert.json": seed(CRM | JSON, as_json(account)),
    "crm_account_upsert_camel.json": seed(CRM | JSON, as_json(account, camel_case=True)),
    "crm_contact_upsert.json": seed(CRM | JSON, as_json(contact)),
    "crm_deal_stage_change.pb": seed(CRM, deal.SerializeToString(), "application/x-protobuf"),
    "crm_deal_stage_change.json": seed(CRM | JSON, as_json(deal)),
    "crm_sales_activity.json": seed(CRM | JSON, as_json(activity)),
    "crm_handoff_disposition.pb": seed(CRM, disposition.SerializeToString()),
    "crm_handoff_disposition.json": seed(CRM | JSON, as_json(disposition)),
    "crm_rep_status.pb": seed(CRM, rep.SerializeToString()),
    "crm_rep_status.json": seed(CRM | JSON, as_json(rep)),
    "crm_outreach_plan.pb": seed(CRM, plan.SerializeToString()),
    "crm_outreach_plan.json": seed(CRM | JSON, as_json(plan)),
    "bad_time_1970.pb": seed(0, epoch.SerializeToString()),
    "bad_time_2200.json": seed(JSON, as_json(future)),
    "bad_period_2200.json": seed(CRM | JSON, as_json(plan_2200)),
    "bad_enum_name.json": seed(JSON, as_json(email_open).replace(b'"EMAIL_OPEN"', b'"EMAIL_OPNE"')),
    "bad_enum_number.pb": seed(0, unknown_number.SerializeToString()),
    "bad_non_utf8.pb": seed(0, non_utf8_wire),
    "bad_non_utf8.json": seed(JSON, as_json(non_utf8).replace(b"q4-\\u00e9", b"q4-\xff\xfe")),
    "bad_huge_id.pb": seed(CRM, huge_id.SerializeToString()),
    "bad_truncated.pb": seed(CRM, truncated),
    "bad_content_type.pb": seed(JSON, email_open.SerializeToString(), "text/xml"),
}


def names(descriptor, out):
    """Collects field (proto and JSON) and enum value names reachable from a message descriptor."""
    for field in descriptor.fields:
        out.add(field.name)
        out.add(field.json_name)
        if field.enum_type is not None:
            out.update(v.name for v in field.enum_type.values)
        if field.message_type is not None and field.message_type.name not in out:
            out.add(field.message_type.name)
            names(field.message_type, out)


def dictionary():
    tokens = set()
    names(pb.EngagementEvent.DESCRIPTOR, tokens)
    names(pb.CrmEvent.DESCRIPTOR, tokens)
    tokens -= {"Timestamp", "Period", "Owners", "AccountUpsert", "ContactUpsert",
               "DealStageChange", "SalesActivity", "HandoffDisposition", "RepStatus",
               "OutreachPlan"}
    words = sorted(f'"{t}"' for t in tokens)
    words += [json.dumps(w) for w in [
        "2026-11-20T10:00:00Z", "1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z", ".000000001", "+01:00", "Europe/Berlin",
        "application/json", "application/x-protobuf", "application/protobuf", "; charset=utf-8",
        "NaN", "Infinity", "-Infinity", "1e308", "-0", "9223372036854775807", "true", "false",
        "file:", "../", "localtime", "null", "\\u0000", "\\ud800", "\\udc00", "{}", "[]",
        "\":\"", "\",\"", "1.0", "1e3", "-9223372036854775808", "18446744073709551616",
        ".123456789", "-08:30", "2024-02-29T12:00:00Z", "2026-02-30T00:00:00Z",
    ]]
    header = ("# libFuzzer dictionary for decode_fuzz: protobuf-JSON field and enum names of "
              "baton.v1 inputs,\n# and JSON/RFC 3339 fragments. Generated by make_corpus.py.\n")
    return header + "\n".join(words) + "\n"


def main():
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, data in SEEDS.items():
        (CORPUS / name).write_bytes(data)
    (HERE / "json.dict").write_text(dictionary())
    print(f"wrote {len(SEEDS)} seeds to {CORPUS} and {HERE / 'json.dict'}")


if __name__ == "__main__":
    main()
