"""The gear plant's static objects and the names every silo gives them.

Each object gets a canonical id (used only in ``truth.json``). The silos name it by their own
conventions: SAP by zero-padded internal numbers and German texts (equipment, work centre and
functional location are three SAP objects for one machine), the PI System by tag prefixes and
AF element paths numbered by the automation team, the MES by its stations (``L1-ST30``), the
quality lab by what is painted on the test benches, the service desk by whatever the customer
said.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: SAP client, plant, company code, purchasing and sales organisation
MANDT = "100"
WERKS = "2100"
BUKRS = "2000"
COMPANY = "Drautal Getriebewerk GmbH"
PI_SERVER = "PISRV-VIL01"
AF_SERVER = "PIAF-VIL01"
AF_DATABASE = "Drautal"


@dataclass(frozen=True)
class MachineType:
    """A kind of machine: its operation in the routing, its signals and how it fails."""

    code: str
    op: str
    op_text: str
    german: str
    arbpl_prefix: str
    position: str
    pi_word: str
    af_word: str
    english: str
    eqart: str
    #: (PI attribute, description, unit, AF attribute name, compressing)
    signals: tuple[tuple[str, str, str, str, bool], ...]
    models: tuple[tuple[str, str], ...]
    setup_minutes: tuple[int, int]
    scrap: float
    spare: str


SIGNAL_STATE = ("STATE", "Maschinenzustand", "", "Machine State", False)

MACHINE_TYPES: dict[str, MachineType] = {
    "MC": MachineType(
        code="MC",
        op="0010",
        op_text="Gehäuse bearbeiten",
        german="Bearbeitungszentrum",
        arbpl_prefix="BAZ",
        position="Bearbeitung",
        pi_word="MCENTER",
        af_word="Machining Centre",
        english="machining centre",
        eqart="BAZ",
        signals=(
            ("SPDL_VIB", "Spindelschwingung", "mm/s", "Spindle Vibration", False),
            ("SPDL_PWR", "Spindelleistung", "kW", "Spindle Power", False),
            ("COOL_TEMP", "Kühlmitteltemperatur", "°C", "Coolant Temperature", True),
            SIGNAL_STATE,
        ),
        models=(("Hartl", "HBZ 500"), ("Oberhuber", "OBM 630")),
        setup_minutes=(45, 10),
        scrap=0.004,
        spare="SP-BAZ-SLS",
    ),
    "GR": MachineType(
        code="GR",
        op="0020",
        op_text="Verzahnung schleifen",
        german="Verzahnungsschleifmaschine",
        arbpl_prefix="VSM",
        position="Schleifen",
        pi_word="GRINDER",
        af_word="Gear Grinder",
        english="gear grinding machine",
        eqart="SCHL",
        signals=(
            ("SPDL_VIB", "Schleifspindel Schwingung", "mm/s", "Spindle Vibration", False),
            ("SPDL_PWR", "Schleifspindel Leistung", "kW", "Spindle Power", False),
            ("COOL_TEMP", "Kühlschmierstoff Temperatur", "°C", "Coolant Temperature", True),
            SIGNAL_STATE,
        ),
        models=(("Scharnagl", "ZSM 350"), ("Scharnagl", "ZSM 450")),
        setup_minutes=(35, 8),
        scrap=0.003,
        spare="SP-VSM-SPK",
    ),
    "PR": MachineType(
        code="PR",
        op="0030",
        op_text="Lager und Wellen einpressen, montieren",
        german="Montagepresse",
        arbpl_prefix="MPR",
        position="Montage",
        pi_word="PRESS",
        af_word="Assembly Press",
        english="assembly press",
        eqart="PRES",
        signals=(
            ("HYD_PRES", "Hydraulikdruck", "bar", "Hydraulic Pressure", False),
            ("RAM_FORCE", "Einpresskraft", "kN", "Ram Force", False),
            ("OIL_TEMP", "Hydrauliköl Temperatur", "°C", "Oil Temperature", True),
            SIGNAL_STATE,
        ),
        models=(("Lenz Pressenbau", "LHP 250"), ("Lenz Pressenbau", "LHP 400")),
        setup_minutes=(20, 5),
        scrap=0.002,
        spare="SP-MPR-HSS",
    ),
    "TB": MachineType(
        code="TB",
        op="0040",
        op_text="Einlaufprüfung und Geräuschtest",
        german="Einlaufprüfstand",
        arbpl_prefix="EPS",
        position="Prüffeld",
        pi_word="TESTBENCH",
        af_word="Run-in Test Bench",
        english="run-in test bench",
        eqart="PRUF",
        signals=(
            ("NOISE", "Geräuschpegel", "dB(A)", "Noise Level", False),
            ("TORQUE", "Antriebsmoment", "Nm", "Input Torque", False),
            ("OIL_TEMP", "Getriebeöl Temperatur", "°C", "Oil Temperature", True),
            SIGNAL_STATE,
        ),
        models=(("Moser Prüftechnik", "MPT-G2"), ("Moser Prüftechnik", "MPT-G3")),
        setup_minutes=(15, 5),
        scrap=0.0,
        spare="SP-EPS-KUP",
    ),
}
ROUTING = ("MC", "GR", "PR", "TB")


@dataclass
class Line:
    """A production line: four machines in routing order, a shift model, its products."""

    index: int
    canonical: str
    number: int
    shift_model: str
    tplnr: str
    pltxt: str
    af_path: str
    machine_indices: list[int] = field(default_factory=list)
    product_indices: list[int] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Machine:
    """One machine: SAP equipment, work centre and functional location, PI element, MES station."""

    index: int
    canonical: str
    type_code: str
    line: int
    pi_number: int
    vendor: str
    model: str
    built: int
    equnr: int
    objid: int
    arbpl: str
    ktext: str
    eqktx: str
    tplnr: str
    pltxt: str
    resource: str
    pi_prefix: str
    af_name: str
    af_path: str
    af_has_equipment: bool
    qms_name: str | None
    refs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def mtype(self) -> MachineType:
        """The machine's type."""
        return MACHINE_TYPES[self.type_code]


