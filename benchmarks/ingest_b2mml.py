"""Loading a large B2MML production performance document through the connector pack.

Generates (seeded, into a temporary folder) one ISA-95 B2MML ``ProductionPerformance`` document
of N segment responses, four per production response (one per operation of a work order), each
with two consumed lots, one produced lot with a serial number, and the equipment it ran on. Loads
the folder through the connector packs (``load_with_packs``) into a fresh store: every mapping of
the ``b2mml`` pack that the document's root selects (work orders, operations, produced lots, serial
units, lot -> order and order -> lot genealogy, equipment states). Then tries the two hostile
documents an XML reader must refuse (a billion-laughs entity bomb and an external entity that
reads a local file).

Prints one JSON object on its last line: ``segment_responses``, ``rows_read`` and ``rows_loaded``
(over every mapping), ``seconds`` (the load), ``peak_rss_mib`` (the process's peak resident memory,
from ``getrusage``), ``refused_billion_laughs`` and ``refused_external_entity``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factorybrain.connectors import ingest, load_with_packs
from factorybrain.exceptions import IngestError
from factorybrain.store import open_store

NAMESPACE = "http://www.mesa.org/xml/B2MML"
START = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
OPERATIONS = ("PRESS-FIT", "SCREW", "TEST", "PACK")

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Lots><Lot><ID>&lol9;</ID></Lot></Lots>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE Lots [<!ENTITY secret SYSTEM "file://{secret}">]>
<Lots><Lot><ID>&secret;</ID></Lot></Lots>
"""
LOT_MAPPING = """\
entity: material_lot
space: mes
source: {format: xml, records: /Lots/Lot}
fields:
  external_id: ID
"""


def generate(path: Path, responses: int, seed: int) -> None:
    """Write the document, streamed: four segment responses per production response."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f'<ProductionPerformance xmlns="{NAMESPACE}">')
        out.write("\n  <ID>PERF-BENCH</ID>\n")
        for number in range(responses):
            order, step = divmod(number, len(OPERATIONS))
            if step == 0:
                out.write(
                    f"  <ProductionResponse>\n    <ID>RESP-{order:07d}</ID>\n"
                    f"    <ProductionRequestID>WO-{order:07d}</ProductionRequestID>\n"
                )
            out.write(_segment(rng, order, step, number))
            if step == len(OPERATIONS) - 1 or number == responses - 1:
                out.write("    <ResponseState>Completed</ResponseState>\n  </ProductionResponse>\n")
        out.write("</ProductionPerformance>\n")


def _segment(rng: random.Random, order: int, step: int, number: int) -> str:
    start = START + timedelta(minutes=15 * number)
    end = start + timedelta(minutes=rng.randint(5, 14))
    consumed = "".join(
        f"""
      <MaterialActual>
        <MaterialDefinitionID>{material}</MaterialDefinitionID>
        <MaterialLotID>LOT-{material}-{rng.randrange(5000):05d}</MaterialLotID>
        <MaterialUse>Consumed</MaterialUse>
        <Quantity><QuantityString>{rng.randint(1, 40) / 4}</QuantityString><UnitOfMeasure unitCode="KGM">kg</UnitOfMeasure></Quantity>
      </MaterialActual>"""  # noqa: E501 (one line of the document)
        for material in ("BRG-6204", "OIL-75W90")
    )
    return f"""    <SegmentResponse>
      <ID>SEG-{number:08d}</ID>
      <ProcessSegmentID>{OPERATIONS[step]}</ProcessSegmentID>
      <ActualStartTime>{start:%Y-%m-%dT%H:%M:%SZ}</ActualStartTime>
      <ActualEndTime>{end:%Y-%m-%dT%H:%M:%SZ}</ActualEndTime>
      <EquipmentActual>
        <EquipmentID>L{order % 3 + 1}-ST{(step + 1) * 10}</EquipmentID>
        <Quantity><QuantityString>{(end - start).seconds}</QuantityString><UnitOfMeasure>s</UnitOfMeasure></Quantity>
      </EquipmentActual>{consumed}
      <MaterialActual>
        <MaterialDefinitionID>GB-7</MaterialDefinitionID>
        <MaterialLotID>LOT-GB7-{order:07d}</MaterialLotID>
        <MaterialSubLotID>SN-{number:09d}</MaterialSubLotID>
        <MaterialUse>Produced</MaterialUse>
        <Quantity><QuantityString>1</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity>
      </MaterialActual>
      <SegmentState>Completed</SegmentState>
    </SegmentResponse>
"""  # noqa: E501 (lines of the document)


def refused(folder: Path, document: str) -> bool:
    """Whether ingesting the document fails with a refusal, having loaded nothing."""
    path = folder / "hostile.xml"
    path.write_text(document, encoding="utf-8")
    mapping = folder / "lots.yaml"
    mapping.write_text(LOT_MAPPING, encoding="utf-8")
    with open_store(":memory:", migrate=True) as store:
        try:
            ingest(store, path, mapping)
        except IngestError as error:
            return "refused" in str(error)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000, help="segment responses")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b2mml-bench-") as temporary:
        folder = Path(temporary)
        exports = folder / "exports"
        exports.mkdir()
        document = exports / "performance.xml"
        generate(document, args.responses, args.seed)
        print(f"document: {document.stat().st_size / 2**20:,.1f} MiB", file=sys.stderr)
        with open_store(folder / "plant.duckdb", migrate=True) as store:
            started = time.perf_counter()
            result = load_with_packs(store, exports)
            seconds = time.perf_counter() - started
        if result.failures:
            raise SystemExit(f"loads failed: {result.failures}")
        for report in result.reports:
            print(
                f"{Path(report.mapping_file).stem}: read {report.rows_read:,} "
                f"(from {report.records_read:,} records), loaded {report.loaded:,}, merged "
                f"{report.merged:,}, filtered {report.filtered:,}, quarantined "
                f"{report.quarantined:,}, {report.seconds:.1f} s",
                file=sys.stderr,
            )
        secret = folder / "secret.txt"
        secret.write_text("do not read me", encoding="utf-8")
        figures = {
            "segment_responses": args.responses,
            "rows_read": sum(report.rows_read for report in result.reports),
            "rows_loaded": sum(report.loaded for report in result.reports),
            "seconds": round(seconds, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "refused_billion_laughs": refused(folder, BILLION_LAUGHS),
            "refused_external_entity": refused(folder, EXTERNAL_ENTITY.format(secret=secret)),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
