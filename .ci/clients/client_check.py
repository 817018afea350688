"""The generated Python client against a live service (.ci/clients/run starts it).

Lists countries, creates a partner, patches one field of it with its ETag, follows a cursor and
reads one country shaped by fields=, reads a 404 into ProblemDetails, all through the client that openapi-python-client generated
from openapi/openapi.json. Exits non-zero on any unexpected status or body that does not parse.

    BASE_URL=http://127.0.0.1:18282 TOKEN=... python client_check.py
"""

import os
import sys
import uuid
from http import HTTPStatus
from typing import TypeVar

from coop_registry_client import AuthenticatedClient
from coop_registry_client.api.countries import get_country, list_countries
from coop_registry_client.api.partners import create_partner, get_partner, update_partner
from coop_registry_client.models import (
    Country,
    CountryPage,
    CountryField,
    CountryShaped,
    Partner,
    PartnerInput,
    PartnerKind,
    PartnerPatch,
    ProblemDetails,
)
from coop_registry_client.types import Response


T = TypeVar("T")


class CheckFailed(Exception):
    pass


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def parsed(response: Response[object], status: HTTPStatus, kind: type[T], step: str) -> T:
    """The parsed body, when the status and the generated model are the expected ones."""
    expect(
        response.status_code == status,
        f"{step}: expected {status.value}, got {response.status_code.value}: {response.content[:500]!r}",
    )
    expect(
        isinstance(response.parsed, kind),
        f"{step}: the body did not parse into {kind.__name__}: {response.parsed!r}",
    )
    return response.parsed  # type: ignore[return-value]


def main() -> None:
    base_url = os.environ["BASE_URL"]
    client = AuthenticatedClient(base_url=base_url, token=os.environ["TOKEN"], raise_on_unexpected_status=True)

    # 1. Countries, filtered: Kazakhstan is there, as a typed Country.
    page = parsed(list_countries.sync_detailed(client=client, q="Kazakh"), HTTPStatus.OK, CountryPage, "list countries")
    expect(all(isinstance(c, Country) for c in page.items), "list countries: items are not Country models")
    expect([c.code for c in page.items] == ["KZ"], f"list countries q=Kazakh: expected KZ, got {page.items!r}")
    print(f"countries: q=Kazakh -> {page.items[0].code} {page.items[0].name}")

    # 2. A partner, created from the typed input: 201, an ETag, version 1.
    name = f"Client check (Python) {uuid.uuid4().hex[:12]}"
    created_response = create_partner.sync_detailed(
        client=client,
        body=PartnerInput(name=name, kind=PartnerKind.NATIONAL_NGO, country_code="KZ", acronym="PYC"),
    )
    created = parsed(created_response, HTTPStatus.CREATED, Partner, "create partner")
    etag = created_response.headers.get("etag")
    expect(etag == f'"{created.version}"', f"create partner: ETag {etag!r}, version {created.version}")
    expect(created.name == name and created.version == 1, f"create partner: got {created!r}")
    print(f"partner: created id {created.id}, ETag {etag}")

    # 3. A merge patch of one field, conditional on that ETag; the other fields stay.
    patched_response = update_partner.sync_detailed(
        created.id, client=client, body=PartnerPatch(acronym="PYC2"), if_match=etag
    )
    patched = parsed(patched_response, HTTPStatus.OK, Partner, "patch partner")
    expect(patched.acronym == "PYC2", f"patch partner: acronym is {patched.acronym!r}")
    expect(
        patched.name == name and patched.kind == PartnerKind.NATIONAL_NGO and patched.country_code == "KZ",
        f"patch partner: other fields changed: {patched!r}",
    )
    expect(patched.version == 2, f"patch partner: version {patched.version}, expected 2")
    new_etag = patched_response.headers.get("etag")
    expect(new_etag == '"2"', f"patch partner: new ETag {new_etag!r}")
    stale = update_partner.sync_detailed(created.id, client=client, body=PartnerPatch(acronym="PYC3"), if_match=etag)
    stale_problem = parsed(stale, HTTPStatus.PRECONDITION_FAILED, ProblemDetails, "patch with a stale ETag")
    print(f"partner: patched acronym, version {patched.version}, ETag {new_etag}; stale ETag -> {stale_problem.code}")

    # 4. A cursor, followed: the second page of two countries is not the first.
    first = parsed(list_countries.sync_detailed(client=client, limit=2), HTTPStatus.OK, CountryPage, "countries page 1")
    expect(len(first.items) == 2, f"countries page 1: {len(first.items)} items")
    expect(isinstance(first.next_cursor, str), f"countries page 1: next_cursor is {first.next_cursor!r}")
    assert isinstance(first.next_cursor, str)
    second = parsed(
        list_countries.sync_detailed(client=client, limit=2, cursor=first.next_cursor),
        HTTPStatus.OK,
        CountryPage,
        "countries page 2",
    )
    codes1, codes2 = [c.code for c in first.items], [c.code for c in second.items]
    expect(len(codes2) == 2 and not set(codes1) & set(codes2), f"cursor: page 1 {codes1}, page 2 {codes2}")
    print(f"cursor: page 1 {codes1}, page 2 {codes2}")

    # 5. A shaped read: `fields=name` parses into the shaped model, with the key and the name only.
    shaped_response = get_country.sync_detailed("KZ", client=client, fields=[CountryField.NAME])
    shaped = parsed(shaped_response, HTTPStatus.OK, CountryShaped, "shaped read")
    expect(shaped.to_dict() == {"code": "KZ", "name": "Kazakhstan"}, f"shaped read: got {shaped.to_dict()!r}")
    tag = shaped_response.headers.get("etag", "")
    expect(tag.startswith('W/"'), f"shaped read: ETag {tag} is not weak")
    print(f"shaped read: fields=name -> {shaped.to_dict()}, ETag {tag}")

    # 6. A 404, read into the problem type.
    problem = parsed(get_partner.sync_detailed(999999999, client=client), HTTPStatus.NOT_FOUND, ProblemDetails, "404")
    expect(problem.code == "not_found" and problem.status == 404, f"404: got {problem!r}")
    print(f"404: {problem.code}: {problem.detail}")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"client_check.py: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    print("client_check.py: all six steps OK")