@dataclass
class Product:
    """A gear unit: cycle times per operation, test physics and how people write its name."""

    index: int
    canonical: str
    matnr: int
    bismt: str
    family: str
    short: str
    text_de: str
    text_en: str
    cycle_min: dict[str, float]
    oil_litres: float
    torque_nm: float
    noise_nominal: float
    demand_share: float
    crm_forms: tuple[str, ...]
    bom: list[tuple[int, float]] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Material:
    """A purchased item: component (batch or not), machine spare part."""

    index: int
    canonical: str
    key: str
    matnr: int
    mtart: str
    text_de: str
    text_en: str
    unit: str
    supplier: int
    batch: bool
    consignment: bool
    lead_days: int
    price: float
    lot_size: tuple[int, int]
    bismt: str
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Supplier:
    """A vendor and the habit of its own batch numbers."""

    index: int
    canonical: str
    lifnr: int
    name: str
    country: str
    city: str
    qms_name: str
    lot_format: str
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Customer:
    """A customer: OEMs and distributors in Austria, Germany, Italy, Poland, China, the US."""

    index: int
    canonical: str
    kunnr: int
    name: str
    country: str
    city: str
    crm_name: str
    language: str
    weight: float
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class World:
    """Everything static about the gear plant."""

    lines: list[Line]
    machines: list[Machine]
    products: list[Product]
    materials: list[Material]
    suppliers: list[Supplier]
    customers: list[Customer]
    confusable: list[tuple[str, str, str]]

    def material(self, key: str) -> Material:
        """The material with this internal key."""
        for material in self.materials:
            if material.key == key:
                return material
        raise KeyError(key)


def pad(number: int | str, width: int) -> str:
    """SAP's internal format of a numeric key (conversion exit ALPHA): zero padded."""
    return str(number).zfill(width)


def split_name(name: str) -> tuple[str, str]:
    """SAP keeps 35 characters in NAME1; a longer name goes on in NAME2 from a word boundary."""
    if len(name) <= 35:
        return name, ""
    cut = name.rfind(" ", 0, 35)
    cut = cut if cut > 0 else 35
    return name[:cut], name[cut:].strip()


SHIFT_OF_LINE = ("2S", "3S", "CONT")
PRODUCTS_OF_LINE = ((0, 1), (1, 2), (3, 2))
LINE_TEXT = (
    "Stirnradgetriebe",
    "Stirnrad- und Kegelstirnradgetriebe",
    "Schnecken- und Kegelradgetr.",
)


