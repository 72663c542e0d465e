r"""XML sources: records chosen by a path with namespaces, parsed safely and streamed.

A mapping reads an XML document as a list of records, the elements its ``records`` path selects::

    source:
      format: xml
      namespaces: {b2mml: "http://www.mesa.org/xml/B2MML"}
      records: /b2mml:ProductionPerformance/b2mml:ProductionResponse

A path that starts with ``/`` is anchored at the document's root element; one without it selects
matching elements at any depth (``b2mml:SegmentResponse``, ``Orders/Order``). A step with a prefix
matches the local name in the namespace (or any of the namespaces) the prefix stands for; a step
without one matches the local name in any namespace, so a document with a default namespace
(``xmlns="..."``) is read without declaring it; ``*`` matches any element. Without ``records``,
every child of the root element is a record.

Each record becomes a nested dictionary, so that what the JSON reader does applies unchanged
(``explode``, nested fields as dotted paths): child elements by local name, an element without
children as its text (``None`` when empty), an element with children as a dictionary, a repeated
element as a list; attributes as ``@name``, beside the element's own path (``Quantity.@unitCode``,
``ID.@schemeName``, an attribute of a leaf sits beside its text); the text of the record element
itself, or of an element that also has children, as ``#text``.

The prolog of the document, up to its root element, is parsed with :mod:`defusedxml`: a document
type declaration (DTD), and with it every entity declaration and external reference, is refused
before anything is expanded or fetched, naming what was refused. A DTD can only stand there (XML
1.0, ``document ::= prolog element Misc*``), so the rest of the same bytes is then streamed by
the standard library's C parser (expat, as under defusedxml), about twice as fast as defusedxml's
pure-Python one; an entity reference it meets without a DTD is an error, never an expansion.
Elements nested deeper than ``max_depth`` levels, and records of more than ``max_record_elements``
elements, stop the read with a message saying so. Each record element is converted and dropped when
it ends, so a large document never sits in memory as a tree.

A recursive hierarchy (``source: {recursive: {name: Name, separator: "\\"}}``: an asset tree, an
equipment hierarchy) has records inside records: every element inside a record that the path's
last step names is then a record of its own, and no part of the one around it. Each such record
has pseudo-fields that no element or attribute can be called (XML names never start with ``#``):
``#depth`` (1 for a record the path selects, 2 for one inside it, ...), ``#path`` (the ``name``
of each record from the outermost down to it, joined by ``separator``) and ``#parent`` (the
texts and attributes of the record around it, its ``#path`` and ``#depth`` included). Records
are streamed as they end, so a record's nested records come out before it; each is numbered by
where it starts, in document order. What a nested record learns of its parent is what the
parent wrote before its first nested record (as asset exports write an element's own fields).

Every record of a document whose root element has attributes carries them as ``#root``
(``#root.@Database``): what an export says about itself. A column may pick one item of a
repeated element by the text of one of its children (or attributes):
``AFAttribute[Name=Manufacturer].Value`` is the ``Value`` of the ``AFAttribute`` whose ``Name``
is ``Manufacturer`` (see :class:`Selector`).

Where a load reads one file through several mappings (a connector pack's), :func:`parse_once`
keeps the records of a file it parsed, compacted, for the next mapping of the same file.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, ParseError

from defusedxml import (  # type: ignore[import-untyped]
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]

from factorybrain.exceptions import IngestError

#: Element levels a document may nest, its root counting as one (mapping option ``max_depth``).
MAX_DEPTH = 64
#: Elements one record may hold, its own element included (``max_record_elements``).
MAX_RECORD_ELEMENTS = 100_000
#: Records of the document when the mapping names none: every child of the root element.
ALL_CHILDREN = "/*/*"
#: Bytes of compacted records :func:`parse_once` keeps, over all the files of one load.
PARSED_BYTES = 256 << 20
#: The key of an element's own text where its path holds a record or a dictionary.
TEXT_KEY = "#text"
#: Pseudo-fields of a record of a recursive hierarchy: its level (1 for the outermost), its path
#: of names, and what its parent record wrote before it.
DEPTH_KEY, PATH_KEY, PARENT_KEY = "#depth", "#path", "#parent"
#: Pseudo-field of every record of a document whose root element has attributes: those
#: attributes (``#root.@Database``: what an export says about itself).
ROOT_KEY = "#root"

_NAME = re.compile(r"(?:(?P<prefix>[A-Za-z_][\w.-]*):)?(?P<local>[A-Za-z_][\w.-]*|\*)")
_REFUSED = "XML sources may have no DTD, no entity declarations and no external references"
#: A step of a column's path that picks an item of a repeated element (``Attribute[Name=Model]``).
_SELECTOR = re.compile(r"(?P<name>[^\[\]=]+)\[(?P<key>[^\[\]=]+)=(?P<value>[^\[\]]*)\]")
#: A dot between two steps of a column's path, not one inside a selector's brackets.
_STEP_DOT = re.compile(r"\.(?![^\[\]]*\])")


@dataclass(frozen=True)
class XmlName:
    """An element name as a mapping writes it (``b2mml:SegmentResponse``, ``Equipment``, ``*``).

    Attributes:
        written: The name as written, for messages.
        local: The local name (``*``: any element).
        namespaces: The namespace URIs its prefix stands for; ``None`` (no prefix): any
            namespace, or none.
    """

    written: str
    local: str
    namespaces: frozenset[str] | None = None

    def matches(self, tag: str) -> bool:
        """Whether an element's tag (``{uri}local`` or ``local``) is this name."""
        uri, local = split_tag(tag)
        if self.local != "*" and local != self.local:
            return False
        return self.namespaces is None or uri in self.namespaces


