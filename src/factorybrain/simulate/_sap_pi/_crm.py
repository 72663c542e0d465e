"""Service cases of the gear plant, as a Salesforce Data Loader export of the Case object.

``crm/cases.csv``: UTF-8 with a byte-order mark, every field quoted, CRLF; descriptions run over
several lines inside their quotes, so a file line is not a record. ``CreatedDate`` is UTC
(``2025-11-03T08:14:22.000Z``). Cases are typed by the customer's service contact or the plant's
service desk in German, Chinese or English; ``Serial_Number__c`` holds the serial as typed (spaces,
lower case, a dash, missing leading zeros, full-width characters from a Chinese input method, now
and then two digits swapped); only some cases carry a coded ``Failure_Code__c``; a few failures
were reported twice (a second case from another channel).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np

from factorybrain.simulate._sap_pi._calendar import Clock, iso_utc_ms
from factorybrain.simulate._sap_pi._formats import write_csv
from factorybrain.simulate._sap_pi._story import Story

TEXTS = {
    "de": {
        "noise": (
            "Getriebe laut",
            "Getriebe läuft seit einigen Tagen laut, pfeifendes bzw. "
            "mahlendes Geräusch unter Last.",
        ),
        "overheating": (
            "Getriebe wird heiß",
            "Gehäusetemperatur deutlich zu hoch (ca. 95 °C gemessen), Anlage wurde abgeschaltet.",
        ),
        "leak": ("Ölverlust", "Ölverlust an der Abtriebswelle, Ölfleck unter dem Getriebe."),
        "vibration": ("Vibrationen", "Starke Vibrationen am Getriebe, Schrauben am Fuß gelockert."),
        "seized": ("Getriebe blockiert", "Abtrieb blockiert, Getriebe dreht nicht mehr."),
    },
    "en": {
        "noise": (
            "Gearbox noisy",
            "Gear unit running noisy, whining/grinding sound under load since last week.",
        ),
        "overheating": (
            "Gearbox overheating",
            "Housing temperature too high (approx. 95 C), customer stopped the conveyor.",
        ),
        "leak": ("Oil leak", "Oil leaking at the output shaft seal."),
        "vibration": ("Vibration", "Heavy vibration at the gear unit during operation."),
        "seized": ("Gearbox seized", "Output shaft seized, unit does not turn anymore."),
    },
    "zh": {
        "noise": ("减速机噪音大", "减速机运行时噪音大，有异响，负载时更明显。"),
        "overheating": ("减速机温度过高", "减速机外壳温度过高（约95°C），设备已停机。"),
        "leak": ("漏油", "输出轴油封处漏油。"),
        "vibration": ("振动大", "减速机运行时振动明显。"),
        "seized": ("减速机卡死", "减速机卡死，输出轴无法转动。"),
    },
}
OPENERS = {
    "de": ("Kunde meldet:", "Sehr geehrte Damen und Herren,", "Reklamation:"),
    "en": ("Customer reports:", "Hello service team,", "Complaint:"),
    "zh": ("客户反馈：", "您好，", "投诉："),
}
SERIAL_LINE = {
    "de": "Seriennummer lt. Typenschild: {}",
    "en": "Serial number from nameplate: {}",
    "zh": "铭牌序列号：{}",
}
CODES = {
    "noise": "NOISE",
    "overheating": "OVERHEAT",
    "leak": "OIL_LEAK",
    "vibration": "VIBRATION",
    "seized": "SEIZED",
}
ORIGINS = ("Phone", "Email", "Web", "Partner Portal")
_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def typed_serial(serial: str, language: str, rng: np.random.Generator) -> str:
    """A serial as a person types it from the nameplate."""
    r = rng.random()
    if language == "zh" and r < 0.25:
        return "".join(_FULL_WIDTH.get(ch, ch) for ch in serial)
    if r < 0.45:
        return serial
    if r < 0.6:
        return serial.lower()
    if r < 0.72:
        return f"{serial[:4]} {serial[4:]}"
    if r < 0.86:
        return f"{serial[:4]}-{serial[4:].lstrip('0')}"
    if r < 0.94:
        return f"{serial[:4]}{serial[4:].lstrip('0')}"
    return f" {serial} "


def _swap_digits(text: str, rng: np.random.Generator) -> str | None:
    chars = list(text)
    spots = [
        i
        for i in range(len(chars) - 1)
        if chars[i].isdigit() and chars[i + 1].isdigit() and chars[i] != chars[i + 1]
    ]
    if not spots:
        return None
    i = spots[int(rng.integers(len(spots)))]
    chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _salesforce_id(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "5003X" + "".join(alphabet[int(k)] for k in rng.integers(0, len(alphabet), size=13))


def write_crm(story: Story, out: Path) -> None:
    """Write the service cases into ``out/crm`` and note each claim's case number."""
    world = story.world
    rng = np.random.default_rng([story.seed, 2901])
    clock = Clock(story.calendar)
    rows = []
    number = 12_040 + int(rng.integers(0, 200))
    duplicates, mistyped = [], []
    story.claim_ids = []
    story.typed_serials = []
    for claim in story.sales.claims:
        customer = world.customers[claim.customer]
        product = world.products[claim.product]
        language = customer.language
        if language == "de" and rng.random() < 0.2:
            language = "en"
        serial = story.serial(claim.order, claim.unit)
        typed = typed_serial(serial, language, rng)
        if rng.random() < 0.02:
            swapped = _swap_digits(typed, rng)
            if swapped is not None and swapped != typed:
                typed = swapped
        number += int(rng.integers(1, 9))
        case_number = f"{number:08d}"
        subject, body = TEXTS[language][claim.symptom]
        opener = OPENERS[language][int(rng.integers(3))]
        form = product.crm_forms[int(rng.integers(len(product.crm_forms)))]
        if language != "zh" and any(ord(ch) > 0x2E7F for ch in form):
            form = product.crm_forms[0]
        lines = [opener, f"{form}: {body}"]
        if rng.random() < 0.5:
            lines.append(SERIAL_LINE[language].format(typed.strip()))
        description = "\n".join(lines)
        failure_date = "" if rng.random() < 0.2 else clock.iso_date(claim.failed)
        code = CODES[claim.symptom] if rng.random() < 0.4 else ""
        origin = ORIGINS[int(rng.integers(len(ORIGINS)))]
        created = story.epoch(claim.reported) * 1000 + int(rng.integers(0, 60_000))
        row = [
            _salesforce_id(rng),
            case_number,
            iso_utc_ms(np.array([created]))[0],
            origin,
            "Closed" if claim.reported < story.calendar.minutes - 20 * 1440 else "Working",
            "High" if claim.symptom in ("seized", "overheating") else "Medium",
            subject,
            description,
            customer.crm_name,
            f"service@{customer.crm_name.split()[0].lower()}.example",
            form,
            typed,
            failure_date,
            code,
        ]
        rows.append(row)
        story.claim_ids.append(case_number)
        story.typed_serials.append(typed)
        story.see("crm", customer.crm_name, form)
        if _normal(typed) not in _plausible(serial):
            mistyped.append({"claim_id": case_number, "typed": typed, "serial": serial})
        if rng.random() < 0.03:
            number += int(rng.integers(1, 9))
            again = list(row)
            again[0] = _salesforce_id(rng)
            again[1] = f"{number:08d}"
            later = created + int(rng.uniform(0.1, 3.0) * 86_400_000)
            again[2] = iso_utc_ms(np.array([later]))[0]
            again[3] = "Phone" if origin != "Phone" else "Email"
            again[5] = "Medium"
            rows.append(again)
            duplicates.append({"claim_id": again[1], "duplicate_of": case_number})
    rows.sort(key=lambda r: (r[2], r[1]))
    info = write_csv(
        out / "crm" / "cases.csv",
        [
            "Id",
            "CaseNumber",
            "CreatedDate",
            "Origin",
            "Status",
            "Priority",
            "Subject",
            "Description",
            "Account.Name",
            "SuppliedEmail",
            "Product_Text__c",
            "Serial_Number__c",
            "Failure_Date__c",
            "Failure_Code__c",
        ],
        rows,
        bom=True,
    )
    info["multiline_fields"] = True
    story.records["crm/cases.csv"] = info
    story.dirt["crm_duplicate_claims"] = duplicates
    story.dirt["crm_mistyped_serials"] = mistyped


def _normal(text: str) -> str:
    """A typed serial without width, case, spaces and dashes."""
    return unicodedata.normalize("NFKC", text).upper().replace(" ", "").replace("-", "")


def _plausible(serial: str) -> set[str]:
    """Normal forms that still name the serial (with or without its counter's leading zeros)."""
    return {serial, f"{serial[:4]}{serial[4:].lstrip('0')}"}
