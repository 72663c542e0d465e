"""Spaces and sites: where an identifier is unique, and which plant a space belongs to.

A space is where an identifier is unique: a source system (``erp``, ``mes``) of a plant. A
company with several plants loads each plant's systems into the plant's own spaces, written
``<site>/<system>`` (``hamburg/erp``, ``site-02/mes``): the *site* of a space is what comes
before its last ``/``, and a space without one belongs to the unnamed site ``""``. A site is the
set of its spaces; matching compares the records of one site only, and a lookup of a mapping
placed in a site searches that site's spaces only.

Example:
    >>> site_of("site-02/mes"), site_of("mes")
    ('site-02', '')
    >>> space_in_site("site-02", "mes")
    'site-02/mes'
"""

from __future__ import annotations

import re

#: What separates a site from the system in a space's name.
SITE_SEPARATOR = "/"
#: The longest space a request to the API may name.
MAX_SPACE_LENGTH = 200
#: The longest site name: a system's name must still fit behind it.
MAX_SITE_LENGTH = 100
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def site_of(space: str) -> str:
    """The site a space belongs to: what comes before its last ``/`` ("" when it has none)."""
    return str(space).rpartition(SITE_SEPARATOR)[0]


def site_sql(column: str) -> str:
    """SQL of the site of the space in ``column``, as :func:`site_of` gives it."""
    return f"regexp_replace({column}, '{SITE_SEPARATOR}?[^{SITE_SEPARATOR}]*$', '')"


def space_in_site(site: str, space: str) -> str:
    """The space of ``site`` that holds what ``space`` holds at a plant on its own."""
    return f"{site}{SITE_SEPARATOR}{space}" if site else space


def site_problem(name: object) -> str | None:
    """Why ``name`` cannot name a site, or ``None`` when it can.

    A site is one or more names separated by ``/`` (a site within a region: ``eu/hamburg``),
    each of letters, digits, ``.``, ``_`` and ``-`` beginning with a letter or digit, at most
    :data:`MAX_SITE_LENGTH` characters in all: it goes in front of the name of every space of
    the site, and requests to the API name a space in at most :data:`MAX_SPACE_LENGTH`.
    """
    if not isinstance(name, str) or not name:
        return f"a site is a non-empty name, found {name!r}"
    if len(name) > MAX_SITE_LENGTH:
        return f"a site has at most {MAX_SITE_LENGTH} characters, found {len(name)}"
    for segment in name.split(SITE_SEPARATOR):
        if not _SEGMENT.fullmatch(segment):
            return (
                "a site is made of letters, digits, '.', '_' and '-' (beginning with a letter "
                f"or digit), with '/' between the names of nested sites; found {name!r}"
            )
    return None
