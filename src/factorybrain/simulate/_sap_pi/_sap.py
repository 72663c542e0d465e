"""SAP ERP extracts of the gear plant, one file per table, as SE16/SE16N/SQVI downloads write them.

Every file is ``erp/<TABLE>.csv``: ``;``-separated, Windows-1252, CRLF line ends, decimal comma
with ``.`` thousands separators, dates ``DD.MM.YYYY`` and times ``HH:MM:SS`` in plant local time
(Europe/Vienna, no offset), keys in SAP's internal format (material and equipment numbers zero
padded to 18 digits, orders and notifications to 12, vendors, customers, batches and sales
documents to 10), floating-point fields (FLTP) in SE16's exponent notation. Column headings are
the technical field names of the SAP data dictionary, except ``MARD.csv``, downloaded from SE16N
with field labels (German headings, external material numbers without leading zeros). ``MSEG``,
``AFRU`` and ``MARD`` start with a list title; ``AFRU``, ``EKPO`` and ``MARD`` end with the ALV
totals line. Each table is a documented subset of its fields in the SAP data dictionary (SE11;
public references such as leanx.eu and datapanda.eu list them), in dictionary order.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from factorybrain.simulate._sap_pi._calendar import DAY, Clock
from factorybrain.simulate._sap_pi._formats import (
    german_number,
    sap_float,
    sap_number,
    write_sap,
)
from factorybrain.simulate._sap_pi._maintenance import PM_MINUTES, Failure
from factorybrain.simulate._sap_pi._production import NOISE_LIMIT, Operation, Order
from factorybrain.simulate._sap_pi._story import Story
from factorybrain.simulate._sap_pi._world import (
    MACHINE_TYPES,
    MANDT,
    ROUTING,
    WERKS,
    pad,
    split_name,
)

Row = dict[str, Any]

#: list price per product (EUR)
PRICE = {0: 690.0, 1: 980.0, 2: 1640.0, 3: 520.0}
MATKL = {
    "FERT": "GETR",
    "HSG": "GUSS",
    "ZRS": "VERZ",
    "KRS": "VERZ",
    "SRS": "VERZ",
    "WEL": "WELLE",
    "KRL": "LAGER",
    "RWDR": "DICHT",
    "OEL": "SCHMIER",
    "SCHR": "NORMT",
    "SP": "ERSATZ",
}
LGORT_RAW, LGORT_FG, LGORT_MRO = "1000", "3000", "9000"
PM_WORK_CENTRES = (
    ("INST-MECH", "Instandhaltung Mechanik"),
    ("INST-ELEK", "Instandhaltung Elektrik"),
)
USERS = ("HUBER", "GRUBER", "WALLNER", "PICHLER", "MOSER", "STEINER")

# the columns of every table, in the order of the SAP data dictionary
COLUMNS: dict[str, tuple[str, ...]] = {
    "MARA": ("MANDT", "MATNR", "ERSDA", "ERNAM", "LAEDA", "MTART", "MBRSH", "MATKL", "BISMT",
             "MEINS", "BRGEW", "NTGEW", "GEWEI", "XCHPF", "MSTAE"),
    "MAKT": ("MANDT", "MATNR", "SPRAS", "MAKTX", "MAKTG"),
    "MARC": ("MANDT", "MATNR", "WERKS", "EKGRP", "DISMM", "DISPO", "MINBE", "EISBE", "PLIFZ",
             "WEBAZ", "BESKZ", "SOBSL", "LGPRO", "XCHPF", "SERNP"),
    "MCH1": ("MANDT", "MATNR", "CHARG", "LVORM", "ERSDA", "ERNAM", "LIFNR", "LICHA", "HSDAT",
             "VFDAT", "LWEDT", "ZUSTD"),
    "LFA1": ("MANDT", "LIFNR", "LAND1", "NAME1", "NAME2", "ORT01", "PSTLZ", "STRAS", "SPRAS",
             "KTOKK", "STCEG"),
    "KNA1": ("MANDT", "KUNNR", "LAND1", "NAME1", "NAME2", "ORT01", "PSTLZ", "STRAS", "SPRAS",
             "KTOKD", "STCEG"),
    "MAST": ("MANDT", "MATNR", "WERKS", "STLAN", "STLNR", "STLAL"),
    "STPO": ("MANDT", "STLTY", "STLNR", "STLKN", "POSNR", "POSTP", "IDNRK", "MENGE", "MEINS"),
    "EQST": ("MANDT", "EQUNR", "WERKS", "STLAN", "STLNR", "STLAL"),
    "EQUI": ("MANDT", "EQUNR", "ERDAT", "ERNAM", "EQTYP", "EQART", "HERST", "TYPBZ", "BAUJJ",
             "SERGE", "INBDT"),
    "EQKT": ("MANDT", "EQUNR", "SPRAS", "EQKTX"),
    "EQUZ": ("MANDT", "EQUNR", "DATBI", "EQLFN", "IWERK", "ILOAN", "GEWRK", "HEQUI"),
    "ILOA": ("MANDT", "ILOAN", "TPLNR", "SWERK", "STORT", "ABCKZ", "PPSID"),
    "IFLOT": ("MANDT", "TPLNR", "FLTYP", "IWERK", "TPLMA", "ERDAT"),
    "IFLOTX": ("MANDT", "TPLNR", "SPRAS", "PLTXT"),
    "CRHD": ("MANDT", "OBJTY", "OBJID", "ARBPL", "WERKS", "VERWE", "VERAN", "PLANV", "BEGDA",
             "ENDDA", "LVORM", "KAPID"),
    "CRTX": ("MANDT", "OBJTY", "OBJID", "SPRAS", "KTEXT", "KTEXT_UP"),
    "EKKO": ("MANDT", "EBELN", "BUKRS", "BSTYP", "BSART", "LOEKZ", "AEDAT", "ERNAM", "LIFNR",
             "EKORG", "EKGRP", "WAERS", "BEDAT"),
    "EKPO": ("MANDT", "EBELN", "EBELP", "LOEKZ", "TXZ01", "MATNR", "WERKS", "LGORT", "MATKL",
             "MENGE", "MEINS", "NETPR", "PEINH", "NETWR", "KNTTP", "PSTYP", "ELIKZ"),
    "EKET": ("MANDT", "EBELN", "EBELP", "ETENR", "EINDT", "MENGE", "WEMNG", "CHARG"),
    "AUFK": ("MANDT", "AUFNR", "AUART", "AUTYP", "ERNAM", "ERDAT", "KTEXT", "WERKS", "OBJNR",
             "LOEKZ"),
    "AFKO": ("MANDT", "AUFNR", "GSTRP", "GLTRP", "GSTRS", "GLTRS", "GSTRI", "GETRI", "GLTRI",
             "GAMNG", "GMEIN", "PLNBEZ", "AUFPL", "DISPO", "FEVOR", "PLNNR"),
    "AFPO": ("MANDT", "AUFNR", "POSNR", "MATNR", "PSMNG", "WEMNG", "MEINS", "DWERK", "LGORT",
             "LTRMI", "ELIKZ", "DAUAT"),
    "AFVC": ("MANDT", "AUFPL", "APLZL", "VORNR", "ARBID", "WERKS", "STEUS", "LTXA1", "RUECK"),
    "AFVV": ("MANDT", "AUFPL", "APLZL", "MEINH", "BMSCH", "VGW01", "VGE01", "VGW02", "VGE02",
             "FSAVD", "FSAVZ", "FSEDD", "FSEDZ", "MGVRG", "LMNGA"),
    "AFRU": ("MANDT", "RUECK", "RMZHL", "ERSDA", "ERZET", "ERNAM", "BUDAT", "AUFNR", "VORNR",
             "AUFPL", "APLZL", "ARBID", "WERKS", "ISDD", "ISDZ", "IEDD", "IEDZ", "LMNGA",
             "XMNGA", "RMNGA", "GMEIN", "ISM01", "ILE01", "ISM02", "ILE02", "AUERU", "STOKZ",
             "STZHL", "LTXA1"),
    "JEST": ("MANDT", "OBJNR", "STAT", "INACT", "CHGNR"),
    "AFIH": ("MANDT", "AUFNR", "EQUNR", "ILOAN", "QMNUM", "ARTPR", "PRIOK", "IPHAS", "WARPL"),
    "VBAK": ("MANDT", "VBELN", "ERDAT", "ERZET", "ERNAM", "AUART", "VKORG", "VTWEG", "SPART",
             "KUNNR", "BSTNK", "BSTDK", "VDATU", "NETWR", "WAERK"),
    "VBAP": ("MANDT", "VBELN", "POSNR", "MATNR", "ARKTX", "KWMENG", "VRKME", "NETWR", "WAERK",
             "WERKS", "ABGRU"),
    "LIKP": ("MANDT", "VBELN", "ERDAT", "ERZET", "LFART", "VSTEL", "KUNNR", "KUNAG", "LFDAT",
             "WADAT_IST", "BTGEW", "GEWEI", "ANZPK"),
    "LIPS": ("MANDT", "VBELN", "POSNR", "MATNR", "WERKS", "LGORT", "CHARG", "LFIMG", "VRKME",
             "ARKTX", "VGBEL", "VGPOS", "PSTYV"),
    "SER01": ("MANDT", "OBKNR", "LIEF_NR", "POSNR", "DATUM", "UZEIT", "KUNDE", "ANZSN",
              "VORGANG", "VBTYP", "BWART"),
    "SER05": ("MANDT", "OBKNR", "PPAUFNR", "PPPOSNR", "DATUM", "UZEIT", "ANZSN", "VORGANG",
              "PPAUTYP", "PPAUFART", "PPWERK"),
    "OBJK": ("MANDT", "OBKNR", "OBZAE", "OBJVW", "TASER", "SERNR", "MATNR", "EQUNR", "DATUM"),
    "MSEG": ("MANDT", "MBLNR", "MJAHR", "ZEILE", "BWART", "SOBKZ", "MATNR", "WERKS", "LGORT",
             "CHARG", "LIFNR", "KUNNR", "SHKZG", "MENGE", "MEINS", "DMBTR", "WAERS", "EBELN",
             "EBELP", "AUFNR", "VBELN_IM", "VBELP_IM", "KOSTL", "BUDAT_MKPF", "CPUDT_MKPF",
             "CPUTM_MKPF", "USNAM_MKPF"),
    "QALS": ("MANDANT", "PRUEFLOS", "WERK", "ART", "HERKUNFT", "OBJNR", "ENSTEHDAT",
             "ENTSTEZEIT", "PASTRTERM", "PAENDTERM", "MATNR", "CHARG", "LIFNR", "EBELN", "EBELP",
             "MBLNR", "MJAHR", "ZEILE", "AUFNR", "LOSMENGE", "MENGENEINH", "KTEXTLOS"),
    "QAMV": ("MANDANT", "PRUEFLOS", "VORGLFNR", "MERKNR", "VERWMERKM", "KURZTEXT", "SOLLWERT",
             "TOLERANZUN", "TOLERANZOB", "MASSEINHSW", "STELLEN"),
    "QAMR": ("MANDANT", "PRUEFLOS", "VORGLFNR", "MERKNR", "SATZSTATUS", "ATTRIBUT", "MBEWERTG",
             "ANZWERTG", "ANZFEHLER", "MITTELWERT", "MAXWERT", "MINWERT", "PRUEFER",
             "PRUEFDATUV", "PRUEFZEITV"),
    "QMEL": ("MANDT", "QMNUM", "QMART", "QMTXT", "ERNAM", "ERDAT", "MZEIT", "QMDAT", "PRIOK",
             "QMKAT", "QMGRP", "QMCOD", "MATNR", "MAWERK", "CHARG", "SERIALNR", "LIFNUM",
             "KUNUM", "PRUEFLOS", "AUFNR", "REFNUM", "OBJNR"),
    "QMIH": ("MANDT", "QMNUM", "EQUNR", "ILOAN", "IWERK", "AUSVN", "AUZTV", "AUSBS", "AUZTB",
             "MSAUS", "AUSZT", "MAUEH"),
}  # fmt: skip
#: MARD as SE16N shows it with field labels: (technical field, German heading)
MARD_LABELS = (
    ("MATNR", "Material"),
    ("WERKS", "Werk"),
    ("LGORT", "Lagerort"),
    ("LGPBE", "Lagerplatz"),
    ("LABST", "Frei verwendbar"),
    ("INSME", "Qualitätsprüfung"),
    ("SPEME", "Gesperrt"),
    ("LFGJA", "Geschäftsjahr"),
    ("LFMON", "Periode"),
)
#: incoming inspection characteristic per material family: code, text, target, limits, unit,
#: decimals, spread of the measured values
INCOMING = {
    "HSG": ("GEH-BOHR", "Bohrungsdurchmesser Abweichung", 0.0, -15.0, 15.0, "UM", 1, 2.5),
    "ZRS": ("VZ-HAERTE", "Oberflächenhärte Zahnflanke", 60.0, 58.0, 62.0, "HRC", 1, 0.5),
    "KRS": ("VZ-HAERTE", "Oberflächenhärte Zahnflanke", 60.0, 58.0, 62.0, "HRC", 1, 0.5),
    "SRS": ("VZ-HAERTE", "Oberflächenhärte Zahnflanke", 60.0, 58.0, 62.0, "HRC", 1, 0.5),
    "WEL": ("WEL-RUND", "Rundlauf Lagersitz", 4.0, 0.0, 12.0, "UM", 1, 1.2),
    "KRL": ("LAG-RADSCHL", "Radialschlag Innenring", 6.0, 0.0, 15.0, "UM", 1, 1.3),
    "RWDR": ("DR-LIPPE", "Dichtlippendurchmesser", 44.3, 44.1, 44.5, "MM", 2, 0.04),
}
SYMPTOM_CODES = {
    "noise": ("0010", "Kundenreklamation Geräusch"),
    "leak": ("0020", "Kundenreklamation Ölverlust"),
    "overheating": ("0050", "Kundenreklamation Übertemperatur"),
    "vibration": ("0060", "Kundenreklamation Vibration"),
    "seized": ("0070", "Kundenreklamation Getriebe blockiert"),
}


def qty(value: float) -> str:
    """A quantity field (QUAN, 3 decimals)."""
    return sap_number(value, 3)


def amount(value: float) -> str:
    """An amount field (CURR, 2 decimals)."""
    return sap_number(value, 2)


def _postcode(country: str, k: int) -> str:
    """A postcode of the country's length (4 digits in Austria, 6 in China, 5 elsewhere)."""
    digits = {"AT": 4, "CN": 6}.get(country, 5)
    low = 10 ** (digits - 1)
    return str(low + (7919 * (k + 1)) % (9 * low))


