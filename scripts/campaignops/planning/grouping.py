"""Cut a step into groups (one BPS run each): none / values / ranges / count (a file) / query (Butler)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..domain.errors import PlanError
from ..domain.model import PENDING_QUERY, Campaign, Group, Split, Step, is_pending, pending_at
from ..ports import DataIdSource

ALL = "all"

DataId = int | str
FrozenGroups = tuple[tuple[str, str, int], ...]  # (name, query, size), as ledger.Ledger.groups_of returns

# Group names end up in RUN collection names and file names: keep them to a portable alphabet.
_GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def literal(value: DataId) -> str:
    """`value` as a data-query literal: integers bare, strings in single quotes."""
    if type(value) is int:  # the common case, thousands of times per plan: keep it cheap
        return str(value)
    if isinstance(value, bool):  # bool is an int in Python; YAML `true` is never a data ID
        raise PlanError(f"{value!r} is not a data ID value (expected an integer or a string)")
    if isinstance(value, int):
        return str(value)
    if "'" in value or '"' in value or "\\" in value:
        # The query language has no escape for quotes, and bps passes the query in double quotes.
        raise PlanError(f"data ID value {value!r} contains a quote or backslash; "
                        "data-query values cannot carry them")
    return f"'{value}'"


def in_query(dimension: str, values: Sequence[DataId]) -> str:
    """`dim = v` for one value, `dim IN (a, b)` for several."""
    if len(values) == 1:
        return f"{dimension} = {literal(values[0])}"
    return f"{dimension} IN ({', '.join(literal(v) for v in values)})"


def site_part(step: str, site: str) -> str:
    """The ledger's key for one site's share of a residency split, frozen by that site's runner (a runner per
    facility asks its own Butler only): `step1@local-frdf`."""
    return f"{step}@{site}"


def frozen_of(campaign: Campaign, step: Step, frozen: Mapping[str, FrozenGroups]) -> FrozenGroups | None:
    """A step's frozen groups: recorded whole (one job asked every site), or, for a residency split its sites'
    runners froze each their own share, the shares in site order, a site not frozen yet still pending (so no
    step that needs every site starts before all have answered)."""
    if step.name in frozen or step.split.by != "residency":
        return frozen.get(step.name)
    parts = {site: frozen.get(site_part(step.name, site)) for site in campaign.sites}
    if all(part is None for part in parts.values()):
        return None
    return tuple(g for site, part in parts.items()
                 for g in (part if part is not None else ((pending_at(site), "", 0),)))


def resident_at(campaign: Campaign, step: Step, site: str, ids_source: DataIdSource) -> FrozenGroups:
    """One site's share of a residency split, asked of that site's Butler only: its group, or none when the
    site holds no value of the split dimension."""
    dim = _dimension(step.split, f"step {step.name}")
    found = sorted(set(ids_source.resident(campaign, step, site)), key=lambda v: (isinstance(v, str), v))
    return ((site, in_query(dim, found), len(found)),) if found else ()


def groups_for(campaign: Campaign, step: Step, *, frozen: FrozenGroups | None = None,
               ids_source: DataIdSource | None = None) -> tuple[Group, ...]:
    """The groups of `step`, in order. Raises PlanError when the split cannot be made."""
    split = step.split
    where = f"campaign {campaign.name}, step {step.name}"
    if split.by == "none":
        groups: tuple[Group, ...] = (Group(ALL, "", None),)
    elif split.by == "values":
        groups = _by_values(split, where)
    elif split.by == "count":
        groups = _by_count(campaign, split, frozen, where)
    elif split.by == "query":
        groups = _by_query(campaign, step, frozen, ids_source, where)
    elif split.by == "residency":
        groups = _by_residency(campaign, step, frozen, ids_source, where)
    else:
        raise PlanError(f"{where}: unknown split {split.by!r}; use none, values, count or query")
    _check_names(groups, where)
    return groups


def _dimension(split: Split, where: str) -> str:
    if not split.dimension:
        raise PlanError(f"{where}: split by {split.by} needs a 'dimension' (e.g. visit or tract)")
    return split.dimension


def _by_values(split: Split, where: str) -> tuple[Group, ...]:
    dim = _dimension(split, where)
    if not split.values and not split.ranges:
        raise PlanError(f"{where}: split by values needs 'values' or 'ranges'")
    groups = []
    for entry in split.values:
        if not entry:
            raise PlanError(f"{where}: an empty list in split values makes an empty group; remove it")
        try:
            query = in_query(dim, entry)
        except PlanError as exc:
            raise PlanError(f"{where}: {exc}") from None
        groups.append(Group(dim + "-".join(str(v) for v in entry), query, len(entry)))
    for low, high, name in split.ranges:
        if low > high:
            raise PlanError(f"{where}: range min {low} is above max {high}; swap them")
        groups.append(Group(name or f"{dim}{low}-{high}", f"{dim} >= {low} AND {dim} <= {high}", None))
    return tuple(groups)


def _read_ids(campaign: Campaign, split: Split, where: str) -> list[DataId]:
    """IDs of a count split's source file, in file order; one per line, '#' starts a comment."""
    if not split.source:
        raise PlanError(f"{where}: split by count needs a 'source' file with one ID per line")
    if campaign.path is None:
        # Never fall back to the current directory: the plan must not depend on where it runs.
        raise PlanError(f"{where}: split by count reads {split.source} next to campaign.yaml, "
                        "but this campaign was not loaded from a file")
    path = campaign.path.parent / split.source
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{where}: split source {path} does not exist; create it with one "
                        f"{split.dimension} ID per line, next to campaign.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{where}: cannot read split source {path}: {exc}") from None
    ids: list[DataId] = []
    seen: dict[DataId, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        token = (line.split("#", 1)[0] if "#" in line else line).strip()
        if not token:
            continue
        # Every splittable dimension (visit, exposure, tract, detector, patch) has integer IDs.
        if not (token.isascii() and token.isdigit()):
            raise PlanError(f"{path}:{number}: {token!r} is not an integer {split.dimension} ID")
        value = int(token)
        if value in seen:
            # A repeated ID would be processed twice, in two groups writing the same datasets.
            raise PlanError(f"{path}:{number}: {split.dimension} {value} already listed "
                            f"on line {seen[value]}")
        seen[value] = number
        ids.append(value)
    if not ids:
        raise PlanError(f"{where}: split source {path} lists no IDs")
    return ids


def _chunks(split: Split, ids: Sequence[DataId], where: str) -> tuple[Group, ...]:
    """Consecutive chunks of max_size in the given order: appending IDs never renames a group."""
    dim = _dimension(split, where)
    size = split.max_size
    if not size or size < 1:
        raise PlanError(f"{where}: split by {split.by} needs max_size >= 1")
    return tuple(Group(f"g{i // size:04d}", in_query(dim, ids[i:i + size]), len(ids[i:i + size]))
                 for i in range(0, len(ids), size))


_ID_IN_QUERY = re.compile(r"-?\d+")


def _by_count(campaign: Campaign, split: Split, frozen: FrozenGroups | None, where: str) -> tuple[Group, ...]:
    """Chunks of the source file; once the groups are frozen in the ledger (first apply), IDs added to
    the file form new groups after them, so no ID ever moves into a group that may have been submitted."""
    ids = _read_ids(campaign, split, where)
    if not frozen:
        return _chunks(split, ids, where)
    kept = tuple(Group(name, query, size) for name, query, size in frozen)
    # The frozen queries are ours (`dim = v` / `dim IN (a, b)`): their integers are the IDs taken.
    taken = {int(v) for _, query, _ in frozen
             for v in _ID_IN_QUERY.findall(query.partition(" IN ")[2] or query.partition("=")[2])}
    rest = [i for i in ids if i not in taken]
    first = 1 + max((int(name[1:]) for name, _, _ in frozen if re.fullmatch(r"g\d+", name)), default=-1)
    added = _chunks(split, rest, where) if rest else ()
    return kept + tuple(Group(f"g{first + int(g.name[1:]):04d}", g.query, g.size) for g in added)


def _by_query(campaign: Campaign, step: Step, frozen: FrozenGroups | None,
              ids_source: DataIdSource | None, where: str) -> tuple[Group, ...]:
    if frozen:
        # Recorded at first apply: re-plans must not move data IDs between groups already submitted.
        return tuple(Group(name, query, size) for name, query, size in frozen)
    if ids_source is None:
        return (Group(PENDING_QUERY, "", None),)
    ids = list(ids_source.data_ids(campaign, step))
    if not ids:
        raise PlanError(f"{where}: the Butler query for {step.split.dimension} found no data IDs; "
                        "check the campaign and step data_query and the input collections")
    # The Butler returns rows in no promised order: sort so the first plan does not depend on it.
    ordered = sorted(set(ids), key=lambda v: (isinstance(v, str), v))
    return _chunks(step.split, ordered, where)


def _by_residency(campaign: Campaign, step: Step, frozen: FrozenGroups | None,
                  ids_source: DataIdSource | None, where: str) -> tuple[Group, ...]:
    """One group per site, named after it, holding the values of the split dimension resident in that site's
    Butler; recorded at first apply like a query split, so data never moves between sites afterwards."""
    if frozen:  # a share its site's runner has not frozen yet is pending (its size unknown)
        return tuple(Group(name, query, None if is_pending(name) else size) for name, query, size in frozen)
    if ids_source is None:  # the plan before the first apply: one group per site, its values still to ask
        return tuple(Group(pending_at(site), "", None) for site in campaign.sites) or (Group(PENDING_QUERY, "", None),)
    if not campaign.multisite:
        raise PlanError(f"{where}: split by residency places one group at each site: list the sites "
                        "in the campaign's 'sites'")
    dim = _dimension(step.split, where)
    groups = []
    for site in campaign.sites:
        found = sorted(set(ids_source.resident(campaign, step, site)), key=lambda v: (isinstance(v, str), v))
        if found:
            groups.append(Group(site, in_query(dim, found), len(found)))
    if not groups:
        raise PlanError(f"{where}: no site's Butler holds any {dim} under the step's data query; check the "
                        "data_query, the split's datasets and each site profile's butler.repo")
    return tuple(groups)


def _check_names(groups: tuple[Group, ...], where: str) -> None:
    seen: set[str] = set()
    for g in groups:
        if not _GROUP_NAME.match(g.name):
            raise PlanError(f"{where}: group name {g.name!r} may only use letters, digits, '_', '.' and '-' "
                            "(it becomes part of collection and file names)")
        if g.name in seen:
            raise PlanError(f"{where}: two groups are named {g.name!r}; group names must be unique in a step")
        seen.add(g.name)
