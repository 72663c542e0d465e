"""The static plant: lines, machines, products, materials, suppliers, customers and their names.

Every object gets one canonical id (used only in ``truth.json``) and the identifiers each silo uses
for it. Silo names are produced by *habits* (zero padding, separators, case, prefixes, descriptive
names, transliteration), applied per silo and partly chosen at random per object, the way names
drift apart in a real plant where every system was configured by a different team.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

#: A number or an array of numbers (a document number, or a column of them).
Number = TypeVar("Number", int, np.ndarray)

SILOS = ("erp", "mes", "historian", "qms", "wms", "crm", "engineering")
#: The towns of a fleet's sites (Hanseatic towns, as the company's name suggests) and the code
#: each site's systems write into their identifiers; sites past the list get generated codes.
SITE_TOWNS = (
    ("Hamburg", "HAM"),
    ("Bremen", "BRE"),
    ("Lübeck", "LUE"),
    ("Rostock", "ROS"),
    ("Wismar", "WIS"),
    ("Stralsund", "STR"),
    ("Lüneburg", "LUN"),
    ("Stade", "STA"),
    ("Greifswald", "GRE"),
    ("Kiel", "KIE"),
)
#: The most sites a fleet may have (folders ``site-01`` to ``site-99``).
MAX_SITES = 99


@dataclass(frozen=True)
class Site:
    """Which plant of a fleet a world is, and the marks its systems put in their identifiers.

    A company with several plants keeps them apart in its numbers: each ERP plant has its own
    number ranges (a leading digit per plant), and the MES, historian, WMS and CRM of a site
    write the site's code in front of their codes (``BRE-LTH-01``, ``BRE_L1_LTH01.VIB_RMS``).
    Master data stays the company's: materials, products, suppliers and customers have the same
    numbers at every site. Site number 0 is a plant on its own, which writes no marks at all.

    Attributes:
        number: 1 to :data:`MAX_SITES` for a site of a fleet; 0 for a plant on its own.
        count: How many sites the fleet has (1 for a plant on its own).
        company_seed: Seed of the company's master data (products, materials, suppliers,
            customers), the same at every site; ``None``: the plant's own seed.
    """

    number: int = 0
    count: int = 1
    company_seed: int | None = None

    @property
    def marked(self) -> bool:
        """Whether the site writes marks (it is one of a fleet)."""
        return self.number > 0

    @property
    def town(self) -> str:
        """Where the site is ("" for a plant on its own)."""
        if not self.marked:
            return ""
        if self.number <= len(SITE_TOWNS):
            return SITE_TOWNS[self.number - 1][0]
        return f"Werk {self.number}"

    @property
    def code(self) -> str:
        """The site's letters in its identifiers ("" for a plant on its own)."""
        if not self.marked:
            return ""
        if self.number <= len(SITE_TOWNS):
            return SITE_TOWNS[self.number - 1][1]
        # Letters only: a digit would read as one more number of every identifier to the matcher.
        first, second = divmod(self.number - len(SITE_TOWNS) - 1, 26)
        return "S" + chr(ord("A") + first) + chr(ord("A") + second)

    @property
    def plant(self) -> str:
        """The ERP plant code (SAP's WERKS): ``PL01`` for a plant on its own and site 1."""
        return f"PL{max(self.number, 1):02d}"

    @property
    def folder(self) -> str:
        """The folder of the site's exports in a fleet (``site-02``)."""
        return f"site-{self.number:02d}"

    def mark(self, identifier: str, separator: str = "-") -> str:
        """An identifier with the site's code in front (``BRE-LTH-01``); unchanged when alone."""
        return f"{self.code}{separator}{identifier}" if self.marked else identifier

    def path(self, identifier: str) -> str:
        """A path identifier under the site's folder (``bre/line1/lathe-1``)."""
        return f"{self.code.lower()}/{identifier}" if self.marked else identifier

    def number_range(self, number: Number, size: int) -> Number:
        """A number in the site's own range: ranges of ``size`` numbers, one per site.

        ``size`` is above every number a site draws, so two sites never share a number.
        """
        return number + self.number * size

    def lot_sequence(self, sequence: int) -> int:
        """A supplier's lot sequence shared by every site it delivers to: lots alternate."""
        return (sequence - 1) * self.count + self.number if self.marked else sequence


