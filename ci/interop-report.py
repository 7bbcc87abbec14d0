"""The DMTF Redfish Interop Validator's verdict on the OpenRMC profile,
against the gaps docs/redfish.md admits.

Reads the validator's Excel report (its structured output: a "Resources"
sheet, one row per resource type of the profile, and a "Results" sheet,
one row per property checked) and the profile, and prints:

* the numbers: mandatory requirements passed and failed, recommended
  requirements met and not met, warnings;
* every mandatory requirement that failed and every recommended one not
  met, as "Resource Property" (a recommended requirement of a resource type
  the service does not serve at all is not met either, though the
  validator never reaches it: those come from the profile);

and compares both lists with the table of section "OpenRMC profile
conformance" in docs/redfish.md (rows `| Mandatory | Resource | Property |
why |`). Exit 1 when they differ, either way: a new failure is a
regression, and a gap that closed must leave the table, so the document
stays exactly true. The one exception: recommended rows of
`EthernetInterface`, whose values come from the machine the node runs on
(a host without IPv6 or a DNS domain differs), are reported, not failed. Run by ci/redfish-validate.sh with the validator's
venv python (it has openpyxl):

    python interop-report.py REPORT.xlsx PROFILE.json docs/redfish.md
"""

import json
import re
import sys

import openpyxl

RESOURCE = "(resource)"
OPTIONAL = ("Recommended", "IfImplemented")


def requirement_of(profile, rtype, prop):
    """The ReadRequirement of `prop` ("A/B" paths) of resource `rtype`."""
    node = profile["Resources"].get(rtype, {})
    req = node.get("ReadRequirement", "Mandatory")
    if prop.startswith("Actions/#"):
        action = prop.split(".", 1)[1]
        return node.get("ActionRequirements", {}).get(action, {}).get("ReadRequirement", "Mandatory")
    for part in prop.split("/"):
        node = node.get("PropertyRequirements", {}).get(part, {})
        req = node.get("ReadRequirement", "Mandatory")
    return req


def optional_requirements(profile, rtype):
    """Every recommended requirement of a resource type, as properties."""
    out = []

    def walk(reqs, path):
        for name, r in reqs.items():
            if not isinstance(r, dict):
                continue
            p = f"{path}/{name}" if path else name
            if r.get("ReadRequirement", "Mandatory") in OPTIONAL:
                out.append(p)
            walk(r.get("PropertyRequirements", {}), p)

    walk(profile["Resources"].get(rtype, {}).get("PropertyRequirements", {}), "")
    return out


def documented(doc_path):
    """{(requirement, "Resource Property")} from the conformance table."""
    text = open(doc_path, encoding="utf-8").read()
    section = text.split("## OpenRMC profile conformance", 1)
    if len(section) != 2:
        sys.exit(f"{doc_path} has no section 'OpenRMC profile conformance'")
    rows = set()
    for line in section[1].split("\n## ", 1)[0].splitlines():
        m = re.match(r"\|\s*(Mandatory|Recommended)\s*\|\s*(\w+)\s*\|\s*`?([^|`]+?)`?\s*\|", line)
        if m:
            rows.add((m.group(1), f"{m.group(2)} {m.group(3)}"))
    return rows


def main():
    xlsx, profile_path, doc = sys.argv[1:4]
    profile = json.load(open(profile_path, encoding="utf-8"))
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    counts = {"Mandatory": {"PASS": 0, "FAIL": 0}, "Recommended": {"PASS": 0, "SKIP": 0}}
    warnings = []
    found = set()
    seen = {}
    for row in wb["Results"].iter_rows(values_only=True, min_row=2):
        uri, rtype, prop, result, message = row[1], row[4], row[5], row[7], row[8] or ""
        if not rtype:
            continue
        rtype = rtype.split(" ")[0]
        found.add(rtype)
        # A member of an array (Temperatures/3/Name) is its array's
        # requirement: the profile names properties, not indices.
        prop = "/".join(p for p in str(prop).split("/") if not p.isdigit())
        key = f"{rtype} {prop}"
        # One verdict per requirement: the worst over every resource of
        # the type (one system without a boot override fails "Boot").
        order = ["PASS", "SKIP", "WARN", "FAIL"]
        if result not in order:
            continue
        if result == "WARN":
            warnings.append(f"{uri} {prop}: {message.split(';')[0]}")
        if key not in seen or order.index(result) > order.index(seen[key][0]):
            seen[key] = (result, requirement_of(profile, rtype, prop))
    for row in wb["Resources"].iter_rows(values_only=True, min_row=2):
        rtype, result = row[1], row[2]
        if not rtype or result not in ("PASS", "FAIL", "SKIP"):
            continue
        req = profile["Resources"].get(rtype, {}).get("ReadRequirement", "Mandatory")
        seen[f"{rtype} {RESOURCE}"] = (result, req)
        if result != "PASS":
            # Not served: its recommended requirements are not met either.
            for prop in optional_requirements(profile, rtype):
                seen.setdefault(f"{rtype} {prop}", ("SKIP", "Recommended"))
    # A recommended property under one the service leaves out (PowerSupplies
    # absent: their Model) is never evaluated by the validator: not met.
    for rtype in found:
        for prop in optional_requirements(profile, rtype):
            seen.setdefault(f"{rtype} {prop}", ("SKIP", "Recommended"))
    actual = set()
    for key, (result, req) in sorted(seen.items()):
        kind = "Mandatory" if req not in OPTIONAL else "Recommended"
        if kind == "Mandatory":
            if result == "FAIL":
                counts[kind]["FAIL"] += 1
                actual.add((kind, key))
            elif result == "PASS":
                counts[kind]["PASS"] += 1
        else:
            if result in ("SKIP", "FAIL"):
                counts[kind]["SKIP"] += 1
                actual.add((kind, key))
            elif result == "PASS":
                counts[kind]["PASS"] += 1
    m, r = counts["Mandatory"], counts["Recommended"]
    print(f"OpenRMC profile: mandatory {m['PASS']} passed, {m['FAIL']} failed; "
          f"recommended {r['PASS']} met, {r['SKIP']} not met; {len(warnings)} warnings "
          f"(per resource type and property)")
    for kind in ("Mandatory", "Recommended"):
        items = sorted(k for t, k in actual if t == kind)
        print(f"{kind} requirements not met ({len(items)}):")
        for k in items:
            print(f"  {k}")
    for w in warnings:
        print(f"warning: {w}")
    expected = documented(doc)
    new = sorted(actual - expected)
    closed = sorted(expected - actual)
    # Recommended rows of the node's own network interfaces depend on the
    # machine the check runs on (its interfaces, addresses, resolver), so a
    # difference there is reported, not failed; every mandatory row is the
    # service's own doing and must match exactly.
    failed = False
    for t, k in new:
        fatal = t == "Mandatory" or not k.startswith("EthernetInterface ")
        failed |= fatal
        print(f"{'NOT IN' if fatal else 'note: on this host, not in'} {doc}: {t} {k} "
              "is not met (fix it, or add it to the table with the reason)")
    for t, k in closed:
        fatal = t == "Mandatory" or not k.startswith("EthernetInterface ")
        failed |= fatal
        print(f"{'CLOSED' if fatal else 'note: on this host, met'}: {t} {k} is met now: "
              f"remove it from the table in {doc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