def _parse(text: str) -> float:
    """A number as an SAP list shows it (``1.234,500``), back to a float."""
    return float(text.replace(".", "").replace(",", ".")) if text else 0.0


def _matkl(key: str) -> str:
    return MATKL[key.split("-")[0]]


class SapExport:
    """Writes every SAP table of the plant; numbers documents as SAP's number ranges would."""

    def __init__(self, story: Story, out: Path) -> None:
        self.story = story
        self.out = out / "erp"
        self.clock = Clock(story.calendar)
        self.rng = np.random.default_rng([story.seed, 2501])
        world = story.world
        self.matnr = {m.index: pad(m.matnr, 18) for m in world.materials}
        self.product_matnr = {p.index: pad(p.matnr, 18) for p in world.products}
        self.pm_objid = {name: 20_009_001 + i for i, (name, _) in enumerate(PM_WORK_CENTRES)}
        self.obknr = 0
        self.rueck = 7_000_000 + int(self.rng.integers(0, 900))
        self.tables: dict[str, list[Row]] = defaultdict(list)
        self.pm_orders: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []

    # -- helpers -----------------------------------------------------------------------------
    def add(self, table: str, **fields: Any) -> None:
        """One record of a table (every field not given is empty)."""
        unknown = set(fields) - set(COLUMNS[table]) - {"MANDT", "MANDANT"}
        if unknown:
            raise ValueError(f"{table}: no field {sorted(unknown)}")
        client = "MANDANT" if "MANDANT" in COLUMNS[table] else "MANDT"
        self.tables[table].append({client: MANDT, **fields})

    def flush(
        self,
        table: str,
        *,
        title: tuple[str, ...] = (),
        totals: tuple[str, ...] = (),
    ) -> None:
        """Write a table's file (records in the order they were added).

        Args:
            table: The table.
            title: Lines before the header.
            totals: Columns the ALV list sums into a last line (``*`` in the first column).
        """
        columns = COLUMNS[table]
        rows = [[row.get(c, "") for c in columns] for row in self.tables.pop(table, [])]
        total_line = None
        if totals:
            total_line = ["*"] + [""] * (len(columns) - 1)
            for name in totals:
                k = columns.index(name)
                decimals = len(rows[0][k].split(",")[1]) if rows and "," in rows[0][k] else 3
                column_sum = sum(_parse(row[k]) for row in rows)
                total_line[k] = sap_number(column_sum, decimals)
        info = write_sap(self.out / f"{table}.csv", columns, rows, title=title, totals=total_line)
        self.story.records[f"erp/{table}.csv"] = info

    def see(self, *values: str) -> None:
        self.story.see("erp", *values)

    def d(self, minute: int | None) -> str:
        return self.clock.sap_date(minute)

    def t(self, minute: int | None, second: int = 0) -> str:
        return self.clock.sap_time(minute, second)

    def second(self) -> int:
        return int(self.rng.integers(0, 60))

    def user(self) -> str:
        return USERS[int(self.rng.integers(len(USERS)))]

    # -- everything --------------------------------------------------------------------------
    def write_all(self) -> None:
        self.materials()
        self.partners()
        self.boms()
        self.equipment()
        self.work_centres()
        self.batches()
        purchases = self.purchasing()
        self.production()
        self.maintenance_orders()
        self.sales()
        self.goods_movements(purchases)
        self.stock()
        self.quality(purchases)

    # -- master data -------------------------------------------------------------------------
    def materials(self) -> None:
        world = self.story.world
        for p in world.products:
            m = self.product_matnr[p.index]
            self.see(m, p.text_de, p.text_en, p.bismt)
            self.add(
                "MARA",
                MATNR=m,
                ERSDA="14.03.2019",
                ERNAM="MDM_LOAD",
                LAEDA="02.09.2025",
                MTART="FERT",
                MBRSH="M",
                MATKL=MATKL["FERT"],
                BISMT=p.bismt,
                MEINS="ST",
                BRGEW=qty(20 + 12 * p.index),
                NTGEW=qty(18 + 11 * p.index),
                GEWEI="KG",
            )
            self.add("MAKT", MATNR=m, SPRAS="DE", MAKTX=p.text_de, MAKTG=p.text_de.upper())
            self.add("MAKT", MATNR=m, SPRAS="EN", MAKTX=p.text_en, MAKTG=p.text_en.upper())
            self.add(
                "MARC",
                MATNR=m,
                WERKS=WERKS,
                DISMM="PD",
                DISPO="G01",
                MINBE=qty(0),
                EISBE=qty(0),
                PLIFZ="0",
                WEBAZ="1",
                BESKZ="E",
                LGPRO=LGORT_FG,
                SERNP="ZGET",
            )
        policy = self.story.maintenance.spare_policy
        for mat in world.materials:
            m = self.matnr[mat.index]
            self.see(m, mat.text_de, mat.bismt)
            weight = {"ROH": 3.5, "NLAG": 0.9, "ERSA": 12.0}[mat.mtart]
            pieces = mat.unit == "ST"
            self.add(
                "MARA",
                MATNR=m,
                ERSDA="02.05.2019",
                ERNAM="MDM_LOAD",
                LAEDA="11.06.2025",
                MTART=mat.mtart,
                MBRSH="M",
                MATKL=_matkl(mat.key),
                BISMT=mat.bismt,
                MEINS=mat.unit,
                BRGEW=qty(weight if pieces else 0),
                NTGEW=qty(weight * 0.95 if pieces else 0),
                GEWEI="KG",
                XCHPF="X" if mat.batch else "",
            )
            self.add("MAKT", MATNR=m, SPRAS="DE", MAKTX=mat.text_de, MAKTG=mat.text_de.upper())
            if mat.mtart != "ERSA":
                self.add("MAKT", MATNR=m, SPRAS="EN", MAKTX=mat.text_en, MAKTG=mat.text_en.upper())
            # spares with a reorder point are planned by reorder point (VB), the others not
            stocked = policy.get(mat.index, {}).get("reorder_point", -1) >= 0
            dismm = {"ERSA": "VB" if stocked else "ND", "NLAG": "ND"}.get(mat.mtart, "PD")
            self.add(
                "MARC",
                MATNR=m,
                WERKS=WERKS,
                EKGRP=f"A1{mat.supplier % 3}",
                DISMM=dismm,
                DISPO="G02",
                MINBE=qty(0),
                EISBE=qty(0),
                PLIFZ=str(mat.lead_days),
                WEBAZ="1",
                BESKZ="F",
                SOBSL="10" if mat.consignment else "",
                LGPRO=LGORT_MRO if mat.mtart == "ERSA" else LGORT_RAW,
                XCHPF="X" if mat.batch else "",
            )
        for table in ("MARA", "MAKT", "MARC"):
            self.flush(table)

    def partners(self) -> None:
        world = self.story.world
        streets = ("Industriestraße", "Gewerbepark", "Werkstraße", "Hauptstraße")
        for s in world.suppliers:
            name1, name2 = split_name(s.name)
            self.see(pad(s.lifnr, 10), name1)
            self.add(
                "LFA1",
                LIFNR=pad(s.lifnr, 10),
                LAND1=s.country,
                NAME1=name1,
                NAME2=name2,
                ORT01=s.city,
                PSTLZ=_postcode(s.country, s.index),
                STRAS=f"{streets[s.index % 4]} {3 + s.index}",
                SPRAS={"AT": "DE", "DE": "DE", "CN": "ZH"}.get(s.country, "EN"),
                KTOKK="LIEF",
                STCEG=f"ATU{40_000_000 + 7919 * s.index:08d}" if s.country == "AT" else "",
            )
        for c in world.customers:
            name1, name2 = split_name(c.name)
            self.see(pad(c.kunnr, 10), name1)
            self.add(
                "KNA1",
                KUNNR=pad(c.kunnr, 10),
                LAND1=c.country,
                NAME1=name1,
                NAME2=name2,
                ORT01=c.city,
                PSTLZ=_postcode(c.country, c.index + 20),
                STRAS=f"{streets[(c.index + 1) % 4]} {10 + c.index}",
                SPRAS={"de": "DE", "zh": "ZH"}.get(c.language, "EN"),
                KTOKD="KUNA",
            )
        self.flush("LFA1")
        self.flush("KNA1")

    def boms(self) -> None:
        world = self.story.world
        for p in world.products:
            stlnr = pad(40_000 + p.index, 8)
            self.add(
                "MAST",
                MATNR=self.product_matnr[p.index],
                WERKS=WERKS,
                STLAN="1",
                STLNR=stlnr,
                STLAL="01",
            )
            for k, (material, quantity) in enumerate(p.bom):
                self.add(
                    "STPO",
                    STLTY="M",
                    STLNR=stlnr,
                    STLKN=pad(k + 1, 8),
                    POSNR=pad(10 * (k + 1), 4),
                    POSTP="L",
                    IDNRK=self.matnr[material],
                    MENGE=qty(quantity),
                    MEINS=world.materials[material].unit,
                )
        # equipment BOMs (usage 4, plant maintenance): the spare part of each machine
        for m in world.machines:
            stlnr = pad(60_000 + m.index, 8)
            self.add(
                "EQST", EQUNR=pad(m.equnr, 18), WERKS=WERKS, STLAN="4", STLNR=stlnr, STLAL="01"
            )
            spare = world.material(m.mtype.spare).index
            self.add(
                "STPO",
                STLTY="E",
                STLNR=stlnr,
                STLKN=pad(1, 8),
                POSNR="0010",
                POSTP="L",
                IDNRK=self.matnr[spare],
                MENGE=qty(1),
                MEINS="ST",
            )
        for table in ("MAST", "STPO", "EQST"):
            self.flush(table)

    def equipment(self) -> None:
        """Equipment (EQUI, EQKT, EQUZ), their locations (ILOA) and functional locations."""
        world = self.story.world
        root = f"{WERKS}-VIL"
        self.add("IFLOT", TPLNR=root, FLTYP="M", IWERK=WERKS, ERDAT="12.01.2015")
        self.add("IFLOTX", TPLNR=root, SPRAS="DE", PLTXT="Werk Villach")
        for line in world.lines:
            self.see(line.tplnr, line.pltxt)
            self.add("IFLOT", TPLNR=line.tplnr, FLTYP="M", IWERK=WERKS, TPLMA=root,
                     ERDAT="12.01.2015")  # fmt: skip
            self.add("IFLOTX", TPLNR=line.tplnr, SPRAS="DE", PLTXT=line.pltxt)
        for m in world.machines:
            equnr = pad(m.equnr, 18)
            iloan = pad(500_000 + m.index * 3, 12)
            self.see(equnr, m.eqktx, m.tplnr)
            self.add(
                "EQUI",
                EQUNR=equnr,
                ERDAT=f"{10 + m.index % 18:02d}.0{1 + m.index % 9}.{max(m.built, 2015)}",
                ERNAM="ANLAGEN",
                EQTYP="M",
                EQART=m.mtype.eqart,
                HERST=m.vendor,
                TYPBZ=m.model,
                BAUJJ=str(m.built),
                SERGE=f"{m.model.split()[0]}-{m.built}-{1000 + 17 * m.index}",
                INBDT=f"0{1 + m.index % 9}.0{1 + m.index % 8}.{m.built}",
            )
            self.add("EQKT", EQUNR=equnr, SPRAS="DE", EQKTX=m.eqktx)
            crew = "INST-ELEK" if m.type_code == "TB" else "INST-MECH"
            self.add(
                "EQUZ",
                EQUNR=equnr,
                DATBI="31.12.9999",
                EQLFN="001",
                IWERK=WERKS,
                ILOAN=iloan,
                GEWRK=str(self.pm_objid[crew]),
            )
            self.add(
                "ILOA",
                ILOAN=iloan,
                TPLNR=m.tplnr,
                SWERK=WERKS,
                STORT=f"HALLE {1 + (m.line - 1) // 2}",
                ABCKZ="A",
                PPSID=str(m.objid),  # the PP work centre the machine is (CRHD OBJID)
            )
            self.add(
                "IFLOT",
                TPLNR=m.tplnr,
                FLTYP="M",
                IWERK=WERKS,
                TPLMA=world.lines[m.line - 1].tplnr,
                ERDAT="12.01.2015",
            )
            self.add("IFLOTX", TPLNR=m.tplnr, SPRAS="DE", PLTXT=m.pltxt)
        for table in ("EQUI", "EQKT", "EQUZ", "ILOA", "IFLOT", "IFLOTX"):
            self.flush(table)

    def work_centres(self) -> None:
        """Work centres: one per machine (production), two maintenance crews."""
        world = self.story.world
        centres = [(m.objid, m.arbpl, m.ktext, "0001", f"L{m.line}", "009") for m in world.machines]
        centres += [
            (self.pm_objid[name], name, text, "0005", "IH", "004") for name, text in PM_WORK_CENTRES
        ]
        for objid, arbpl, ktext, usage, responsible, planner in centres:
            self.see(arbpl, ktext, str(objid))
            self.add(
                "CRHD",
                OBJTY="A",
                OBJID=str(objid),
                ARBPL=arbpl,
                WERKS=WERKS,
                VERWE=usage,
                VERAN=responsible,
                PLANV=planner,
                BEGDA="01.01.2015",
                ENDDA="31.12.9999",
                KAPID=pad(30_000_000 + objid % 100_000, 8),
            )
            self.add(
                "CRTX", OBJTY="A", OBJID=str(objid), SPRAS="DE", KTEXT=ktext,
                KTEXT_UP=ktext.upper(),
            )  # fmt: skip
        self.flush("CRHD")
        self.flush("CRTX")

    def batches(self) -> None:
        world = self.story.world
        for lot in self.story.book.lots:
            mat = world.materials[lot.material]
            self.see(pad(lot.charg, 10), lot.licha)
            made = lot.received - int(self.rng.uniform(10, 60) * DAY)
            self.add(
                "MCH1",
                MATNR=self.matnr[lot.material],
                CHARG=pad(lot.charg, 10),
                ERSDA=self.d(lot.received),
                ERNAM="WE_" + self.user(),
                LIFNR=pad(world.suppliers[mat.supplier].lifnr, 10),
                LICHA=lot.licha,
                HSDAT=self.d(made),
                VFDAT=self.d(lot.received + 5 * 365 * DAY) if mat.key.startswith("RWDR") else "",
                LWEDT=self.d(lot.received),
                ZUSTD="X" if lot.rejected else "",
            )
        self.flush("MCH1")

    # -- purchasing --------------------------------------------------------------------------
    def purchasing(self) -> dict[str, Any]:
        """Purchase orders: one per batch received in the horizon, spares, non-stock supplies."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        items: list[dict[str, Any]] = []
        for lot in story.book.lots:
            if lot.received < 0:
                continue  # opening stock, bought before the extract's range
            mat = world.materials[lot.material]
            items.append(
                {
                    "material": lot.material,
                    "ordered": lot.received
                    - mat.lead_days * DAY
                    - int(self.rng.integers(0, 3 * DAY)),
                    "promised": lot.received + int(self.rng.integers(-2, 3)) * DAY,
                    "quantity": lot.quantity,
                    "received": lot.received,
                    "lot": lot.index,
                }
            )
        # the next batch of every batch-managed material is on order at the end
        for mat in world.materials:
            if mat.batch:
                ordered = minutes - int(self.rng.uniform(3, 12) * DAY)
                items.append(
                    {
                        "material": mat.index,
                        "ordered": ordered,
                        "promised": ordered + mat.lead_days * DAY,
                        "quantity": int(np.mean(mat.lot_size) // 10 * 10),
                        "received": None,
                        "lot": None,
                    }
                )
        for mv in story.maintenance.movements:
            if mv.kind != "order":
                continue
            arrival = mv.time + world.materials[mv.material].lead_days * DAY
            items.append(
                {
                    "material": mv.material,
                    "ordered": mv.time,
                    "promised": arrival,
                    "quantity": mv.quantity,
                    "received": arrival if arrival < minutes else None,
                    "lot": None,
                }
            )
        # non-stock oil and screw kits: a monthly order received to a cost centre
        for mat in world.materials:
            if mat.mtart != "NLAG":
                continue
            for month_start in range(0, minutes, 30 * DAY):
                received = story.calendar.workday_minute(month_start + 2 * DAY, 9.0)
                if received >= minutes - 60:
                    continue
                usage = 30 * 220 * (1.9 if mat.unit == "L" else 1.0)
                items.append(
                    {
                        "material": mat.index,
                        "ordered": received - mat.lead_days * DAY,
                        "promised": received,
                        "quantity": int(round(usage, -2)),
                        "received": received,
                        "lot": None,
                    }
                )
        items.sort(key=lambda it: (it["ordered"], it["material"]))
        ebeln = 4_500_010_000 + int(self.rng.integers(0, 500))
        for item in items:
            mat = world.materials[item["material"]]
            supplier = world.suppliers[mat.supplier]
            ebeln += int(self.rng.integers(1, 4))
            item["ebeln"], item["ebelp"] = pad(ebeln, 10), "00010"
            value = mat.price * item["quantity"]
            self.add(
                "EKKO",
                EBELN=item["ebeln"],
                BUKRS="2000",
                BSTYP="F",
                BSART="NB",
                AEDAT=self.d(item["ordered"]),
                ERNAM=self.user(),
                LIFNR=pad(supplier.lifnr, 10),
                EKORG="2100",
                EKGRP=f"A1{mat.supplier % 3}",
                WAERS="EUR",
                BEDAT=self.d(item["ordered"]),
            )
            if mat.mtart == "NLAG":
                lgort = ""
            else:
                lgort = LGORT_MRO if mat.mtart == "ERSA" else LGORT_RAW
            self.add(
                "EKPO",
                EBELN=item["ebeln"],
                EBELP="00010",
                TXZ01=mat.text_de[:40],
                MATNR=self.matnr[mat.index],
                WERKS=WERKS,
                LGORT=lgort,
                MATKL=_matkl(mat.key),
                MENGE=qty(item["quantity"]),
                MEINS=mat.unit,
                NETPR=amount(mat.price),
                PEINH="1",
                NETWR=amount(value),
                KNTTP="K" if mat.mtart == "NLAG" else "",
                PSTYP="2" if mat.consignment else "0",
                ELIKZ="X" if item["received"] is not None else "",
            )
            batch = None if item["lot"] is None else story.book.lots[item["lot"]]
            self.add(
                "EKET",
                EBELN=item["ebeln"],
                EBELP="00010",
                ETENR="0001",
                EINDT=self.d(item["promised"]),
                MENGE=qty(item["quantity"]),
                WEMNG=qty(item["quantity"] if item["received"] is not None else 0),
                CHARG="" if batch is None else pad(batch.charg, 10),
            )
        self.flush("EKKO")
        self.flush("EKPO", totals=("MENGE", "NETWR"))
        self.flush("EKET")
        return {"items": items, "by_lot": {it["lot"]: it for it in items if it["lot"] is not None}}

    # -- production orders -------------------------------------------------------------------
    def production(self) -> None:
        """Production orders (AUFK, AFKO, AFPO), operations, confirmations, status, serials."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        story.dirt["afru_reversals"] = []
        for oi, order in enumerate(story.orders):
            if order.created >= minutes:
                continue
            product = world.products[order.product]
            line = world.lines[order.line]
            aufnr = pad(order.aufnr, 12)
            self.see(aufnr)
            aufpl = pad(1_000_000 + oi * 7, 10)
            end = order.ops[3].end if order.finished else None
            self.add(
                "AUFK",
                AUFNR=aufnr,
                AUART="PP01",
                AUTYP="10",
                ERNAM="PP_PLAN",
                ERDAT=self.d(order.created),
                KTEXT=product.text_de[:40],
                WERKS=WERKS,
                OBJNR="OR" + aufnr,
            )
            self.add(
                "AFKO",
                AUFNR=aufnr,
                GSTRP=self.d(order.plan_start),
                GLTRP=self.d(order.plan_end),
                GSTRS=self.d(order.plan_start),
                GLTRS=self.d(order.plan_end),
                GSTRI=self.d(order.ops[0].start if order.ops else None),
                GETRI=self.d(end),
                GLTRI=self.d(end),
                GAMNG=qty(order.qty),
                GMEIN="ST",
                PLNBEZ=self.product_matnr[order.product],
                AUFPL=aufpl,
                DISPO="G01",
                FEVOR=f"L{line.number:02d}",
                PLNNR=pad(50_000_010 + order.product, 8),
            )
            self.add(
                "AFPO",
                AUFNR=aufnr,
                POSNR="0001",
                MATNR=self.product_matnr[order.product],
                PSMNG=qty(order.qty),
                WEMNG=qty(order.ops[3].good if order.finished else 0),
                MEINS="ST",
                DWERK=WERKS,
                LGORT=LGORT_FG,
                LTRMI=self.d(end),
                ELIKZ="X" if order.finished else "",
                DAUAT="PP01",
            )
            plan = order.release
            for k, code in enumerate(ROUTING):
                machine = world.machines[line.machine_indices[k]]
                mtype = MACHINE_TYPES[code]
                self.rueck += 1
                apl = pad(k + 1, 8)
                self.add(
                    "AFVC",
                    AUFPL=aufpl,
                    APLZL=apl,
                    VORNR=mtype.op,
                    ARBID=str(machine.objid),
                    WERKS=WERKS,
                    STEUS="PP01",
                    LTXA1=mtype.op_text,
                    RUECK=pad(self.rueck, 10),
                )
                standard = product.cycle_min[code]
                plan_end = plan + mtype.setup_minutes[0] + int(order.qty * standard)
                op = order.ops[k] if k < len(order.ops) else None
                done = op is not None and op.end is not None
                self.add(
                    "AFVV",
                    AUFPL=aufpl,
                    APLZL=apl,
                    MEINH="ST",
                    BMSCH="1",
                    VGW01=qty(mtype.setup_minutes[0]),
                    VGE01="MIN",
                    VGW02=qty(standard),
                    VGE02="MIN",
                    FSAVD=self.d(plan),
                    FSAVZ=self.t(plan),
                    FSEDD=self.d(plan_end),
                    FSEDZ=self.t(plan_end),
                    MGVRG=qty(order.qty),
                    LMNGA=qty(op.good if op is not None and done else 0),
                )
                plan = plan_end
                if op is not None and op.end is not None:
                    self._confirm(op, aufnr, aufpl, apl, self.rueck, machine.objid)
            self._statuses("OR" + aufnr, order, minutes)
            if order.finished and end is not None:
                self._order_serials(oi, order, aufnr, end)
        self._pm_orders()
        for table in ("AUFK", "AFKO", "AFPO", "AFVC", "AFVV"):
            self.flush(table)
        self.flush(
            "AFRU",
            title=("Tabelle AFRU  Rückmeldungen zu Aufträgen  Werk 2100",),
            totals=("LMNGA", "XMNGA"),
        )
        self.flush("JEST")

    def _confirm(
        self, op: Operation, aufnr: str, aufpl: str, apl: str, rueck: int, arbid: int
    ) -> None:
        """The final confirmation of one operation; a few manual ones are reversed and redone."""
        last = int(op.end or 0) - 1
        entered = last + int(self.rng.integers(1, 25))
        by_mes = self.rng.random() < 0.92
        vornr = MACHINE_TYPES[ROUTING[op.op_index]].op
        run = max((last + 1 - op.start) - op.setup, 0)

        def confirm(counter: int, good: float, reversal_of: int | None) -> None:
            self.add(
                "AFRU",
                RUECK=pad(rueck, 10),
                RMZHL=pad(counter, 8),
                ERSDA=self.d(entered),
                ERZET=self.t(entered, self.second()),
                ERNAM="RFC_MES" if by_mes else self.user(),
                BUDAT=self.d(last),
                AUFNR=aufnr,
                VORNR=vornr,
                AUFPL=aufpl,
                APLZL=apl,
                ARBID=str(arbid),
                WERKS=WERKS,
                ISDD=self.d(op.start),
                ISDZ=self.t(op.start),
                IEDD=self.d(last),
                IEDZ=self.t(last, 59),
                LMNGA=qty(good),
                XMNGA=qty(op.scrap),
                RMNGA=qty(0),
                GMEIN="ST",
                ISM01=qty(op.setup),
                ILE01="MIN",
                ISM02=qty(run),
                ILE02="MIN",
                AUERU="X",
                STOKZ="X" if reversal_of is not None else "",
                STZHL=pad(reversal_of, 8) if reversal_of is not None else "",
                LTXA1="" if by_mes else "manuell erfasst",
            )

        counter = 1
        if not by_mes and self.rng.random() < 0.12:
            wrong = max(op.good - int(self.rng.integers(1, 5)), 0)
            confirm(counter, wrong, None)
            confirm(counter + 1, wrong, counter)
            self.story.dirt["afru_reversals"].append(
                {
                    "aufnr": aufnr,
                    "vornr": vornr,
                    "rueck": pad(rueck, 10),
                    "reversed_counter": pad(counter, 8),
                    "reversal_counter": pad(counter + 1, 8),
                }
            )
            counter += 2
        confirm(counter, op.good, None)

    def _statuses(self, objnr: str, order: Order, minutes: int) -> None:
        """System statuses in JEST: CRTD, REL, PCNF, CNF, DLV, TECO (INACT X: no longer)."""
        released = order.release < minutes
        self.add("JEST", OBJNR=objnr, STAT="I0001", INACT="X" if released else "", CHGNR="001")
        if released:
            self.add("JEST", OBJNR=objnr, STAT="I0002", CHGNR="001")
        if order.started:
            inactive = "X" if order.finished else ""
            self.add("JEST", OBJNR=objnr, STAT="I0010", INACT=inactive, CHGNR="001")
        if order.finished:
            self.add("JEST", OBJNR=objnr, STAT="I0009", CHGNR="001")
            self.add("JEST", OBJNR=objnr, STAT="I0012", CHGNR="001")
            if (order.ops[3].end or 0) < minutes - 7 * DAY:
                self.add("JEST", OBJNR=objnr, STAT="I0045", CHGNR="001")

    def _order_serials(self, oi: int, order: Order, aufnr: str, end: int) -> None:
        """The serials received from the order (SER05 header, OBJK object list)."""
        story = self.story
        self.obknr += 1
        good = np.flatnonzero(order.test_pass & (order.unit_done[3] >= 0))
        self.add(
            "SER05",
            OBKNR=str(self.obknr),
            PPAUFNR=aufnr,
            PPPOSNR="0001",
            DATUM=self.d(end),
            UZEIT=self.t(end),
            ANZSN=str(good.size),
            VORGANG="PPSN",
            PPAUTYP="10",
            PPAUFART="PP01",
            PPWERK=WERKS,
        )
        for z, u in enumerate(good.tolist()):
            self.add(
                "OBJK",
                OBKNR=str(self.obknr),
                OBZAE=str(z + 1),
                OBJVW="X",
                TASER="SER05",
                SERNR=story.serial(oi, u),
                MATNR=self.product_matnr[order.product],
                DATUM=self.d(end),
            )

    # -- maintenance -------------------------------------------------------------------------
    def _pm_orders(self) -> None:
        """Maintenance orders: preventive (PM01) and corrective (PM02), confirmed by the crew."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        for machine, start, end, number in story.maintenance.pms:
            self.pm_orders.append(
                {
                    "aufnr": number,
                    "auart": "PM01",
                    "machine": machine,
                    "start": start,
                    "end": end,
                    "text": f"Wartung 8 Wochen {world.machines[machine].arbpl}",
                    "failure": None,
                }
            )
        for f in story.maintenance.failures:
            m = world.machines[f.machine]
            text = {
                "degradation": f"Schleifspindel Lagerschaden {m.arbpl}",
                "sudden": f"Hydraulikschlauch geplatzt {m.arbpl}",
            }[f.kind]
            self.pm_orders.append(
                {
                    "aufnr": f.order_no,
                    "auart": "PM02",
                    "machine": f.machine,
                    "start": f.time,
                    "end": f.repair_end,
                    "text": text,
                    "failure": f,
                }
            )
        self.pm_orders.sort(key=lambda o: (o["start"], o["aufnr"]))
        crew = self.pm_objid["INST-MECH"]
        for o in self.pm_orders:
            aufnr = pad(o["aufnr"], 12)
            aufpl = pad(2_000_000 + o["aufnr"] % 100_000, 10)
            done = o["end"] < minutes
            failure: Failure | None = o["failure"]
            created = o["start"] - (14 * DAY if failure is None else 0)
            self.add(
                "AUFK",
                AUFNR=aufnr,
                AUART=o["auart"],
                AUTYP="30",
                ERNAM="IH_" + self.user(),
                ERDAT=self.d(created),
                KTEXT=o["text"][:40],
                WERKS=WERKS,
                OBJNR="OR" + aufnr,
            )
            self.add(
                "AFKO",
                AUFNR=aufnr,
                GSTRP=self.d(o["start"]),
                GLTRP=self.d(o["start"] + PM_MINUTES),
                GSTRS=self.d(o["start"]),
                GLTRS=self.d(o["start"] + PM_MINUTES),
                GSTRI=self.d(o["start"]),
                GETRI=self.d(o["end"] if done else None),
                GLTRI=self.d(o["end"] if done else None),
                GAMNG=qty(0),
                AUFPL=aufpl,
            )
            self.rueck += 1
            self.add(
                "AFVC",
                AUFPL=aufpl,
                APLZL=pad(1, 8),
                VORNR="0010",
                ARBID=str(crew),
                WERKS=WERKS,
                STEUS="PM01",
                LTXA1=o["text"][:40],
                RUECK=pad(self.rueck, 10),
            )
            if done:
                waited = failure.wait_minutes if failure is not None else 0
                hours = (o["end"] - o["start"] - waited) / 60.0
                last = o["end"] - 1
                self.add(
                    "AFRU",
                    RUECK=pad(self.rueck, 10),
                    RMZHL=pad(1, 8),
                    ERSDA=self.d(last),
                    ERZET=self.t(last),
                    ERNAM=self.user(),
                    BUDAT=self.d(last),
                    AUFNR=aufnr,
                    VORNR="0010",
                    AUFPL=aufpl,
                    APLZL=pad(1, 8),
                    ARBID=str(crew),
                    WERKS=WERKS,
                    ISDD=self.d(o["start"]),
                    ISDZ=self.t(o["start"]),
                    IEDD=self.d(last),
                    IEDZ=self.t(last, 59),
                    LMNGA=qty(0),
                    XMNGA=qty(0),
                    RMNGA=qty(0),
                    ISM01=qty(hours * 2),
                    ILE01="H",
                    ISM02=qty(0),
                    AUERU="X",
                    LTXA1="Instandhaltung",
                )
            objnr = "OR" + aufnr
            self.add("JEST", OBJNR=objnr, STAT="I0001", INACT="X", CHGNR="001")
            self.add("JEST", OBJNR=objnr, STAT="I0002", CHGNR="001")
            if done:
                self.add("JEST", OBJNR=objnr, STAT="I0009", CHGNR="001")
                self.add("JEST", OBJNR=objnr, STAT="I0045", CHGNR="001")

    def maintenance_orders(self) -> None:
        """Maintenance order headers (AFIH) and the malfunction reports behind the repairs."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        for o in self.pm_orders:
            m = world.machines[o["machine"]]
            f: Failure | None = o["failure"]
            iloan = pad(500_000 + m.index * 3, 12)
            self.add(
                "AFIH",
                AUFNR=pad(o["aufnr"], 12),
                EQUNR=pad(m.equnr, 18),
                ILOAN=iloan,
                QMNUM="" if f is None else pad(f.notification_no, 12),
                ARTPR="PM",
                PRIOK="1" if f is not None else "3",
                IPHAS="3" if o["end"] < minutes else "2",
                WARPL="" if f is not None else pad(900_000 + m.index, 12),
            )
            if f is None:
                continue
            repaired = f.repair_end if f.repair_end < minutes else None
            code = "0020" if f.kind == "degradation" else "0030"
            self._notification(
                f.notification_no, "M2", o["text"], f.time, group="PM-SCHAD", code=code,
                AUFNR=pad(f.order_no, 12),
            )  # fmt: skip
            self.add(
                "QMIH",
                QMNUM=pad(f.notification_no, 12),
                EQUNR=pad(m.equnr, 18),
                ILOAN=iloan,
                IWERK=WERKS,
                AUSVN=self.d(f.time),
                AUZTV=self.t(f.time),
                AUSBS=self.d(repaired),
                AUZTB=self.t(repaired),
                MSAUS="X",
                AUSZT=sap_float(((repaired or minutes) - f.time) / 60.0),
                MAUEH="H",
            )
        self.flush("AFIH")

    def _notification(
        self,
        number: int,
        kind: str,
        text: str,
        minute: int,
        *,
        group: str,
        code: str,
        priority: str = "3",
        **fields: str,
    ) -> None:
        """One notification (QMEL): M2 malfunction, Q1 customer, Q2 vendor, Q3 internal."""
        self.add(
            "QMEL",
            QMNUM=pad(number, 12),
            QMART=kind,
            QMTXT=text[:40],
            ERNAM=self.user(),
            ERDAT=self.d(minute),
            MZEIT=self.t(minute),
            QMDAT=self.d(minute),
            PRIOK=priority,
            QMKAT="C" if kind == "M2" else "D",
            QMGRP=group,
            QMCOD=code,
            MAWERK=WERKS,
            OBJNR="QM" + pad(number, 12),
            **fields,
        )

    # -- sales and deliveries ----------------------------------------------------------------
    def sales(self) -> None:
        """Sales orders (VBAK, VBAP), deliveries (LIKP, LIPS) and their serials (SER01, OBJK)."""
        story = self.story
        world = story.world
        for s in story.sales.orders:
            vbeln = pad(s.vbeln, 10)
            self.see(vbeln)
            self.add(
                "VBAK",
                VBELN=vbeln,
                ERDAT=self.d(s.created),
                ERZET=self.t(s.created),
                ERNAM="VERTRIEB",
                AUART="TA",
                VKORG="2100",
                VTWEG="10",
                SPART="00",
                KUNNR=pad(world.customers[s.customer].kunnr, 10),
                BSTNK=s.customer_po,
                BSTDK=self.d(s.created),
                VDATU=self.d(s.requested),
                NETWR=amount(sum(PRICE[p] * q for p, q in s.items)),
                WAERK="EUR",
            )
            for k, (p, quantity) in enumerate(s.items):
                self.add(
                    "VBAP",
                    VBELN=vbeln,
                    POSNR=pad(10 * (k + 1), 6),
                    MATNR=self.product_matnr[p],
                    ARKTX=world.products[p].text_de,
                    KWMENG=qty(quantity),
                    VRKME="ST",
                    NETWR=amount(PRICE[p] * quantity),
                    WAERK="EUR",
                    WERKS=WERKS,
                )
        for dlv in story.sales.deliveries:
            s = story.sales.orders[dlv.sales_order]
            vbeln = pad(dlv.vbeln, 10)
            kunnr = pad(world.customers[dlv.customer].kunnr, 10)
            n = len(dlv.units)
            self.add(
                "LIKP",
                VBELN=vbeln,
                ERDAT=self.d(dlv.time - 120),
                ERZET=self.t(dlv.time - 120),
                LFART="LF",
                VSTEL="2100",
                KUNNR=kunnr,
                KUNAG=kunnr,
                LFDAT=self.d(dlv.time),
                WADAT_IST=self.d(dlv.time),
                BTGEW=qty(n * (20 + 12 * dlv.product)),
                GEWEI="KG",
                ANZPK=str(max(1, n // 4)),
            )
            self.add(
                "LIPS",
                VBELN=vbeln,
                POSNR="000010",
                MATNR=self.product_matnr[dlv.product],
                WERKS=WERKS,
                LGORT=LGORT_FG,
                LFIMG=qty(n),
                VRKME="ST",
                ARKTX=world.products[dlv.product].text_de,
                VGBEL=pad(s.vbeln, 10),
                VGPOS=pad(10 * (dlv.item + 1), 6),
                PSTYV="TAN",
            )
            self.obknr += 1
            self.add(
                "SER01",
                OBKNR=str(self.obknr),
                LIEF_NR=vbeln,
                POSNR="000010",
                DATUM=self.d(dlv.time),
                UZEIT=self.t(dlv.time),
                KUNDE=kunnr,
                ANZSN=str(n),
                VORGANG="SDLS",
                VBTYP="J",
                BWART="601",
            )
            for z, (oi, u) in enumerate(dlv.units):
                self.add(
                    "OBJK",
                    OBKNR=str(self.obknr),
                    OBZAE=str(z + 1),
                    OBJVW="X",
                    TASER="SER01",
                    SERNR=story.serial(oi, u),
                    MATNR=self.product_matnr[dlv.product],
                    DATUM=self.d(dlv.time),
                )
        for table in ("VBAK", "VBAP", "LIKP", "LIPS", "SER01", "SER05", "OBJK"):
            self.flush(table)

    # -- goods movements -------------------------------------------------------------------
    def goods_movements(self, purchases: dict[str, Any]) -> None:
        """MSEG: receipts (101), returns (122), issues to orders (261), deliveries (601)."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        moves = self.moves

        def move(time: int, doc: str, **fields: Any) -> None:
            moves.append({"time": time, "doc": doc, **fields})

        for item in purchases["items"]:
            if item["received"] is None or item["received"] >= minutes:
                continue
            mat = world.materials[item["material"]]
            lot = None if item["lot"] is None else story.book.lots[item["lot"]]
            lifnr = pad(world.suppliers[mat.supplier].lifnr, 10)
            if mat.mtart == "NLAG":
                lgort = ""
            else:
                lgort = LGORT_MRO if mat.mtart == "ERSA" else LGORT_RAW
            move(
                item["received"],
                f"po{item['ebeln']}",
                bwart="101",
                sobkz="K" if mat.consignment else "",
                material=mat.index,
                lgort=lgort,
                charg="" if lot is None else pad(lot.charg, 10),
                lifnr=lifnr,
                shkzg="S",
                quantity=item["quantity"],
                ebeln=item["ebeln"],
                ebelp=item["ebelp"],
                kostl="2100410" if mat.mtart == "NLAG" else "",
            )
            if lot is not None and lot.rejected and lot.returned is not None:
                move(
                    lot.returned,
                    f"ret{lot.index}",
                    bwart="122",
                    sobkz="",
                    material=mat.index,
                    lgort=LGORT_RAW,
                    charg=pad(lot.charg, 10),
                    lifnr=lifnr,
                    shkzg="H",
                    quantity=lot.quantity,
                    ebeln=item["ebeln"],
                    ebelp=item["ebelp"],
                )
        book = story.book
        for (oi, material, li), quantity in sorted(book.consumption.items()):
            mat = world.materials[material]
            move(
                book.posted[oi],
                f"gi{oi}",
                bwart="261",
                sobkz="K" if mat.consignment else "",
                material=material,
                lgort=LGORT_RAW,
                charg=pad(book.lots[li].charg, 10),
                lifnr=pad(world.suppliers[mat.supplier].lifnr, 10) if mat.consignment else "",
                shkzg="H",
                quantity=quantity,
                aufnr=pad(story.orders[oi].aufnr, 12),
            )
        for oi, order in enumerate(story.orders):
            if order.finished and order.ops[3].good > 0:
                move(
                    int(order.ops[3].end or 0) - 1,
                    f"gr{oi}",
                    bwart="101",
                    sobkz="",
                    product=order.product,
                    lgort=LGORT_FG,
                    shkzg="S",
                    quantity=order.ops[3].good,
                    aufnr=pad(order.aufnr, 12),
                )
        for dlv in story.sales.deliveries:
            move(
                dlv.time,
                f"dl{dlv.index}",
                bwart="601",
                sobkz="",
                product=dlv.product,
                lgort=LGORT_FG,
                kunnr=pad(world.customers[dlv.customer].kunnr, 10),
                shkzg="H",
                quantity=len(dlv.units),
                vbeln_im=pad(dlv.vbeln, 10),
                vbelp_im="000010",
            )
        repairs = {f.order_no for f in story.maintenance.failures}
        for spare in story.maintenance.movements:
            if spare.kind == "issue" and spare.order_no in repairs:
                move(
                    spare.time,
                    f"pm{spare.order_no}",
                    bwart="261",
                    sobkz="",
                    material=spare.material,
                    lgort=LGORT_MRO,
                    shkzg="H",
                    quantity=1,
                    aufnr=pad(spare.order_no, 12),
                )
        moves.sort(key=lambda mv: (mv["time"], mv["doc"]))
        documents: dict[str, tuple[str, int]] = {}
        # material document numbers restart every year: MBLNR is unique only with MJAHR
        next_number: dict[int, int] = defaultdict(lambda: 4_900_001_000)
        lines_of: dict[str, int] = defaultdict(int)
        for mv in moves:
            posted = self.d(mv["time"])
            year = int(posted[-4:])
            if mv["doc"] not in documents:
                next_number[year] += int(self.rng.integers(1, 3))
                documents[mv["doc"]] = (str(next_number[year]), year)
            mv["mblnr"], mv["mjahr"] = documents[mv["doc"]]
            lines_of[mv["doc"]] += 1
            mv["zeile"] = lines_of[mv["doc"]]
            if "product" in mv:
                matnr, price, unit = (
                    self.product_matnr[mv["product"]],
                    0.62 * PRICE[mv["product"]],
                    "ST",
                )
            else:
                mat = world.materials[mv["material"]]
                matnr, price, unit = self.matnr[mat.index], mat.price, mat.unit
            entered = mv["time"] + int(self.rng.integers(0, 20))
            interfaced = mv["bwart"] in ("101", "261") and "aufnr" in mv
            self.add(
                "MSEG",
                MBLNR=mv["mblnr"],
                MJAHR=str(mv["mjahr"]),
                ZEILE=pad(mv["zeile"], 4),
                BWART=mv["bwart"],
                SOBKZ=mv["sobkz"],
                MATNR=matnr,
                WERKS=WERKS,
                LGORT=mv.get("lgort", ""),
                CHARG=mv.get("charg", ""),
                LIFNR=mv.get("lifnr", ""),
                KUNNR=mv.get("kunnr", ""),
                SHKZG=mv["shkzg"],
                MENGE=qty(mv["quantity"]),
                MEINS=unit,
                DMBTR=amount(price * mv["quantity"]),
                WAERS="EUR",
                EBELN=mv.get("ebeln", ""),
                EBELP=mv.get("ebelp", ""),
                AUFNR=mv.get("aufnr", ""),
                VBELN_IM=mv.get("vbeln_im", ""),
                VBELP_IM=mv.get("vbelp_im", ""),
                KOSTL=mv.get("kostl", ""),
                BUDAT_MKPF=posted,
                CPUDT_MKPF=self.d(entered),
                CPUTM_MKPF=self.t(entered, self.second()),
                USNAM_MKPF="RFC_MES" if interfaced else self.user(),
            )
        self.flush(
            "MSEG",
            title=(
                "Tabelle: MSEG   Materialbelegsegment   Werk 2100   Buchungsdatum "
                f"{self.d(0)} - {self.d(minutes - 1)}",
            ),
        )

    def stock(self) -> None:
        """MARD as SE16N downloads it with field labels: German headings, external numbers.

        Own unrestricted stock per storage location at the end of the horizon. Not in it: the
        vendor's consignment stock (MKOL) and non-stock materials (NLAG), which have no count.
        """
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        raw: dict[int, float] = defaultdict(float)
        for lot in story.book.lots:
            if not lot.rejected and lot.received < minutes:
                raw[lot.material] += lot.quantity - lot.used
        year, month = story.calendar.days[-1].year, story.calendar.days[-1].month
        rows: list[dict[str, Any]] = []
        counted: dict[int, float] = {}
        for mat in world.materials:
            if mat.mtart == "NLAG" or mat.consignment:
                continue
            if mat.mtart == "ERSA":
                value, lgort = float(story.maintenance.stock_end.get(mat.index, 0)), LGORT_MRO
            else:
                value, lgort = raw.get(mat.index, 0.0), LGORT_RAW
            counted[mat.index] = value
            rows.append(
                {"MATNR": str(mat.matnr), "LGORT": lgort, "LABST": value,
                 "LGPBE": f"R{10 + mat.index:02d}-{mat.index % 4 + 1}"}
            )  # fmt: skip
        for p in world.products:
            rows.append(
                {"MATNR": str(p.matnr), "LGORT": LGORT_FG, "LGPBE": f"VS-{p.index + 1:02d}",
                 "LABST": float(story.sales.stock_end.get(p.index, 0))}
            )  # fmt: skip
        story.pi["stock_counted"] = counted
        lines = []
        for row in rows:
            self.see(row["MATNR"])
            values = {
                **row,
                "WERKS": WERKS,
                "LABST": qty(row["LABST"]),
                "INSME": qty(0),
                "SPEME": qty(0),
                "LFGJA": str(year),
                "LFMON": str(month),
            }
            lines.append([values[field] for field, _ in MARD_LABELS])
        total = sum(float(row["LABST"]) for row in rows)
        totals = ["*", "", "", "", qty(total), qty(0), qty(0), "", ""]
        info = write_sap(
            self.out / "MARD.csv",
            [label for _, label in MARD_LABELS],
            lines,
            title=(f"Lagerortdaten zum Material   Stand {self.d(minutes - 1)} 23:59:59", ""),
            totals=totals,
        )
        story.records["erp/MARD.csv"] = info

    # -- quality -----------------------------------------------------------------------------
    def quality(self, purchases: dict[str, Any]) -> None:
        """Inspection lots at goods receipt (01) and from production (04), notifications."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        incoming_no = 10_000_004_000
        production_no = 40_000_009_000
        receipts = {
            mv["charg"]: mv for mv in self.moves if mv["bwart"] == "101" and mv.get("charg")
        }
        inspection: dict[int, str] = {}
        for lot in story.book.lots:
            if lot.received < 0 or lot.received >= minutes:
                continue
            mat = world.materials[lot.material]
            item = purchases["by_lot"].get(lot.index)
            mv = receipts.get(pad(lot.charg, 10))
            incoming_no += int(self.rng.integers(1, 4))
            prueflos = pad(incoming_no, 12)
            inspection[lot.index] = prueflos
            decided = lot.received + int(self.rng.uniform(2, 30) * 60)
            self.add(
                "QALS",
                PRUEFLOS=prueflos,
                WERK=WERKS,
                ART="01",
                HERKUNFT="01",
                OBJNR="QL" + prueflos,
                ENSTEHDAT=self.d(lot.received),
                ENTSTEZEIT=self.t(lot.received),
                PASTRTERM=self.d(lot.received),
                PAENDTERM=self.d(decided),
                MATNR=self.matnr[lot.material],
                CHARG=pad(lot.charg, 10),
                LIFNR=pad(world.suppliers[mat.supplier].lifnr, 10),
                EBELN="" if item is None else item["ebeln"],
                EBELP="" if item is None else item["ebelp"],
                MBLNR="" if mv is None else mv["mblnr"],
                MJAHR="" if mv is None else str(mv["mjahr"]),
                ZEILE="" if mv is None else pad(mv["zeile"], 4),
                LOSMENGE=qty(lot.quantity),
                MENGENEINH=mat.unit,
                KTEXTLOS=f"WE {mat.text_de}"[:40],
            )
            code, text, target, low, high, unit, places, spread = INCOMING[mat.key.split("-")[0]]
            n = int(self.rng.integers(5, 13))
            # the bad bearing batch measures high, yet inside its tolerance
            values = target + (5.5 if lot.bad else 0.0) + self.rng.normal(0.0, spread, n)
            failed = 0 if lot.rejected else int(((values < low) | (values > high)).sum())
            self._characteristic(prueflos, 10, code, text, target, low, high, unit, places)
            self._result(
                prueflos, 10, "R" if lot.rejected or failed else "A", n, failed, values,
                "QS_" + self.user(), decided,
            )  # fmt: skip
            if lot.rejected:
                self._characteristic(prueflos, 20, "GEH-LUNKER", "Sichtprüfung Lunker/Poren",
                                     0.0, 0.0, 0.0, "", 0)  # fmt: skip
                self._result(prueflos, 20, "R", n, 3, np.zeros(1), "QS_" + self.user(), decided)
        for order in story.orders:
            if not order.finished:
                continue
            end = int(order.ops[3].end or 0) - 1
            production_no += int(self.rng.integers(1, 3))
            prueflos = pad(production_no, 12)
            noise = order.noise[order.unit_done[3] >= 0]
            aufnr = pad(order.aufnr, 12)
            self.add(
                "QALS",
                PRUEFLOS=prueflos,
                WERK=WERKS,
                ART="04",
                HERKUNFT="04",
                OBJNR="QL" + prueflos,
                ENSTEHDAT=self.d(end),
                ENTSTEZEIT=self.t(end),
                PASTRTERM=self.d(end),
                PAENDTERM=self.d(end),
                MATNR=self.product_matnr[order.product],
                AUFNR=aufnr,
                LOSMENGE=qty(order.ops[3].good),
                MENGENEINH="ST",
                KTEXTLOS=f"FA {order.aufnr} Endprüfung",
            )
            product = world.products[order.product]
            self._characteristic(prueflos, 10, "GERAEUSCH", "Geräuschpegel Einlauf",
                                 product.noise_nominal, 0.0, NOISE_LIMIT, "DBA", 1)  # fmt: skip
            failed = int((noise > NOISE_LIMIT).sum())
            self._result(
                prueflos, 10, "A" if failed <= 2 else "R", int(noise.size), failed, noise,
                "RFC_MES", end,
            )  # fmt: skip
        for table in ("QALS", "QAMV", "QAMR"):
            self.flush(table)
        self._quality_notifications(inspection)

    def _characteristic(
        self,
        prueflos: str,
        number: int,
        code: str,
        text: str,
        target: float,
        low: float,
        high: float,
        unit: str,
        places: int,
    ) -> None:
        self.add(
            "QAMV",
            PRUEFLOS=prueflos,
            VORGLFNR=pad(1, 8),
            MERKNR=pad(number, 4),
            VERWMERKM=code,
            KURZTEXT=text,
            SOLLWERT=sap_float(target),
            TOLERANZUN=sap_float(low),
            TOLERANZOB=sap_float(high),
            MASSEINHSW=unit,
            STELLEN=str(places),
        )

    def _result(
        self,
        prueflos: str,
        number: int,
        valuation: str,
        count: int,
        failed: int,
        values: np.ndarray,
        inspector: str,
        minute: int,
    ) -> None:
        some = values.size > 0
        self.add(
            "QAMR",
            PRUEFLOS=prueflos,
            VORGLFNR=pad(1, 8),
            MERKNR=pad(number, 4),
            SATZSTATUS="5",
            MBEWERTG=valuation,
            ANZWERTG=str(count),
            ANZFEHLER=str(failed),
            MITTELWERT=sap_float(float(values.mean()) if some else 0.0),
            MAXWERT=sap_float(float(values.max()) if some else 0.0),
            MINWERT=sap_float(float(values.min()) if some else 0.0),
            PRUEFER=inspector,
            PRUEFDATUV=self.d(minute),
            PRUEFZEITV=self.t(minute),
        )

    def _quality_notifications(self, inspection: dict[int, str]) -> None:
        """Quality notifications: Q3, Q2 and Q1.

        Q3 for every unit that failed its run-in test, Q2 for the rejected batch, Q1 for the
        service cases quality took over (``REFNUM`` is the case number).
        """
        story = self.story
        world = story.world
        number = 200_000_500
        for oi, order in enumerate(story.orders):
            if len(order.ops) < 4:
                continue
            for u in np.flatnonzero((order.unit_done[3] >= 0) & ~order.test_pass).tolist():
                number += int(self.rng.integers(1, 4))
                noise = german_number(float(order.noise[u]), 1)
                self._notification(
                    number, "Q3", f"Geräusch n.i.O. {noise} dB(A)", int(order.unit_done[3][u]),
                    group="QM-PRF", code="0010", MATNR=self.product_matnr[order.product],
                    SERIALNR=story.serial(oi, u), AUFNR=pad(order.aufnr, 12),
                )  # fmt: skip
        rejected = story.book.rejected_lot
        if rejected is not None:
            lot = story.book.lots[rejected]
            mat = world.materials[lot.material]
            number += 3
            self._notification(
                number, "Q2", "Lunker im Gussgehäuse, Charge gesperrt", lot.received + 180,
                group="QM-LIEF", code="0040", priority="2", MATNR=self.matnr[lot.material],
                CHARG=pad(lot.charg, 10), LIFNUM=pad(world.suppliers[mat.supplier].lifnr, 10),
                PRUEFLOS=inspection.get(rejected, ""),
            )  # fmt: skip
        for k, claim in enumerate(story.sales.claims):
            if k >= len(story.claim_ids) or self.rng.random() >= 0.3:
                continue
            number += int(self.rng.integers(1, 4))
            at = claim.reported + int(self.rng.uniform(1, 5) * DAY)
            if at >= story.calendar.minutes:
                continue
            code, text = SYMPTOM_CODES[claim.symptom]
            self._notification(
                number, "Q1", text, at, group="QM-KUND", code=code, priority="2",
                MATNR=self.product_matnr[claim.product],
                SERIALNR=story.serial(claim.order, claim.unit),
                KUNUM=pad(world.customers[claim.customer].kunnr, 10),
                REFNUM=story.claim_ids[k],
            )  # fmt: skip
        self.tables["QMEL"].sort(key=lambda row: row["QMNUM"])
        self.flush("QMEL")
        self.flush("QMIH")


def write_sap_tables(story: Story, out: Path) -> None:
    """Write every SAP table of the plant into ``out/erp``."""
    SapExport(story, out).write_all()