@dataclass(frozen=True)
class MachineType:
    """A kind of machine: what it does in the routing and how it wears."""

    code: str
    word: str
    long_word: str
    german: str
    op_seq: int
    op_name: str
    #: the two process tags of this type after the common ones (name, description, kind)
    process_tags: tuple[tuple[str, str, str], tuple[str, str, str]]
    spare_part: str
    failure_mode: str
    failure_sensors: tuple[str, ...]
    ttf_scale_days: float
    pm_interval_days: float
    repair_hours: tuple[float, float]


MACHINE_TYPES: dict[str, MachineType] = {
    "LTH": MachineType(
        code="LTH",
        word="Lathe",
        long_word="CNC lathe",
        german="Drehmaschine",
        op_seq=10,
        op_name="Turn shaft and bore housing",
        process_tags=(
            ("SPINDLE_RPM", "spindle speed", "speed"),
            ("SPINDLE_LOAD", "spindle load", "load"),
        ),
        spare_part="SP-LTH-SPB",
        failure_mode="spindle bearing failure",
        failure_sensors=("VIB_RMS", "BRG_TEMP", "MOTOR_CURR", "SPINDLE_LOAD"),
        ttf_scale_days=55.0,
        pm_interval_days=91.0,
        repair_hours=(5.0, 12.0),
    ),
    "WND": MachineType(
        code="WND",
        word="Winder",
        long_word="Stator winding machine",
        german="Wickelmaschine",
        op_seq=20,
        op_name="Wind stator",
        process_tags=(
            ("SPINDLE_RPM", "flyer speed", "speed"),
            ("WIRE_TENS", "wire tension", "tension"),
        ),
        spare_part="SP-WND-FLY",
        failure_mode="flyer bearing wear",
        failure_sensors=("VIB_RMS", "BRG_TEMP", "MOTOR_CURR"),
        ttf_scale_days=80.0,
        pm_interval_days=91.0,
        repair_hours=(4.0, 10.0),
    ),
    "PRS": MachineType(
        code="PRS",
        word="Press",
        long_word="Hydraulic press",
        german="Presse",
        op_seq=30,
        op_name="Press-fit bearings and rotor",
        process_tags=(
            ("HYD_PRESS", "hydraulic pressure", "pressure"),
            ("RAM_FORCE", "ram force", "force"),
        ),
        spare_part="SP-PRS-HPU",
        failure_mode="hydraulic pump wear",
        failure_sensors=("VIB_RMS", "BRG_TEMP", "MOTOR_CURR", "HYD_PRESS"),
        ttf_scale_days=65.0,
        pm_interval_days=91.0,
        repair_hours=(6.0, 16.0),
    ),
    "EOL": MachineType(
        code="EOL",
        word="Test bench",
        long_word="End-of-line tester",
        german="Prüfstand",
        op_seq=40,
        op_name="End-of-line test",
        process_tags=(
            ("TEST_FLOW", "test flow", "flow"),
            ("TEST_PRESS", "test pressure", "pressure"),
        ),
        spare_part="SP-EOL-CPL",
        failure_mode="test pump coupling wear",
        failure_sensors=("VIB_RMS", "BRG_TEMP", "MOTOR_CURR"),
        ttf_scale_days=240.0,
        pm_interval_days=182.0,
        repair_hours=(3.0, 8.0),
    ),
}
ROUTING_ORDER = ("LTH", "WND", "PRS", "EOL")
#: which types a short line keeps first (a line always ends with a test)
TYPE_PRIORITY = ("EOL", "PRS", "WND", "LTH")
COMMON_TAGS = (
    ("RUN", "running", "run"),
    ("VIB_RMS", "vibration RMS", "vibration"),
    ("BRG_TEMP", "bearing temperature", "temperature"),
    ("MOTOR_CURR", "motor current", "current"),
)
VENDORS = (
    ("Hauser", "degC", "bar"),
    ("Kessler", "degC", "bar"),
    ("Brightline", "degF", "psi"),
)
MODELS = {
    "LTH": ("CTX 310", "TL-2"),
    "WND": ("FW-200", "NW 3000"),
    "PRS": ("HP 250", "SP-25"),
    "EOL": ("ET-40", "PTB 4"),
}