@dataclass(frozen=True)
class RecordPath:
    """The elements that are records: a path of names, from the root or at any depth."""

    written: str
    steps: tuple[XmlName, ...]
    #: From the root element (``/a/b``), else ending at any depth (``a/b``).
    anchored: bool


@dataclass(frozen=True)
class Recursive:
    r"""Records nest: an element the records path names, inside a record, is a record too.

    Attributes:
        name: The child element (``Name``) or attribute (``@id``) whose text names a record in
            its ``#path``, in any case.
        separator: What joins the names of a ``#path`` (an AF element path: ``\``).
    """

    name: str
    separator: str = "/"


@dataclass(frozen=True)
class RecordSpec:
    """Everything that decides the records read from a file (a key of :func:`parse_once`)."""

    path: RecordPath
    max_depth: int = MAX_DEPTH
    max_elements: int = MAX_RECORD_ELEMENTS
    recursive: Recursive | None = None


def split_tag(tag: str) -> tuple[str | None, str]:
    """``{uri}local`` -> ``(uri, local)``; a tag without a namespace -> ``(None, tag)``."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return None, tag


def parse_name(text: str, namespaces: dict[str, tuple[str, ...]]) -> XmlName:
    """Read an element name as a mapping writes it (``prefix:Local``, ``Local`` or ``*``).

    Raises:
        ValueError: If it is no name, or its prefix is not among ``namespaces``.
    """
    found = _NAME.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is no element name (expected Name or prefix:Name)")
    prefix, local = found.group("prefix"), found.group("local")
    if prefix is None:
        return XmlName(text.strip(), local)
    if prefix not in namespaces:
        declared = ", ".join(sorted(namespaces)) or "none"
        raise ValueError(
            f"the prefix {prefix!r} of {text!r} is not declared in 'namespaces' (declared: "
            f"{declared})"
        )
    return XmlName(text.strip(), local, frozenset(namespaces[prefix]))


def parse_record_path(text: str, namespaces: dict[str, tuple[str, ...]]) -> RecordPath:
    """Read a ``records`` path (``/b2mml:ProductionPerformance/b2mml:ProductionResponse``).

    Raises:
        ValueError: If a step is empty or no name, or uses an undeclared prefix.
    """
    anchored = text.startswith("/")
    parts = (text[1:] if anchored else text).split("/")
    if not text.strip() or any(not part.strip() for part in parts):
        raise ValueError(
            f"{text!r} is no path of elements (expected names between '/', such as "
            "/Root/Record, or Parent/Record for records at any depth)"
        )
    steps = tuple(parse_name(part, namespaces) for part in parts)
    return RecordPath(text, steps, anchored)


# -- reading -------------------------------------------------------------------------------------
class RecordReader:
    """The records of one XML file, each a nested dictionary.

    Iterate it once (:meth:`numbered` gives each record's number too). It parses the file,
    unless :func:`parse_once` is in effect and the same file was parsed for the same records
    before; :attr:`sha256` is set when the iteration ends. Records come in document order,
    except that in a recursive hierarchy a record's nested records come before it.
    """

    def __init__(self, path: Path, spec: RecordSpec) -> None:
        self.path = path
        self.spec = spec
        self.sha256: str | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, record in self.numbered():
            yield record

    def numbered(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Each record with its number: where it starts among the records, from 1."""
        parsed = _PARSED.get()
        key = (*file_key(self.path), self.spec)
        kept = parsed.get(key) if parsed is not None else None
        if kept is not None:
            self.sha256 = kept.sha256
            for blob in kept.records:
                yield marshal.loads(blob)
            return
        compact: list[bytes] | None = [] if parsed is not None else None
        size = 0
        digest = hashlib.sha256()
        for numbered in self._parse(digest):
            if compact is not None and parsed is not None:
                blob = marshal.dumps(numbered)
                size += len(blob)
                compact = compact if size <= parsed.limit else None
                if compact is not None:
                    compact.append(blob)
            yield numbered
        self.sha256 = digest.hexdigest()
        if compact is not None and parsed is not None:
            parsed.put(key, _Parsed(compact, self.sha256, size))

    def _parse(self, digest: Any) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open("rb") as raw:
            source = _Rewound(_Hashing(raw, digest))
            try:
                _guard(source)
                yield from self._records(ElementTree.iterparse(source, events=("start", "end")))
            except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as error:
                raise refusal(self.path, error) from None
            except ParseError as error:
                raise IngestError(f"{self.path}: not well-formed XML: {error}") from None

    def _records(
        self, events: Iterable[tuple[str, Element]]
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Convert each record element when it ends, and drop every element done with."""
        spec = self.spec
        matcher = _Matcher(spec.path)
        steps = len(spec.path.steps)
        recursive = spec.recursive
        open_elements: list[Element] = []
        #: Anchored paths: whether the open elements so far follow the path's steps.
        on_path: list[bool] = []
        #: The records open, outermost first (several only in a recursive hierarchy).
        open_records: list[_OpenRecord] = []
        records = 0
        # Whether the records' parent (the path less its last step) is in the document: where it
        # is, no record is an empty export; where it is not, the path is wrong.
        parent_found = steps == 1
        root = None
        about: dict[str, str] = {}  # the root element's attributes
        for event, element in events:
            if event == "start":
                depth = len(open_elements) + 1
                if depth > spec.max_depth:
                    raise self._too_deep(open_elements, element)
                if open_records:
                    around = open_records[-1]
                    if recursive is not None and matcher.step(steps - 1, element.tag):
                        records += 1
                        incomplete = open_elements[around.depth : around.depth + 1] or [element]
                        self._learn(around, incomplete[0], recursive)
                        open_records.append(_OpenRecord(element, depth, records, around))
                    else:
                        around.elements += 1
                        if around.elements > spec.max_elements:
                            raise self._too_large(around)
                else:
                    if root is None:
                        root = element.tag
                        about = {"@" + _local(k): v for k, v in element.attrib.items()}
                    follows = matcher.follows(depth, on_path, element.tag)
                    on_path.append(follows)
                    if matcher.selects(depth, follows, open_elements, element.tag, steps):
                        records += 1
                        open_records.append(_OpenRecord(element, depth, records))
                    elif not parent_found:
                        parent_found = matcher.selects(
                            depth, follows, open_elements, element.tag, steps - 1
                        )
                open_elements.append(element)
                continue
            open_elements.pop()
            depth = len(open_elements) + 1
            if open_records and open_records[-1].depth == depth:
                done = open_records.pop()
                record = (
                    element_record(element) if recursive is None else self._finish(done, recursive)
                )
                if about:
                    record[ROOT_KEY] = dict(about)
                yield done.number, record
                if open_records:
                    # A nested record is no part of the one around it.
                    open_elements[-1].remove(element)
                    continue
            if not open_records:
                on_path.pop()
                if open_elements:
                    # Its parent was emptied of every child before it: removing is cheap.
                    open_elements[-1].remove(element)
        if not records and not parent_found:
            raise self._no_records(root)

    def _learn(self, record: _OpenRecord, incomplete: Element, recursive: Recursive) -> None:
        """What a record's nested records learn of it, from what it wrote before the first.

        ``incomplete`` is its child that has started and not ended: the first nested record, or
        the element that holds it. The parser reads ahead, so children after it may be there
        already: only those before it count.
        """
        if record.known is not None:
            return
        element = record.element
        written = Element(element.tag, element.attrib)
        written.text = element.text
        children = list(element)
        written.extend(children[: children.index(incomplete)])
        converted = _children(written)
        record.name = self._name(record, converted, recursive)
        record.path = _record_path(record, recursive)
        record.known = {
            key: value
            for key, value in converted.items()
            if value is None or isinstance(value, str)
        }
        record.known[DEPTH_KEY] = str(record.level)
        record.known[PATH_KEY] = record.path

    def _finish(self, record: _OpenRecord, recursive: Recursive) -> dict[str, Any]:
        """A record of a recursive hierarchy, with its pseudo-fields."""
        converted = element_record(record.element)
        name = self._name(record, converted, recursive)
        if record.known is None:
            record.name = name
            record.path = _record_path(record, recursive)
        elif name != record.name:
            raise IngestError(
                f"{self.path}: record {record.number} (<{_local(record.element.tag)}>) writes "
                f"its {recursive.name!r} ({name!r}) after a record nested in it; a "
                "recursive hierarchy reads a record's name, and what its nested records learn "
                "of it ('#parent.'), from what it writes before the first of them"
            )
        converted[DEPTH_KEY] = str(record.level)
        converted[PATH_KEY] = record.path
        if record.parent is not None and record.parent.known is not None:
            converted[PARENT_KEY] = dict(record.parent.known)
        return converted

    def _name(
        self, record: _OpenRecord, converted: dict[str, Any], recursive: Recursive
    ) -> str | None:
        """The text that names a record in a ``#path`` (``None`` where it has none)."""
        wanted = recursive.name.lower()
        value = next((v for k, v in converted.items() if k.lower() == wanted), None)
        if value is None or isinstance(value, str):
            return value
        found = "several of them" if isinstance(value, list) else "an element with children"
        raise IngestError(
            f"{self.path}: record {record.number} (<{_local(record.element.tag)}>): its "
            f"{recursive.name!r} names it in its '#path', so it must be one text; found {found}"
        )

    def _too_deep(self, open_elements: list[Element], element: Element) -> IngestError:
        names = [split_tag(e.tag)[1] for e in (*open_elements, element)]
        shown = "/".join(names[-4:])
        return IngestError(
            f"{self.path}: elements are nested deeper than {self.spec.max_depth} levels (at "
            f".../{shown}); raise 'source: {{max_depth: N}}' in the mapping if the document "
            "really is that deep"
        )

    def _no_records(self, root: str | None) -> IngestError:
        namespace, local = split_tag(root or "")
        where = f" in namespace {namespace}" if namespace else " (no namespace)"
        return IngestError(
            f"{self.path}: no element is where 'records: {self.spec.path.written}' looks (the "
            f"root element is <{local}>{where}); check the path's names and the namespaces "
            "its prefixes stand for"
        )

    def _too_large(self, record: _OpenRecord) -> IngestError:
        return IngestError(
            f"{self.path}: record {record.number} (<{split_tag(record.element.tag)[1]}>) has "
            f"more than {self.spec.max_elements:,} elements; choose smaller records with "
            "'records', or raise 'source: {max_record_elements: N}' in the mapping"
        )


@dataclass(eq=False, slots=True)
class _OpenRecord:
    """A record element that has started and not yet ended."""

    element: Element
    #: Its depth in the document, the root element counting as one.
    depth: int
    #: Where it starts among the records, from 1.
    number: int
    #: The record around it, in a recursive hierarchy.
    parent: _OpenRecord | None = None
    #: Its elements so far, its own included; those of records nested in it are theirs.
    elements: int = 1
    #: Recursive hierarchy: its name, its ``#path``, and what its nested records learn of it
    #: (set when the first of them starts; ``known`` stays ``None`` until then).
    name: str | None = None
    path: str | None = None
    known: dict[str, Any] | None = None

    @property
    def level(self) -> int:
        """1 for a record the path selects, 2 for one nested in it, and so on."""
        return 1 if self.parent is None else self.parent.level + 1


def _record_path(record: _OpenRecord, recursive: Recursive) -> str | None:
    """The names from the outermost record down to this one; ``None`` where one is missing."""
    if record.name is None:
        return None
    if record.parent is None:
        return record.name
    if record.parent.path is None:
        return None
    return record.parent.path + recursive.separator + record.name


class _Matcher:
    """Tells whether an element that starts is a record, with each step's answers memoised."""

    def __init__(self, path: RecordPath) -> None:
        self.path = path
        self.known: list[dict[str, bool]] = [{} for _ in path.steps]

    def step(self, index: int, tag: str) -> bool:
        known = self.known[index]
        found = known.get(tag)
        if found is None:
            found = known[tag] = self.path.steps[index].matches(tag)
        return found

    def follows(self, depth: int, on_path: list[bool], tag: str) -> bool:
        """Anchored paths: whether the element at ``depth`` continues the path from the root."""
        if not self.path.anchored or depth > len(self.path.steps):
            return False
        return (depth == 1 or on_path[depth - 2]) and self.step(depth - 1, tag)

    def selects(
        self, depth: int, follows: bool, ancestors: list[Element], tag: str, steps: int
    ) -> bool:
        """Whether the element is where the path's first ``steps`` steps lead."""
        if self.path.anchored:
            return follows and depth == steps
        if depth < steps or not self.step(steps - 1, tag):
            return False
        return all(
            self.step(index, ancestors[depth - steps + index].tag) for index in range(steps - 1)
        )


def element_record(element: Element) -> dict[str, Any]:
    """An element as a record: its attributes, children and (where it has any) text."""
    return _children(element)


def _children(element: Element) -> dict[str, Any]:
    """Attributes and children of an element, and its own text as ``#text`` where it has any."""
    out: dict[str, Any] = {}
    for attribute, value in element.attrib.items():
        out["@" + _local(attribute)] = value
    mixed = False  # text after a child: mixed content, rare in data documents
    for child in element:
        name = _local(child.tag)
        mixed = mixed or bool(child.tail and not child.tail.isspace())
        if len(child):
            _add(out, name, _children(child))
            continue
        _add(out, name, _text(child.text))
        for attribute, value in child.attrib.items():
            # A leaf's attributes sit beside its text: ``ID`` and ``ID.@schemeName``.
            _add(out, f"{name}.@{_local(attribute)}", value)
    text = _text("".join([element.text or "", *(c.tail or "" for c in element)])) if mixed else None
    text = text or _text(element.text)
    if text is not None:
        out[TEXT_KEY] = text
    return out


def _add(out: dict[str, Any], name: str, value: Any) -> None:
    """Set ``out[name]``; a name seen before becomes the list of its values.

    A converted value is text, ``None`` or a dictionary, so a list is always a repeated name.
    """
    if name not in out:
        out[name] = value
    elif isinstance(out[name], list):
        out[name].append(value)
    else:
        out[name] = [out[name], value]


#: Local names of the tags seen, memoised (up to a bound: a document may invent any number).
_LOCAL_NAMES: dict[str, str] = {}
_LOCAL_NAMES_KEPT = 65_536


def _local(tag: str) -> str:
    found = _LOCAL_NAMES.get(tag)
    if found is None:
        found = split_tag(tag)[1]
        if len(_LOCAL_NAMES) < _LOCAL_NAMES_KEPT:
            _LOCAL_NAMES[tag] = found
    return found


def _text(text: str | None) -> str | None:
    if not text:
        return None
    return text.strip() or None


def _guard(source: _Rewound) -> None:
    """Parse the prolog with defusedxml up to the root element, then rewind the source.

    Raises:
        DTDForbidden: If the document has a DTD (where entities would be declared).
        ParseError: If the document is not well-formed before its root element starts.
    """
    events = iterparse(
        source, events=("start",), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    next(iter(events), None)
    source.rewind()


class _Rewound:
    """A binary stream that gives what was read from it once more after :meth:`rewind`."""

    def __init__(self, stream: _Hashing) -> None:
        self.stream = stream
        self.kept: list[bytes] = []
        self.keeping = True

    def read(self, size: int = -1) -> bytes:
        if not self.keeping and self.kept:
            return self.kept.pop(0)
        data = self.stream.read(size)
        if self.keeping:
            self.kept.append(data)
        return data

    def rewind(self) -> None:
        """Read again from the start: the chunks read so far, then the rest of the stream."""
        self.keeping = False


class _Hashing:
    """A binary file that feeds what is read from it into a hash (the file's SHA-256)."""

    def __init__(self, raw: Any, digest: Any) -> None:
        self.raw = raw
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.digest.update(data)
        return data


def refusal(path: Path, error: Exception) -> IngestError:
    """The error for a document refused for its DTD, naming what the DTD declares.

    The DTD is looked at again with entity declarations forbidden, so that the first one is
    named without anything being expanded or fetched.
    """
    found: Exception = error
    if isinstance(error, DTDForbidden):
        try:
            with path.open("rb") as handle:
                next(iter(iterparse(handle, events=("start",), forbid_dtd=False)), None)
        except (EntitiesForbidden, ExternalReferenceForbidden) as declared:
            found = declared
        except (ParseError, OSError):
            pass
    if isinstance(found, EntitiesForbidden) and (found.sysid or found.pubid):
        where = found.sysid or found.pubid
        what = (
            f"declares the external entity {found.name!r} ({where!r}), which would read "
            "another file or address"
        )
    elif isinstance(found, EntitiesForbidden):
        what = (
            f"declares the entity {found.name!r} in a DTD (entities that expand into other "
            "entities can grow to gigabytes: the 'billion laughs' attack)"
        )
    elif isinstance(found, ExternalReferenceForbidden):
        what = f"refers to the external resource {found.sysid!r}"
    else:
        name, system = getattr(error, "name", ""), getattr(error, "sysid", None)
        external = f" SYSTEM {system!r}" if system else ""
        what = f"has a document type declaration (<!DOCTYPE {name}{external}>)"
    return IngestError(f"{path}: refused: the document {what}; {_REFUSED}")


# -- what a mapping reads of a record --------------------------------------------------------------
@dataclass(frozen=True)
class Selector:
    """A step of a column's path that picks one item of a repeated element by what it holds.

    ``AFAttribute[Name=Spindle Speed]`` is the first ``AFAttribute`` whose ``Name`` is
    ``Spindle Speed``; ``Property[@id=Model]`` compares an attribute. The value is compared
    exactly, the names as in any column's path. Where no item holds it, the step and every
    column below it are empty.
    """

    #: The step as the column writes it: the key of the picked item in the pruned record.
    written: str
    #: The repeated element, and its child (or ``@attribute``) compared, in lower case.
    name: str
    key: str
    value: str

    def pick(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The first item of the record's repeated element that holds the value, if any."""
        items = next((v for k, v in record.items() if k.lower() == self.name), None)
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict) and any(
                k.lower() == self.key and v == self.value for k, v in item.items()
            ):
                return item
        return None


def parse_selector(step: str) -> Selector | None:
    """``Element[Key=Value]`` as a :class:`Selector`; ``None`` for a plain name."""
    found = _SELECTOR.fullmatch(step)
    if found is None:
        return None
    return Selector(
        step, found["name"].strip().lower(), found["key"].strip().lower(), found["value"]
    )


def column_steps(column: str) -> list[str]:
    """The steps of a column's dotted path; a selector's value may hold dots."""
    return _STEP_DOT.split(column)


@dataclass
class Wanted:
    """The part of a record a mapping reads: a tree of names (matched case-insensitively)."""

    children: dict[str, Wanted] = field(default_factory=dict)
    #: Items picked by a selector step (``AFAttribute[Name=Model]``), by the step as written.
    selected: dict[str, tuple[Selector, Wanted]] = field(default_factory=dict)
    #: The mapping reads this path itself: everything below it is kept.
    whole: bool = False
    #: ``explode`` turns this path into rows: it is always a list, of one item where the
    #: element occurs once (XML cannot tell one item of a list from a single element).
    listed: bool = False
    #: What becomes of each key of a record here, as records spell it (see :meth:`decide`).
    decisions: dict[str, Wanted | bool] = field(default_factory=dict, repr=False)

    def decide(self, key: str) -> Wanted | bool:
        """Drop a key (``False``), keep its value (``True``), or prune it by a node below."""
        name, _, attribute = key.partition(".@")
        node = self.children.get(name.lower())
        if node is None:
            return False
        if attribute:  # an attribute of a leaf, beside it: ``ID.@schemeName``
            return node.whole or "@" + attribute.lower() in node.children
        if node.listed or ((node.children or node.selected) and not node.whole):
            return node
        return True


def wanted(columns: Iterable[str], explode: Sequence[str]) -> Wanted:
    """The tree of what a mapping reads: the dotted paths of its columns, and its lists.

    A step of a path may pick an item of a list by what it holds (:class:`Selector`).
    """
    root = Wanted()

    def node(path: str) -> Wanted:
        current = root
        for part in column_steps(path):
            selector = parse_selector(part)
            if selector is None:
                current = current.children.setdefault(part.lower(), Wanted())
            else:
                current = current.selected.setdefault(part, (selector, Wanted()))[1]
        return current

    for column in columns:
        node(column).whole = True
    for path in explode:
        node(path).listed = True
    return root


def prune(record: dict[str, Any], tree: Wanted) -> dict[str, Any]:
    """The part of a record a mapping reads, with exploded paths made lists.

    Keeping only that part keeps each row small (its columns, the raw content kept with a
    quarantined row) whatever else the document holds.
    """
    out: dict[str, Any] = {}
    decisions = tree.decisions
    for key, value in record.items():
        decision = decisions.get(key)
        if decision is None:
            decision = decisions[key] = tree.decide(key)
        if decision is True:
            out[key] = value
        elif decision is not False:
            if (decision.children or decision.selected) and not decision.whole:
                value = _prune_value(value, decision)
            if decision.listed and not isinstance(value, list):
                value = [value]
            out[key] = value
    for step, (selector, node) in tree.selected.items():
        item = selector.pick(record)
        if item is not None:
            out[step] = item if node.whole else prune(item, node)
    return out


def _prune_value(value: Any, node: Wanted) -> Any:
    if isinstance(value, dict):
        return prune(value, node)
    if isinstance(value, list):
        return [prune(item, node) if isinstance(item, dict) else item for item in value]
    return value


# -- parsed once per load ------------------------------------------------------------------------
@dataclass
class _Parsed:
    records: list[bytes]
    sha256: str
    size: int


@dataclass
class SharedRead:
    """The rows that several mappings of one load read alike from one file, read once.

    Mappings that read the same records of a file and explode the same lists (a pack's lot,
    genealogy and serial mappings of one document) differ only in their columns: the first of
    them reads the columns of all, and the others take their own from what it read.
    """

    #: The columns the mappings read, together.
    columns: set[str] = field(default_factory=set)
    #: Mappings still to read the rows.
    readers: int = 0
    #: What the first reader read (set by the reader), for the others.
    rows: Any = None


class _ParsedFiles:
    """Files parsed during one load, their records compacted; the oldest go first when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.files: OrderedDict[tuple[Any, ...], _Parsed] = OrderedDict()
        self.size = 0
        self.shared: dict[tuple[Any, ...], SharedRead] = {}

    def get(self, key: tuple[Any, ...]) -> _Parsed | None:
        return self.files.get(key)

    def put(self, key: tuple[Any, ...], parsed: _Parsed) -> None:
        while self.files and self.size + parsed.size > self.limit:
            _, dropped = self.files.popitem(last=False)
            self.size -= dropped.size
        self.files[key] = parsed
        self.size += parsed.size


_PARSED: ContextVar[_ParsedFiles | None] = ContextVar("factorybrain_parsed_xml", default=None)


def file_key(path: Path) -> tuple[str, int, int]:
    """What tells one version of a file from another: its path, size and modification time."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def expect_read(
    path: Path, spec: RecordSpec, explode: Sequence[str], columns: Iterable[str]
) -> None:
    """Announce, within :func:`parse_once`, that a mapping will read these columns of a file.

    Outside :func:`parse_once`, or for a file that does not exist, nothing happens.
    """
    parsed = _PARSED.get()
    if parsed is None or not path.is_file():
        return
    shared = parsed.shared.setdefault((*file_key(path), spec, tuple(explode)), SharedRead())
    shared.columns.update(columns)
    shared.readers += 1


def shared_read(
    path: Path, spec: RecordSpec, explode: Sequence[str], columns: Iterable[str]
) -> SharedRead | None:
    """The read a mapping shares with others announced by :func:`expect_read`, if any.

    Each call counts one reader; the rows are let go when the last announced one has read. A
    mapping whose columns were not announced shares nothing (it reads for itself).
    """
    parsed = _PARSED.get()
    key = (*file_key(path), spec, tuple(explode))
    shared = parsed.shared.get(key) if parsed is not None else None
    if parsed is None or shared is None or not set(columns) <= shared.columns:
        return None
    shared.readers -= 1
    if shared.readers <= 0:
        del parsed.shared[key]
        if shared.rows is None:  # the only reader: nothing to share
            return None
    return shared


@contextmanager
def parse_once(limit: int = PARSED_BYTES) -> Iterator[None]:
    """Within this block, an XML file read by several mappings is parsed only once.

    The records of each file parsed are kept compacted (up to ``limit`` bytes over all files,
    the oldest dropped first) and given to the next mapping that reads the same records of the
    same, unchanged file. A connector pack reads one document through a mapping per entity.
    Mappings announced with :func:`expect_read` that also explode the same lists share their
    rows (:class:`SharedRead`).
    """
    if _PARSED.get() is not None:
        yield
        return
    token = _PARSED.set(_ParsedFiles(limit))
    try:
        yield
    finally:
        _PARSED.reset(token)


# -- a first look ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class XmlSample:
    """What the start of an XML document shows: its root and its most repeated child."""

    root: str
    #: The local name of the root's most frequent child (the likely records), if any.
    record: str | None
    records: list[dict[str, Any]]


def sample(path: Path, limit: int) -> XmlSample:
    """The root element of a document and up to ``limit`` of its root's commonest children.

    Raises:
        IngestError: If the document is refused (a DTD) or is not well-formed before its first
            ``limit`` children end.
    """
    root: str | None = None
    children: list[Element] = []
    depth = 0
    try:
        with path.open("rb") as handle:
            for event, element in iterparse(handle, events=("start", "end"), forbid_dtd=True):
                if event == "start":
                    depth += 1
                    root = root or element.tag
                    continue
                depth -= 1
                if depth == 1:
                    children.append(element)
                    if len(children) >= limit:
                        break
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as error:
        raise refusal(path, error) from None
    except ParseError as error:
        if root is None:
            raise IngestError(f"{path}: not well-formed XML: {error}") from None
    if root is None:
        raise IngestError(f"{path}: not well-formed XML: no root element")
    counts = Counter(_local(child.tag) for child in children)
    record = counts.most_common(1)[0][0] if counts else None
    records = [element_record(child) for child in children if _local(child.tag) == record]
    return XmlSample(root, record, records)


__all__ = [
    "ALL_CHILDREN",
    "DEPTH_KEY",
    "MAX_DEPTH",
    "MAX_RECORD_ELEMENTS",
    "PARENT_KEY",
    "PATH_KEY",
    "ROOT_KEY",
    "RecordPath",
    "RecordReader",
    "RecordSpec",
    "Recursive",
    "Selector",
    "SharedRead",
    "Wanted",
    "XmlName",
    "XmlSample",
    "column_steps",
    "element_record",
    "expect_read",
    "file_key",
    "parse_name",
    "parse_once",
    "parse_record_path",
    "parse_selector",
    "prune",
    "refusal",
    "sample",
    "shared_read",
    "split_tag",
    "wanted",
]
