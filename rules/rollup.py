"""Org totals by the 三晋先锋 formulas, for a whole tree in one linear pass.

- 支部总积分 = 支部积分 + 党员总积分 / 党员数量, leaving exempt members (使用智能手机不便, approved) out of both
  sums; a branch with no counted member has average 0.
- 党总支总积分 = 党总支积分 + 支部总积分 / 支部数量, over the branches below it.
- 党委总积分 = 党委积分 + 支部总积分 / 支部数量, over every branch in its subtree (through 党总支 and nested
  党委 alike). A 党总支 or 党委 without branches has average 0.

A member counts in the branch given for them; one given under a group (党小组) counts in the group's
average and in its branch's. Groups get a row by the branch formula over members given under them.
"""
from __future__ import annotations

from typing import Hashable, Iterable, Mapping, NamedTuple

ORG_KINDS = ("committee", "general_branch", "branch", "group")
_UPPER = ("committee", "general_branch")


class OrgTotal(NamedTuple):
    """own points, the averaged term (members' for a branch or group, branches' above), own + average."""

    own: float
    members_average: float
    total: float


def roll_up(parents: Mapping[Hashable, Hashable | None], kinds: Mapping[Hashable, str],
            own: Mapping[Hashable, float], members: Iterable[tuple[Hashable, float, bool]]) -> dict[Hashable, OrgTotal]:
    """{org_id: OrgTotal} for every org in `parents` from own points and (org_id, total, exempt) members."""
    _check_kinds(parents, kinds)
    sums, counts = _fold_groups(*_member_sums(members, kinds), parents, kinds)
    result: dict[Hashable, OrgTotal] = {}
    for org_id in reversed(_by_depth(parents)):   # deepest first: a branch's total before its parents need it
        kind, parent = kinds[org_id], parents[org_id]
        result[org_id] = _total(own.get(org_id, 0), sums.get(org_id, 0), counts.get(org_id, 0))
        if parent is None or kind == "group":
            continue
        branch_sum, branch_count = ((result[org_id].total, 1) if kind == "branch"
                                    else (sums.get(org_id, 0), counts.get(org_id, 0)))
        sums[parent] = sums.get(parent, 0) + branch_sum
        counts[parent] = counts.get(parent, 0) + branch_count
    return {org_id: result[org_id] for org_id in parents}


def _total(own: float, total_sum: float, count: int) -> OrgTotal:
    average = total_sum / count if count else 0.0
    return OrgTotal(own, average, own + average)


def _check_kinds(parents: Mapping, kinds: Mapping) -> None:
    for org_id, parent in parents.items():
        if kinds.get(org_id) not in ORG_KINDS:
            raise ValueError(f"org {org_id!r}: unknown kind {kinds.get(org_id)!r}; one of {ORG_KINDS}")
        if parent is not None and parent not in parents:
            raise ValueError(f"org {org_id!r}: parent {parent!r} is not in the tree")
        if kinds[org_id] == "group" and (parent is None or kinds.get(parent) != "branch"):
            raise ValueError(f"group {org_id!r} must hang under a branch")
        if kinds[org_id] != "group" and parent is not None and kinds.get(parent) not in _UPPER:
            raise ValueError(f"org {org_id!r} must hang under a committee or general branch")


def _member_sums(members: Iterable[tuple[Hashable, float, bool]], kinds: Mapping) -> tuple[dict, dict]:
    """Sums and counts of non-exempt member totals per branch and per group (groups fold into branches)."""
    sums: dict[Hashable, float] = {}
    counts: dict[Hashable, int] = {}
    for org_id, total, exempt in members:
        if not exempt:
            sums[org_id] = sums.get(org_id, 0) + total
            counts[org_id] = counts.get(org_id, 0) + 1
    for org_id in sums:
        if kinds.get(org_id) not in ("branch", "group"):
            raise ValueError(f"members must belong to a branch or group, not org {org_id!r}")
    return sums, counts


def _fold_groups(sums: dict, counts: dict, parents: Mapping, kinds: Mapping) -> tuple[dict, dict]:
    """Add each group's member sums to its branch (the group keeps its own for its row)."""
    for org_id in [org_id for org_id in sums if kinds[org_id] == "group"]:
        branch = parents[org_id]
        sums[branch] = sums.get(branch, 0) + sums[org_id]
        counts[branch] = counts.get(branch, 0) + counts[org_id]
    return sums, counts


def _by_depth(parents: Mapping) -> list:
    """Every org, shallowest first (a parent before its children); ValueError on a cycle."""
    depth: dict[Hashable, int] = {}
    for start in parents:
        path = []
        node = start
        while node is not None and node not in depth:
            path.append(node)
            if len(path) > len(parents):
                raise ValueError(f"the org tree has a cycle through {start!r}")
            node = parents[node]
        base = -1 if node is None else depth[node]
        for offset, org_id in enumerate(reversed(path), start=1):
            depth[org_id] = base + offset
    buckets: list[list] = []
    for org_id, level in depth.items():
        while len(buckets) <= level:
            buckets.append([])
        buckets[level].append(org_id)
    return [org_id for bucket in buckets for org_id in bucket]