@dataclass
class Line:
    """A production line: machines in routing order and the products it makes."""

    index: int
    canonical: str
    number: int
    shifts: int
    machine_indices: list[int] = field(default_factory=list)
    product_indices: list[int] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Machine:
    """One machine (equipment) of the plant."""

    index: int
    canonical: str
    type_code: str
    number: int
    line: int
    vendor: str
    model: str
    temp_unit: str
    pressure_unit: str
    refs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def mtype(self) -> MachineType:
        """The machine's type."""
        return MACHINE_TYPES[self.type_code]

    @property
    def tag_prefix(self) -> str:
        """The PLC prefix of the machine's historian tags."""
        return self.refs["historian"][0]


@dataclass
class Product:
    """A finished pump: cycle times, operating regime, quality physics and recipe."""

    index: int
    canonical: str
    code: str
    family: str
    name: str
    matnr: int
    ideal_ct_min: dict[str, float]
    regime: dict[str, float]
    bom: list[tuple[int, float]]
    efficiency_nominal: float
    noise_nominal: float
    tension_opt: float
    tension_scale: float
    force_opt: float
    force_scale: float
    tension_recipe: float
    force_recipe: float
    demand_share: float
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Material:
    """A purchased item: production component, machine spare part or service kit for sale."""

    index: int
    canonical: str
    kind: str
    part_number: str
    description: str
    unit: str
    matnr: int
    supplier: int
    lead_time_days: int
    price_eur: float
    lot_days: int
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Supplier:
    """A supplier and the habit of its own lot numbers."""

    index: int
    canonical: str
    name: str
    country: str
    vendor_no: int
    lot_prefix: str
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Customer:
    """A customer (distributor, installer or OEM)."""

    index: int
    canonical: str
    name: str
    country: str
    weight: float
    refs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class World:
    """Everything static about the plant."""

    lines: list[Line]
    machines: list[Machine]
    products: list[Product]
    materials: list[Material]
    suppliers: list[Supplier]
    customers: list[Customer]
    confusable: list[tuple[str, str, str]]
    site: Site = field(default_factory=Site)

    def material_by_part(self, part_number: str) -> Material:
        """The material with this engineering part number."""
        for material in self.materials:
            if material.part_number == part_number:
                return material
        raise KeyError(part_number)


def sales_order_number(world: World, index: Number) -> Number:
    """The ERP number of the ``index``-th sales order (``1200017``; ``101200017`` at site 1)."""
    return world.site.number_range(1_200_000 + index, 10**8)


def maintenance_order_number(world: World, order_id: int) -> str:
    """The ERP number of a corrective maintenance order (``5000003``)."""
    return str(world.site.number_range(5_000_000 + order_id, 10**8))


# --- naming habits ---------------------------------------------------------------------------


def _pad_matnr(number: int) -> str:
    """ERP material numbers are numeric and zero padded to 18 digits (an SAP habit)."""
    return f"{number:018d}"


def _transliterate_upper(text: str) -> str:
    """Old ERP systems store names upper case in ASCII: umlauts become two letters."""
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS"}
    return "".join(table.get(ch, ch) for ch in text).upper()


