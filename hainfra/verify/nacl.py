"""NACL rule contents: each tier's live ingress and egress entries equal the declared ones, and the
VPC's default NACL (adopted and emptied by the stack) allows nothing.

The declared rules come from the one pure source the stack is built from
(``components.network.nacl_rules``). Any extra entry fails; an extra *allow* numbered below the
admin-port denies is called out, because NACLs match the lowest rule number first and such a rule
re-opens SSH/RDP from the internet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hainfra import naming
from hainfra.aws import tags_of
from hainfra.components.network import nacl_rules
from hainfra.verify.base import Row, VerifyContext, check, check_row

DEFAULT_RULE = 32767  # the implicit deny-all AWS adds to every NACL
PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}
Entry = tuple[str, int, str, str, str, int | None, int | None]  # direction, number, protocol, action, cidr, from, to


def declared(tier: str, vpc_cidr: str) -> set[Entry]:
    ingress, egress = nacl_rules(tier, vpc_cidr)
    return {_declared_entry(direction, r) for direction, rules in (("ingress", ingress), ("egress", egress))
            for r in rules}


def _declared_entry(direction: str, r: dict[str, Any]) -> Entry:
    protocol = PROTOCOLS.get(str(r["protocol"]), str(r["protocol"]))
    ports = (None, None) if protocol == "-1" else (int(r["from_port"]), int(r["to_port"]))
    return direction, int(r["rule_no"]), protocol, r["action"], r["cidr_block"], *ports


def live(acl: dict[str, Any]) -> set[Entry]:
    """The NACL's entries in the same shape (IPv4 only; the implicit deny-all left out)."""
    entries = set()
    for e in acl.get("Entries", []):
        if e["RuleNumber"] == DEFAULT_RULE or "CidrBlock" not in e:
            continue
        protocol = PROTOCOLS.get(str(e["Protocol"]), str(e["Protocol"]))
        ports = (None, None) if protocol == "-1" else (e.get("PortRange", {}).get("From"), e.get("PortRange", {}).get("To"))
        entries.add(("egress" if e["Egress"] else "ingress", e["RuleNumber"], protocol, e["RuleAction"],
                     e["CidrBlock"], *ports))
    return entries


def describe(entries: set[Entry]) -> str:
    return ", ".join(f"{d} #{n} {a} {p} {c}" + (f" {f}-{t}" if f is not None else "")
                     for d, n, p, a, c, f, t in sorted(entries)) or "none"


def early_allows(extra: set[Entry], want: set[Entry]) -> list[Entry]:
    """Extra allow rules numbered before the first declared deny of the same direction."""
    first_deny = {d: min((n for d2, n, _, a, *_ in want if d2 == d and a == "deny"), default=0)
                  for d in ("ingress", "egress")}
    return sorted(e for e in extra if e[3] == "allow" and e[1] < first_deny[e[0]])


@check("network.nacl-rules")
def nacl_rule_contents(v: VerifyContext) -> Iterator[Row]:
    acls = v.client("ec2").describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["NetworkAcls"]
    for tier in ("public", "private"):
        name = naming.name(v.config, f"nacl-{tier}")
        subnets = set(v.outputs[f"{tier}_subnet_ids"])
        # found through the tier's subnets (not by tag), so a re-tagged or swapped NACL still shows
        acl = next((a for a in acls if subnets & {x["SubnetId"] for x in a["Associations"]} and not a.get("IsDefault")),
                   None)
        want = declared(tier, v.config.vpc_cidr)
        if acl is None:
            yield check_row(name, False, f"{len(want)} declared rules", "no custom NACL on the tier's subnets",
                            "run `hainfra up` (the tier's NACL is missing)")
            continue
        have = live(acl)
        missing, extra = want - have, have - want
        found = "as declared" if not (missing or extra) else "; ".join(filter(None, [
            f"missing: {describe(missing)}" if missing else "", f"extra: {describe(extra)}" if extra else ""]))
        early = early_allows(extra, want)
        if early:
            found = f"allow rule(s) {', '.join(f'#{e[1]}' for e in early)} precede the admin-port denies; {found}"
        label = f"{acl['NetworkAclId']} ({tags_of(acl.get('Tags')).get('Name', name)})"
        yield check_row(label, not (missing or extra), f"exactly the {len(want)} declared {tier} rules", found,
                        f"restore the entries with `hainfra up` or ec2 replace/delete-network-acl-entry on "
                        f"{acl['NetworkAclId']}")


@check("network.default-nacl-closed")
def default_nacl_closed(v: VerifyContext) -> Iterator[Row]:
    """The VPC's default NACL keeps only the implicit deny-all (its subnets are network.nacl-association's)."""
    acls = v.client("ec2").describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}, {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    for acl in acls:
        rules = [e for e in acl.get("Entries", []) if e["RuleNumber"] < DEFAULT_RULE]
        allows = [f"{'egress' if e['Egress'] else 'ingress'} {e['RuleNumber']} {e.get('CidrBlock', '')}"
                  for e in rules if e["RuleAction"] == "allow"]
        yield check_row(acl["NetworkAclId"], not allows, "only the implicit deny-all (no allow rule)",
                        f"{len(allows)} allow rule(s): {', '.join(allows)}" if allows else "deny-all only",
                        f"ec2 delete-network-acl-entry --network-acl-id {acl['NetworkAclId']} --rule-number N "
                        "[--egress] for each listed rule")