def build_world(lines: int, seed: int) -> World:
    """Build the gear plant with ``lines`` lines of four machines.

    Args:
        lines: Number of production lines (1 to 10).
        seed: Seed of the naming draws.

    Returns:
        The static plant with every object's silo names.
    """
    rng = np.random.default_rng([seed, 2101])
    products = _products()
    suppliers = _suppliers(rng)
    materials = _materials(products)
    customers = _customers(rng)
    line_list: list[Line] = []
    machines: list[Machine] = []
    pi_start = {code: int(rng.integers(1, 5)) for code in ROUTING}
    for li in range(lines):
        number = li + 1
        line = Line(
            index=li,
            canonical=f"LINE-{number:03d}",
            number=number,
            shift_model=SHIFT_OF_LINE[li % 3],
            tplnr=f"{WERKS}-VIL-L{number}",
            pltxt=f"Linie {number} {LINE_TEXT[li % 3]}",
            af_path=f"\\\\{AF_SERVER}\\{AF_DATABASE}\\Villach\\Line {number}",
        )
        line.product_indices = list(PRODUCTS_OF_LINE[li % 3])
        for code in ROUTING:
            mtype = MACHINE_TYPES[code]
            idx = len(machines)
            vendor, model = mtype.models[int(rng.integers(len(mtype.models)))]
            pi_number = pi_start[code] + li
            equnr = 10_000_100 + 23 * idx + int(rng.integers(1, 20))
            objid = 20_000_300 + 11 * idx + int(rng.integers(1, 9))
            eqktx = [
                f"{mtype.german} {vendor} {model}",
                f"{mtype.arbpl_prefix} {model} L{number}",
                f"{mtype.german[:18]} Nr. {pi_number} Linie {number}",
            ][int(rng.integers(3))][:40]
            af_name = f"{mtype.af_word} {pi_number:02d}"
            machine = Machine(
                index=idx,
                canonical=f"EQ-{idx + 1:04d}",
                type_code=code,
                line=number,
                pi_number=pi_number,
                vendor=vendor,
                model=model,
                built=int(rng.integers(2009, 2023)),
                equnr=equnr,
                objid=objid,
                arbpl=f"{mtype.arbpl_prefix}-{number:02d}",
                ktext=f"{mtype.german} Linie {number}"[:40],
                eqktx=eqktx,
                tplnr=f"{line.tplnr}-{mtype.arbpl_prefix}",
                pltxt=f"{mtype.position} L{number}",
                resource=f"L{number}-ST{int(mtype.op)}",
                pi_prefix=f"PLANT2:LINE{number}.{mtype.pi_word}{pi_number:02d}",
                af_name=af_name,
                af_path=f"{line.af_path}\\{af_name}",
                af_has_equipment=bool(rng.random() < 0.5),
                qms_name=[f"Prüfstand {number}", f"EPS L{number}", f"PS{number}"][
                    int(rng.integers(3))
                ]
                if code == "TB"
                else None,
            )
            machine.refs = {
                "erp": [
                    pad(equnr, 18),
                    machine.eqktx,
                    machine.arbpl,
                    machine.ktext,
                    str(objid),
                    machine.tplnr,
                ],
                "mes": [machine.resource],
                "historian": [machine.pi_prefix, machine.af_path, af_name],
            }
            if machine.af_has_equipment:
                machine.refs["historian"].append(str(equnr))
            if machine.qms_name:
                machine.refs["qms"] = [machine.qms_name]
            machines.append(machine)
            line.machine_indices.append(idx)
        line.refs = {
            "erp": [line.tplnr, line.pltxt],
            "historian": [
                f"PLANT2:LINE{number}",
                line.af_path,
                f"Line {number}",
            ],
            "mes": [f"L{number}"],
        }
        line_list.append(line)
    confusable = []
    by_model: dict[tuple[str, str, str], list[Machine]] = {}
    for machine in machines:
        by_model.setdefault((machine.type_code, machine.vendor, machine.model), []).append(machine)
    for group in by_model.values():
        for a, b in zip(group, group[1:], strict=False):
            confusable.append((a.canonical, b.canonical, "same type, vendor and model"))
    return World(
        lines=line_list,
        machines=machines,
        products=products,
        materials=materials,
        suppliers=suppliers,
        customers=customers,
        confusable=confusable,
    )