def _machine_refs(
    machine: Machine, rng: np.random.Generator, equipment_no: int, site: Site
) -> None:
    """Apply each silo's habits for naming a machine (and the site's marks, in a fleet)."""
    mtype = machine.mtype
    num, line = machine.number, machine.line
    erp_description = [
        f"{mtype.word} {num}",
        f"{mtype.long_word} {num:02d}, line {line}",
        f"{machine.vendor} {machine.model} #{num} (L{line})",
    ][int(rng.integers(3))]
    wms_name = [f"{mtype.code}{num}", f"{mtype.word.upper().replace(' ', '')}{num:02d}"][
        int(rng.integers(2))
    ]
    qms_name = [f"{mtype.german} {num}", f"{mtype.german} L{line}/{num}"][int(rng.integers(2))]
    machine.refs = {
        "historian": [site.mark(f"L{line}_{mtype.code}{num:02d}", "_")],
        "mes": [site.mark(f"{mtype.code}-{num:02d}"), f"{mtype.long_word} {num}"],
        "erp": [str(equipment_no), erp_description],
        "wms": [wms_name],
        "qms": [qms_name],
        "engineering": [site.path(f"line{line}/{mtype.word.lower().replace(' ', '-')}-{num}")],
    }


def _crm_product_name(name: str, code: str, rng: np.random.Generator) -> str:
    """Service staff type product names as they read them from the nameplate or the brochure."""
    choice = int(rng.integers(3))
    if choice == 0:
        return name.replace("-", "/")
    if choice == 1:
        return code.replace("-", " ").replace("AC", "AC ").replace("  ", " ")
    return name.lower()