def _products() -> list[Product]:
    specs = [
        # matnr, bismt, family, short, de, en, cycle MC/GR/PR/TB, oil l, torque, noise, share
        (
            41_000_080,
            "HG080-125",
            "HG",
            "HG 80",
            "Stirnradgetriebe HG 80 i=12,5",
            "Helical gear unit HG 80 i=12.5",
            (12.5, 11.5, 9.5, 15.0),
            1.4,
            420.0,
            66.0,
            0.30,
            (
                "HG80",
                "HG 80",
                "hg-80",
                "Helical gearbox HG80",
                "Stirnradgetriebe HG80",
                "斜齿轮减速机HG80",
            ),
        ),
        (
            41_000_100,
            "HG100-200",
            "HG",
            "HG 100",
            "Stirnradgetriebe HG 100 i=20",
            "Helical gear unit HG 100 i=20",
            (15.0, 13.5, 11.0, 17.5),
            2.1,
            760.0,
            67.5,
            0.30,
            ("HG100", "HG 100 i=20", "hg100", "helical gear unit HG-100", "斜齿轮减速机 HG100"),
        ),
        (
            41_000_125,
            "KG125-280",
            "KG",
            "KG 125",
            "Kegelstirnradgetriebe KG 125 i=28",
            "Bevel-helical gear unit KG 125 i=28",
            (18.5, 17.0, 14.0, 21.0),
            3.4,
            1250.0,
            69.0,
            0.22,
            (
                "KG125",
                "KG 125",
                "Kegelradgetriebe KG125",
                "bevel gearbox KG-125",
                "锥齿轮减速机KG125",
            ),
        ),
        (
            41_000_063,
            "SG063-400",
            "SG",
            "SG 63",
            "Schneckengetriebe SG 63 i=40",
            "Worm gear unit SG 63 i=40",
            (11.0, 10.0, 8.0, 13.0),
            1.1,
            260.0,
            64.5,
            0.18,
            ("SG63", "SG 63", "worm gear SG-63", "Schneckengetriebe SG63", "蜗轮蜗杆减速机SG63"),
        ),
    ]
    products = []
    for i, (matnr, bismt, family, short, de, en, ct, oil, torque, noise, share, forms) in enumerate(
        specs
    ):
        products.append(
            Product(
                index=i,
                canonical=f"PRD-{i + 1:02d}",
                matnr=matnr,
                bismt=bismt,
                family=family,
                short=short,
                text_de=de,
                text_en=en,
                cycle_min=dict(zip(ROUTING, ct, strict=True)),
                oil_litres=oil,
                torque_nm=torque,
                noise_nominal=noise,
                demand_share=share,
                crm_forms=forms,
            )
        )
    return products


def _suppliers(rng: np.random.Generator) -> list[Supplier]:
    specs = [
        ("Gießerei Kärnten GmbH", "AT", "Ferlach", "Gießerei Kärnten", "GK-{yy}{ww}-{n:03d}"),
        ("Zahnradwerk Pichler GmbH", "AT", "Steyr", "Pichler", "ZP{n:06d}"),
        ("Stahlwelle Brno s.r.o.", "CZ", "Brno", "Stahlwelle Brno", "SB/{yy}/{n:04d}"),
        ("Wuxi Huaxin Bearing Co., Ltd.", "CN", "Wuxi", "Huaxin", "HX{yy}{mm}{n:04d}"),
        ("Lagertechnik Steiner GmbH", "AT", "Graz", "Steiner Lager", "LS-{n:05d}"),
        ("Dichtungswerk Süd GmbH & Co. KG", "DE", "Weinheim", "DWS Dichtungen", "DWS {n:06d}"),
        ("Schmierstoffe Lindner GmbH", "AT", "Wels", "Lindner", ""),
        ("Würfel Verbindungstechnik GmbH", "DE", "Künzelsau", "Würfel", ""),
        ("Maschinenservice Gruber KG", "AT", "Villach", "Gruber", ""),
    ]
    suppliers = []
    for i, (name, country, city, qms, fmt) in enumerate(specs):
        lifnr = 200_000 + 37 * i + int(rng.integers(1, 30))
        supplier = Supplier(
            index=i,
            canonical=f"SUP-{i + 1:02d}",
            lifnr=lifnr,
            name=name,
            country=country,
            city=city,
            qms_name=qms,
            lot_format=fmt,
        )
        supplier.refs = {"erp": [pad(lifnr, 10), split_name(name)[0]]}
        suppliers.append(supplier)
    return suppliers


def _materials(products: list[Product]) -> list[Material]:
    # key, mtart, de, en, unit, supplier, batch, consignment, lead days, price, lot size
    specs: list[tuple[str, str, str, str, str, int, bool, bool, int, float, tuple[int, int]]] = [
        (
            "HSG-HG",
            "ROH",
            "Getriebegehäuse HG GJL-250",
            "Housing HG grey iron",
            "ST",
            0,
            True,
            False,
            21,
            48.0,
            (120, 200),
        ),
        (
            "HSG-KG",
            "ROH",
            "Getriebegehäuse KG GJS-400",
            "Housing KG ductile iron",
            "ST",
            0,
            True,
            False,
            21,
            71.0,
            (80, 140),
        ),
        (
            "HSG-SG",
            "ROH",
            "Schneckengehäuse SG GJL-250",
            "Housing SG grey iron",
            "ST",
            0,
            True,
            False,
            21,
            39.0,
            (100, 160),
        ),
        (
            "ZRS-HG080",
            "ROH",
            "Zahnradsatz HG 80 i=12,5",
            "Gear set HG 80",
            "ST",
            1,
            True,
            False,
            28,
            86.0,
            (100, 180),
        ),
        (
            "ZRS-HG100",
            "ROH",
            "Zahnradsatz HG 100 i=20",
            "Gear set HG 100",
            "ST",
            1,
            True,
            False,
            28,
            112.0,
            (100, 180),
        ),
        (
            "KRS-KG125",
            "ROH",
            "Kegelradsatz KG 125 i=28",
            "Bevel gear set KG 125",
            "ST",
            1,
            True,
            False,
            35,
            164.0,
            (80, 140),
        ),
        (
            "SRS-SG063",
            "ROH",
            "Schneckenradsatz SG 63 i=40",
            "Worm gear set SG 63",
            "ST",
            1,
            True,
            False,
            28,
            58.0,
            (100, 160),
        ),
        (
            "WEL-40",
            "ROH",
            "Abtriebswelle D40 42CrMo4",
            "Output shaft D40",
            "ST",
            2,
            True,
            False,
            14,
            17.5,
            (240, 400),
        ),
        (
            "WEL-50",
            "ROH",
            "Abtriebswelle D50 42CrMo4",
            "Output shaft D50",
            "ST",
            2,
            True,
            False,
            14,
            23.0,
            (240, 400),
        ),
        (
            "KRL-32208",
            "ROH",
            "Kegelrollenlager 32208 J2/Q",
            "Taper roller bearing 32208",
            "ST",
            3,
            True,
            False,
            42,
            9.8,
            (500, 800),
        ),
        (
            "KRL-30206",
            "ROH",
            "Kegelrollenlager 30206 J2/Q",
            "Taper roller bearing 30206",
            "ST",
            4,
            True,
            True,
            5,
            6.1,
            (400, 700),
        ),
        (
            "RWDR-45",
            "ROH",
            "Radialwellendichtring 45x62x8 FKM",
            "Shaft seal 45x62x8 FKM",
            "ST",
            5,
            True,
            False,
            14,
            2.4,
            (800, 1400),
        ),
        (
            "OEL-PG220",
            "NLAG",
            "Getriebeöl CLP PG 220 synth.",
            "Gear oil CLP PG 220",
            "L",
            6,
            False,
            False,
            7,
            9.2,
            (0, 0),
        ),
        (
            "SCHR-M10",
            "NLAG",
            "Schraubensatz M10 Gehäusedeckel",
            "Screw kit M10 cover",
            "ST",
            7,
            False,
            False,
            3,
            1.1,
            (0, 0),
        ),
        (
            "SP-BAZ-SLS",
            "ERSA",
            "Spindellagersatz BAZ",
            "Spindle bearing set machining centre",
            "ST",
            8,
            False,
            False,
            5,
            2650.0,
            (0, 0),
        ),
        (
            "SP-VSM-SPK",
            "ERSA",
            "Spindelkartusche Schleifspindel VSM",
            "Grinding spindle cartridge",
            "ST",
            8,
            False,
            False,
            4,
            14800.0,
            (0, 0),
        ),
        (
            "SP-MPR-HSS",
            "ERSA",
            "Hydraulikschlauchsatz Montagepresse",
            "Hydraulic hose kit press",
            "ST",
            8,
            False,
            False,
            3,
            420.0,
            (0, 0),
        ),
        (
            "SP-EPS-KUP",
            "ERSA",
            "Kupplung Prüfstand MPT",
            "Test bench coupling",
            "ST",
            8,
            False,
            False,
            6,
            890.0,
            (0, 0),
        ),
    ]
    materials = []
    for i, (key, mtart, de, en, unit, sup, batch, consign, lead, price, lot) in enumerate(specs):
        matnr = (40_010_000 if mtart != "ERSA" else 49_000_000) + 113 * i
        material = Material(
            index=i,
            canonical=f"MAT-{i + 1:03d}",
            key=key,
            matnr=matnr,
            mtart=mtart,
            text_de=de,
            text_en=en,
            unit=unit,
            supplier=sup,
            batch=batch,
            consignment=consign,
            lead_days=lead,
            price=price,
            lot_size=lot,
            bismt=key,
        )
        material.refs = {"erp": [pad(matnr, 18), de]}
        materials.append(material)
    by_key = {m.key: m.index for m in materials}
    housing = {"HG": "HSG-HG", "KG": "HSG-KG", "SG": "HSG-SG"}
    gears = ("ZRS-HG080", "ZRS-HG100", "KRS-KG125", "SRS-SG063")
    shaft = ("WEL-40", "WEL-50", "WEL-50", "WEL-40")
    for product in products:
        product.bom = [
            (by_key[housing[product.family]], 1.0),
            (by_key[gears[product.index]], 1.0),
            (by_key[shaft[product.index]], 1.0),
            (by_key["KRL-32208"], 2.0),
            (by_key["KRL-30206"], 2.0),
            (by_key["RWDR-45"], 2.0),
            (by_key["OEL-PG220"], product.oil_litres),
            (by_key["SCHR-M10"], 1.0),
        ]
    return materials