def build_world(machines: int, seed: int, site: Site | None = None) -> World:
    """Build the static plant for ``machines`` machines.

    Args:
        machines: Number of machines; lines of up to four machines (lathe, winder, press, tester).
        seed: Seed of the naming and parameter draws.
        site: Which site of a fleet the plant is (default: a plant on its own, no site marks).

    Returns:
        The plant's static description with every object's silo identifiers.
    """
    site = site or Site()
    company = site.company_seed if site.company_seed is not None else seed
    rng = np.random.default_rng([company, 101])
    n_lines = -(-machines // 4)
    sizes = [machines // n_lines + (1 if i < machines % n_lines else 0) for i in range(n_lines)]

    products = _build_products(rng)
    suppliers = _build_suppliers(rng)
    materials = _build_materials(rng, products)
    customers = _build_customers(rng, max(8, min(200, 8 + machines // 2)))
    if company != seed:
        # The company's master data is the same at every site; the machines are the site's.
        rng = np.random.default_rng([seed, 101])

    lines: list[Line] = []
    machine_list: list[Machine] = []
    counters = dict.fromkeys(MACHINE_TYPES, 0)
    for li, size in enumerate(sizes):
        number = li + 1
        line = Line(
            index=li,
            canonical=f"LINE-{number:03d}",
            number=number,
            shifts=3 if li % 3 == 2 else 2,
        )
        types = sorted(TYPE_PRIORITY[:size], key=ROUTING_ORDER.index)
        for code in types:
            counters[code] += 1
            vendor, temp_unit, pressure_unit = VENDORS[int(rng.integers(len(VENDORS)))]
            idx = len(machine_list)
            machine = Machine(
                index=idx,
                canonical=f"EQ-{idx + 1:04d}",
                type_code=code,
                number=counters[code],
                line=number,
                vendor=vendor,
                model=MODELS[code][int(rng.integers(2))],
                temp_unit=temp_unit,
                pressure_unit=pressure_unit,
            )
            equipment_no = 10_004_000 + 37 * idx + int(rng.integers(1, 30))
            _machine_refs(machine, rng, site.number_range(equipment_no, 10**8), site)
            machine_list.append(machine)
            line.machine_indices.append(idx)
        count = len(products) if n_lines == 1 else 2 + li % 2
        line.product_indices = sorted({(li + k) % len(products) for k in range(count)})
        line.refs = {
            "mes": [site.mark(f"LINE-{number}")],
            "historian": [site.mark(f"L{number}", "_")],
            "erp": [f"WC-L{number:02d}", f"Assembly line {number}"],
            "qms": [f"Linie {number}"],
            "engineering": [site.path(f"line{number}")],
        }
        lines.append(line)

    confusable = []
    by_model: dict[tuple[str, str, str], list[Machine]] = {}
    for machine in machine_list:
        by_model.setdefault((machine.type_code, machine.vendor, machine.model), []).append(machine)
    for group in by_model.values():
        for a, b in zip(group, group[1:], strict=False):
            if a.line != b.line:
                confusable.append((a.canonical, b.canonical, "same type, vendor and model"))
    return World(
        lines=lines,
        machines=machine_list,
        products=products,
        materials=materials,
        suppliers=suppliers,
        customers=customers,
        confusable=confusable,
        site=site,
    )


def _build_products(rng: np.random.Generator) -> list[Product]:
    specs = [
        # code, family, name, lathe, winder, press, test ct (min), share, eff, noise, rpm, flow
        ("AC25-40", "AquaCirc", "AquaCirc 25-40 circulator pump", 2.1, 2.4, 1.9, 2.0, 0.34),
        ("AC32-60", "AquaCirc", "AquaCirc 32-60 circulator pump", 2.4, 2.7, 2.2, 2.3, 0.26),
        ("HB4-70", "HydroBoost", "HydroBoost 4-70 booster pump", 2.7, 3.0, 2.5, 2.6, 0.24),
        ("SD6-110", "SubDrive", "SubDrive 6-110 submersible pump", 3.0, 3.3, 2.8, 2.9, 0.16),
    ]
    products = []
    for i, (code, family, name, lth, wnd, prs, eol, share) in enumerate(specs):
        tension_opt = float(np.round(rng.uniform(11.0, 15.0), 2))
        force_opt = float(np.round(rng.uniform(18.0, 26.0) + 3.0 * i, 2))
        tension_scale = float(np.round(0.12 * tension_opt, 2))
        force_scale = float(np.round(0.08 * force_opt, 2))
        product = Product(
            index=i,
            canonical=f"PRD-{i + 1:02d}",
            code=code,
            family=family,
            name=name,
            matnr=10_001_001 + 1000 * i,
            ideal_ct_min={"LTH": lth, "WND": wnd, "PRS": prs, "EOL": eol},
            regime={
                "rpm": 1800.0 + 350.0 * i,
                "load": 38.0 + 9.0 * i,
                "vib": 1.4 + 0.35 * i,
                "current": 9.0 + 3.5 * i,
                "heat": 14.0 + 4.0 * i,
                "flow": 40.0 + 28.0 * i,
                "test_bar": 3.0 + 1.6 * i,
                "hyd_bar": 110.0 + 15.0 * i,
                "winder_rpm": 900.0 + 120.0 * i,
            },
            bom=[],
            efficiency_nominal=float(np.round(58.0 + 3.0 * i, 1)),
            noise_nominal=float(np.round(38.0 + 2.5 * i, 1)),
            tension_opt=tension_opt,
            tension_scale=tension_scale,
            force_opt=force_opt,
            force_scale=force_scale,
            tension_recipe=float(np.round(tension_opt + 1.1 * tension_scale, 2)),
            force_recipe=float(np.round(force_opt - 0.8 * force_scale, 2)),
            demand_share=share,
        )
        matnr = product.matnr
        product.refs = {
            "erp": [_pad_matnr(matnr), name],
            "mes": [code],
            "engineering": [f"PU-{code.replace('-', '')}", name],
            "wms": [str(matnr)],
            "qms": [f"{matnr} {code}"],
            "crm": [
                _crm_product_name(
                    name.split(" circulator")[0].split(" booster")[0].split(" submersible")[0],
                    code,
                    rng,
                )
            ],
        }
        products.append(product)
    return products


def _build_suppliers(rng: np.random.Generator) -> list[Supplier]:
    specs = [
        ("Rheinguss GmbH", "DE", "RG"),
        ("NordStahl AG", "DE", "NS"),
        ("Kugellager Hansa GmbH", "DE", "KH"),
        ("Precision Bearings s.r.o.", "CZ", "PB"),
        ("ElektroDraht GmbH", "DE", "ED"),
        ("Blechtechnik Süd GmbH", "DE", "BS"),
        ("PolyForm Plastics B.V.", "NL", "PF"),
        ("SealTec Dichtungen GmbH", "DE", "ST"),
        ("MaschinenService Weber KG", "DE", "MW"),
    ]
    suppliers = []
    for i, (name, country, prefix) in enumerate(specs):
        vendor_no = 70_000 + 13 * i + int(rng.integers(1, 12))
        supplier = Supplier(
            index=i,
            canonical=f"SUP-{i + 1:02d}",
            name=name,
            country=country,
            vendor_no=vendor_no,
            lot_prefix=prefix,
        )
        supplier.refs = {
            "erp": [f"{vendor_no:010d}", _transliterate_upper(name)],
            "qms": [
                name.split(" ")[0] + (" " + name.split(" ")[1] if len(name.split()) > 2 else "")
            ],
            "wms": [f"V{vendor_no}"],
        }
        suppliers.append(supplier)
    return suppliers


def _build_materials(rng: np.random.Generator, products: list[Product]) -> list[Material]:
    # part number, description, unit, supplier, lead time, price, kind, days of use per lot
    specs: list[tuple[str, str, str, int, int, float, str, int]] = [
        ("HSG-AC", "Pump housing casting AquaCirc, grey iron", "ST", 0, 21, 14.5, "component", 14),
        (
            "HSG-HB",
            "Pump housing casting HydroBoost, grey iron",
            "ST",
            0,
            21,
            22.0,
            "component",
            14,
        ),
        ("HSG-SD", "Pump housing SubDrive, stainless", "ST", 0, 28, 41.0, "component", 21),
        ("SFT-BAR20", "Shaft blank 20 mm, X20Cr13 bar", "ST", 1, 14, 3.1, "component", 10),
        ("BRG-6203", "Deep groove ball bearing 6203-2RS", "ST", 2, 14, 1.8, "component", 10),
        ("BRG-6204", "Deep groove ball bearing 6204-2RS", "ST", 3, 21, 2.2, "component", 10),
        ("WIR-CU063", "Magnet wire Cu 0.63 mm grade 2", "KG", 4, 10, 11.2, "component", 7),
        ("LAM-STK80", "Stator lamination stack 80 mm", "ST", 5, 21, 6.4, "component", 14),
        ("IMP-PA66", "Impeller PA66-GF30", "ST", 6, 14, 2.7, "component", 14),
        ("SEAL-MS16", "Mechanical seal 16 mm SiC/carbon", "ST", 7, 14, 4.9, "component", 14),
        ("SP-LTH-SPB", "Spindle bearing set for CNC lathe", "ST", 8, 2, 1850.0, "spare", 0),
        ("SP-WND-FLY", "Flyer bearing unit for winding machine", "ST", 8, 4, 960.0, "spare", 0),
        ("SP-PRS-HPU", "Hydraulic pump unit for press", "ST", 8, 3, 2400.0, "spare", 0),
        ("SP-EOL-CPL", "Test pump coupling kit", "ST", 8, 4, 310.0, "spare", 0),
        ("SK-SEAL16", "Service kit shaft seal 16 mm", "ST", 7, 14, 19.0, "service_kit", 0),
        ("SK-IMP-AC", "Service kit impeller AquaCirc", "ST", 6, 14, 24.0, "service_kit", 0),
    ]
    materials = []
    for i, (part, desc, unit, sup, lead, price, kind, lot_days) in enumerate(specs):
        matnr = 20_000_101 + 17 * i + (50_000_000 if kind != "component" else 0)
        material = Material(
            index=i,
            canonical=f"MAT-{i + 1:03d}",
            kind=kind,
            part_number=part,
            description=desc,
            unit=unit,
            matnr=matnr,
            supplier=sup,
            lead_time_days=lead,
            price_eur=price,
            lot_days=lot_days,
        )
        qms_name = part if rng.random() < 0.5 else part.replace("-", "")
        material.refs = {
            "erp": [_pad_matnr(matnr), desc.upper()[:40]],
            "mes": [part],
            "engineering": [part, desc],
            "wms": [str(matnr)],
            "qms": [qms_name],
        }
        materials.append(material)
    by_part = {m.part_number: m.index for m in materials}
    housing = {"AquaCirc": "HSG-AC", "HydroBoost": "HSG-HB", "SubDrive": "HSG-SD"}
    for product in products:
        wire_kg = round(0.35 + 0.2 * product.index, 2)
        product.bom = [
            (by_part[housing[product.family]], 1.0),
            (by_part["SFT-BAR20"], 1.0),
            (by_part["BRG-6203" if product.index < 2 else "BRG-6204"], 2.0),
            (by_part["WIR-CU063"], wire_kg),
            (by_part["LAM-STK80"], 1.0),
            (by_part["IMP-PA66"], 1.0),
            (by_part["SEAL-MS16"], 1.0),
        ]
    return materials


_SURNAMES = (
    "Becker",
    "Müller",
    "Schröder",
    "Hoffmann",
    "Wagner",
    "Krüger",
    "Lehmann",
    "Brandt",
    "Jansen",
    "Novak",
    "Dubois",
    "Rossi",
    "Lindqvist",
    "Kowalski",
    "Peters",
    "Vogel",
)
_TRADES = (
    "Haustechnik",
    "Sanitär",
    "Heizung und Sanitär",
    "Pumpentechnik",
    "Wassertechnik",
    "Installations",
    "Building Services",
    "Irrigation",
)
_FORMS = ("GmbH", "GmbH & Co. KG", "AG", "e.K.", "B.V.", "S.r.l.", "AB", "Sp. z o.o.")


def _build_customers(rng: np.random.Generator, count: int) -> list[Customer]:
    customers: list[Customer] = []
    seen: set[str] = set()
    while len(customers) < count:
        name = (
            f"{_SURNAMES[int(rng.integers(len(_SURNAMES)))]} "
            f"{_TRADES[int(rng.integers(len(_TRADES)))]} {_FORMS[int(rng.integers(len(_FORMS)))]}"
        )
        if name in seen:
            continue
        seen.add(name)
        i = len(customers)
        number = 100_000 + 7 * i
        customer = Customer(
            index=i,
            canonical=f"CUS-{i + 1:04d}",
            name=name,
            country=("DE", "AT", "NL", "PL", "IT", "SE")[int(rng.integers(6))],
            weight=float(rng.pareto(1.5) + 0.2),
        )
        crm_name = (
            name if rng.random() < 0.6 else name.replace(" GmbH & Co. KG", "").replace(" GmbH", "")
        )
        customer.refs = {
            "erp": [f"{number:010d}", _transliterate_upper(name)],
            "wms": [f"C{number}"],
            "crm": [crm_name],
        }
        customers.append(customer)
    # the service desk drops the legal form only where that still names one company
    short = [c.refs["crm"][0] for c in customers]
    for customer in customers:
        if short.count(customer.refs["crm"][0]) > 1:
            customer.refs["crm"] = [customer.name]
    return customers