_CUSTOMERS = (
    # name, country, city, how the service desk knows it, weight
    ("Holzbau Maschinen Krainer GmbH", "AT", "Klagenfurt", "Krainer Holzbau", 1.0),
    ("Fördertechnik Obermoser GmbH", "AT", "Salzburg", "Obermoser Foerdertechnik", 1.6),
    ("Seilbahntechnik Alpin AG", "AT", "Innsbruck", "Seilbahntechnik Alpin", 0.7),
    ("Kranbau Weißenfels GmbH", "DE", "Weißenfels", "Kranbau Weissenfels", 1.3),
    ("Mühlenbau Heßler KG", "DE", "Detmold", "Hessler Mühlenbau", 0.6),
    ("Antriebstechnik Brandner GmbH & Co. KG", "DE", "Augsburg", "Brandner Antriebstechnik", 2.2),
    ("Recyclinganlagen Vogt GmbH", "DE", "Bremen", "Vogt Recycling", 0.8),
    ("Trasportatori Bellini S.p.A.", "IT", "Brescia", "Bellini Trasportatori", 1.1),
    ("Officine Meccaniche Rinaldi S.r.l.", "IT", "Bergamo", "OMR Rinaldi", 0.5),
    ("Przenośniki Kowalczyk Sp. z o.o.", "PL", "Katowice", "Kowalczyk Conveyors", 0.9),
    ("Shanghai Huayu Conveyor Equipment Co., Ltd.", "CN", "Shanghai", "Huayu Conveyor", 1.8),
    ("Jiangsu Tianrun Mining Machinery Co., Ltd.", "CN", "Xuzhou", "Tianrun Mining", 1.2),
    ("Guangzhou Lianfa Packaging Machinery Co., Ltd.", "CN", "Guangzhou", "Lianfa Packaging", 0.7),
    ("Great Lakes Conveyor Inc.", "US", "Toledo", "Great Lakes Conveyor", 0.9),
    ("Nordic Bulk Handling AB", "SE", "Göteborg", "Nordic Bulk", 0.6),
    ("Pumpen- und Rührwerksbau Egger GmbH", "AT", "Linz", "Egger Rührwerke", 0.8),
)
_LANGUAGE = {"AT": "de", "DE": "de", "CN": "zh"}


def _customers(rng: np.random.Generator) -> list[Customer]:
    customers = []
    for i, (name, country, city, crm, weight) in enumerate(_CUSTOMERS):
        kunnr = 100_000 + 11 * i + int(rng.integers(1, 10))
        sap_name = name
        if country in ("PL",):
            # the SAP client runs in cp1252: Polish letters outside it are typed without accents
            sap_name = name.replace("ś", "s").replace("ń", "n").replace("ł", "l")
        customer = Customer(
            index=i,
            canonical=f"CUS-{i + 1:04d}",
            kunnr=kunnr,
            name=sap_name,
            country=country,
            city=city,
            crm_name=crm,
            language=_LANGUAGE.get(country, "en"),
            weight=weight,
        )
        customer.refs = {"erp": [pad(kunnr, 10), split_name(sap_name)[0]], "crm": [crm]}
        customers.append(customer)
    return customers
