"""Prior knowledge of failure modes: ISO 14224 definitions and maintenance vocabulary.

A few hundred labelled work orders do not teach a model that "burnt" means overheating or that
"u/s" means unserviceable. This module holds what a reliability engineer knows before reading
any of a plant's texts, written from the standard and from the trade, not from any data set:

- :data:`ISO14224_FAILURE_MODES`: each failure mode of ISO 14224 (Annex B, the failure modes of
  rotating, mechanical, electrical and instrument equipment) and the failure-mechanism classes a
  work order often names instead (electrical failure, contamination), with the standard's
  description and the words technicians use for it. Given to
  :meth:`~factorybrain.engines.text.FailureModeClassifier.fit` as ``prior``, each entry becomes a
  few extra training texts of its mode.
- :data:`MAINTENANCE_ABBREVIATIONS`: shorthand of maintenance logs ("u/s", "o/h", "lkg"),
  expanded by :func:`~factorybrain.engines.text.normalise` before any model reads a text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Failure mode name -> (the standard's description, words and phrases used for it). Names are
#: ISO 14224's, shortened the way work-order data sets code them ("Fail to close" for "Fail to
#: close on demand"); "Leaking" joins external and internal leakage.
ISO14224_FAILURE_MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Abnormal instrument reading": (
        "false alarm, faulty instrument indication",
        ("false alarm", "faulty indication", "wrong reading", "incorrect reading", "gauge faulty",
         "instrument fault", "transmitter fault", "sensor fault", "out of calibration",
         "calibration drift", "indication wrong", "display wrong", "level indicator faulty",
         "reads zero", "spurious alarm", "alarm without cause", "faulty gauge", "faulty sensor",
         "faulty transmitter", "bad signal", "signal lost", "meter faulty", "inaccurate",
         "readings incorrect", "calibration required", "reading low", "indicating wrong"),
    ),
    "Breakdown": (
        "serious damage, seizure or breakage, the equipment cannot run",
        ("seized up", "broken down", "failed completely", "unserviceable", "out of service",
         "inoperable", "dead", "not working", "does not work", "kaput", "wrecked", "destroyed",
         "beyond repair", "needs replacement", "replace unit", "total failure", "failed",
         "failure", "broken", "broke down", "not operating", "burst", "collapsed", "needs rebuild",
         "write off"),
    ),
    "Contamination": (
        "contamination of the process medium, oil or lubricant by foreign matter or water",
        ("contaminated oil", "water in oil", "dirty oil", "oil contamination", "foreign matter",
         "particles in oil", "oil milky", "emulsion", "polluted", "impurities", "wrong fluid",
         "diluted", "contaminated", "contamination", "water ingress", "sludge", "oil degraded",
         "dirty fuel"),
    ),
    "Electrical": (
        "electrical failure: short circuit, open circuit, no power or faulty voltage, earth or "
        "insulation fault",
        ("short circuit", "open circuit", "no power", "no voltage", "low voltage", "power failure",
         "earth fault", "ground fault", "insulation fault", "insulation failure", "breaker trips",
         "trips the breaker", "overload trip", "blown fuse", "fuse blown", "tripped", "tripping",
         "phase loss", "wiring fault", "cable damaged", "motor winding fault", "contactor faulty",
         "relay fault", "electrical fault", "motor fault", "overload", "overload tripped",
         "earth leakage", "low insulation resistance", "loose connection", "cable fault",
         "no supply", "power loss", "voltage drop", "shorted", "arcing", "sparking", "drive fault",
         "starter fault", "battery flat"),
    ),
    "Erratic output": (
        "oscillating, hunting, instability of the output",
        ("erratic", "unstable", "fluctuating", "oscillating", "hunting", "intermittent",
         "surging output", "on and off", "irregular", "inconsistent output", "unsteady", "varies",
         "cycling", "intermittent operation", "keeps cycling", "up and down", "random operation",
         "spiking", "fluctuates", "inconsistent"),
    ),
    "Fail to close": (
        "does not close on demand",
        ("fails to close", "will not close", "does not close", "cannot close", "not closing fully",
         "stuck open", "won't shut", "does not seat"),
    ),
    "Fail to function": (
        "fails to perform its function on demand",
        ("does not function", "not functioning", "fails to operate on demand", "does not respond",
         "sticks", "jammed mechanism", "does not actuate", "fails to actuate", "will not move",
         "binding", "stuck", "not responding", "does not operate", "inoperative", "not actuating",
         "sticking", "hard to operate"),
    ),
    "Fail to open": (
        "does not open on demand",
        ("fails to open", "will not open", "does not open", "cannot open", "stuck closed",
         "not opening fully"),
    ),
    "Failure to rotate": (
        "shaft or rotor does not rotate",
        ("does not rotate", "will not rotate", "shaft locked", "rotor locked",
         "shaft does not turn", "not rotating"),
    ),
    "Failure to start on demand": (
        "does not start on demand",
        ("fails to start", "failed to start", "does not start", "will not start", "won't start",
         "cannot start", "no start", "start failure", "not starting", "does not run up",
         "does not come on", "does not kick in", "will not start up", "not starting up",
         "start fail", "no response on start", "will not run up"),
    ),
    "Failure to stop on demand": (
        "does not stop on demand, or an incorrect shut-down process",
        ("fails to stop", "does not stop", "will not stop", "won't stop", "cannot stop",
         "keeps running", "runs continuously", "will not shut down", "does not switch off",
         "does not shut off", "will not turn off", "continues running", "running on", "stuck on"),
    ),
    "High output": (
        "output above the acceptance limit, overspeed",
        ("overspeed", "running too fast", "output too high", "flow too high", "pressure too high",
         "over pressure", "over delivering", "excess output", "high discharge pressure",
         "over range", "over speed", "too much flow", "excessive flow", "high pressure"),
    ),
    "Leaking": (
        "external leakage of process or utility medium, or internal leakage of fluids",
        ("leak", "leaking", "leakage", "leaks", "dripping", "drips", "seeping", "weeping",
         "seal leak", "gland leak", "oil leak", "water leak", "spraying", "overflowing",
         "valve passing", "letting by", "loss of containment", "seepage", "puddle", "leaking oil",
         "losing oil", "losing water", "escaping", "passing through", "bypassing", "wet",
         "gushing", "squirting", "spurting"),
    ),
    "Low output": (
        "delivery or output below the acceptance limit",
        ("low output", "reduced output", "low capacity", "reduced capacity", "under performing",
         "low speed", "running slow", "low throughput", "not enough", "insufficient output",
         "low efficiency", "below rated", "losing performance", "low flow rate", "reduced flow",
         "slow running", "sluggish", "poor performance", "not reaching set point", "low power",
         "cannot keep up"),
    ),
    "Minor in-service problems": (
        "loose items, discoloration, dirt, items needing adjustment or minor repair",
        ("loose bolt", "loose", "missing bolt", "missing cover", "missing guard",
         "needs adjustment", "adjust", "needs cleaning", "dirty", "discoloured",
         "out of alignment", "needs tightening", "needs repacking", "needs greasing",
         "minor repair", "fallen off", "detached", "worn label", "needs securing", "not secured",
         "needs attention", "minor fault", "cover missing", "guard missing", "label missing",
         "out of adjustment", "loose fitting", "slack", "needs lubrication", "handle missing",
         "needs modification"),
    ),
    "Noise": (
        "abnormal noise",
        ("noisy", "noise", "loud", "grinding noise", "squealing", "squeaking", "rattling",
         "knocking", "banging", "whining", "humming", "screeching", "clunking", "abnormal sound",
         "noisy bearing", "making noise", "unusual noise", "strange noise", "scraping", "hissing",
         "clicking", "popping", "ticking", "whistling"),
    ),
    "Other": (
        "failure modes not covered by the others",
        ("other problem", "issue", "problem reported", "check", "unknown problem", "general fault"),
    ),
    "Overheating": (
        "machine parts, exhaust or cooling water overheated",
        ("overheating", "overheated", "over temperature", "high temperature", "running hot",
         "too hot", "hot", "burning smell", "burnt", "burned out", "smoke", "smoking", "fire",
         "scorched", "thermal trip", "hot bearing", "boiling", "overheat", "high temp",
         "temperature high", "burning", "burned", "melted", "scorch marks", "thermal overload",
         "hot spot", "heat"),
    ),
    "Plugged / choked": (
        "flow restriction: plugged, choked or blocked",
        ("blocked", "blockage", "plugged", "choked", "clogged", "restricted flow", "obstructed",
         "jammed with", "no flow", "low flow", "not pumping", "build up", "blocked line",
         "blocked filter", "blocked strainer", "fouled", "no suction", "no pressure", "blocked up",
         "clogged up", "choked up", "blockage in line", "silted up", "obstruction", "not draining",
         "loss of suction", "air locked", "fouling", "packed with"),
    ),
    "Spurious stop": (
        "unexpected shutdown",
        ("unexpected shutdown", "stops unexpectedly", "stopped unexpectedly",
         "shut down by itself", "cut out", "cuts out", "stopped", "stops", "shuts down randomly",
         "random stop", "spurious trip", "dropped out", "stopped running", "keeps stopping",
         "shuts down", "shut down", "stops randomly", "unplanned stop", "unexpected trip",
         "stalled", "goes offline", "stops running"),
    ),
    "Structural deficiency": (
        "material damage: cracks, wear, fracture, corrosion",
        ("crack", "cracked", "cracking", "fractured", "fracture", "corroded", "corrosion",
         "rusted", "rust", "worn", "wear", "worn out", "eroded", "erosion", "bent", "distorted",
         "buckled", "dented", "hole", "holed", "split", "torn", "ruptured", "snapped", "sheared",
         "fatigue", "pitted", "damaged", "broken weld", "thinning", "perforated", "cracks",
         "excessive wear", "corroded through", "rusted out", "pitting", "erosion damage",
         "distortion", "weld cracked", "material loss", "delaminated", "fatigue crack",
         "punctured", "damage"),
    ),
    "Vibration": (
        "abnormal vibration",
        ("vibration", "vibrating", "vibrates", "high vibration", "excessive vibration", "shaking",
         "shakes", "oscillation", "imbalance", "out of balance", "unbalanced", "wobbling",
         "wobbles", "jumping", "rubbing", "vibrates badly", "shuddering", "juddering"),
    ),
}  # fmt: skip


#: Shorthand of maintenance logs and the words it stands for (lower case; a slash or a dot is
#: part of the shorthand). Expanded as whole words only.
MAINTENANCE_ABBREVIATIONS: dict[str, str] = {
    "u/s": "unserviceable",
    "o/s": "out of service",
    "o/h": "overhaul",
    "o/haul": "overhaul",
    "lkg": "leaking",
    "lkng": "leaking",
    "repl": "replace",
    "rplc": "replace",
    "r&r": "remove and replace",
    "r/r": "remove and replace",
    "c/o": "change out",
    "chg": "change",
    "chng": "change",
    "insp": "inspect",
    "brg": "bearing",
    "brgs": "bearings",
    "vib": "vibration",
    "vibs": "vibration",
    "temp": "temperature",
    "psv": "pressure safety valve",
    "elec": "electrical",
    "mtr": "motor",
    "pmp": "pump",
    "hyd": "hydraulic",
    "t/o": "trip out",
    "n/w": "not working",
    "nw": "not working",
    "n/a": "not available",
    "wont": "will not",
    "won't": "will not",
    "doesnt": "does not",
    "doesn't": "does not",
    "didnt": "did not",
    "didn't": "did not",
    "cant": "cannot",
    "can't": "cannot",
    "isnt": "is not",
    "isn't": "is not",
}


def prior_texts(
    modes: Iterable[str], knowledge: Mapping[str, tuple[str, tuple[str, ...]]] | None = None
) -> list[tuple[str, str]]:
    """Training texts of prior knowledge for the failure modes a model learns.

    Each mode that ``knowledge`` (by default :data:`ISO14224_FAILURE_MODES`) describes gives its
    description and each of its phrases as a text; modes it does not know give nothing. Names are
    matched ignoring case and spaces around the slash.

    Args:
        modes: The failure modes of the plant's labels.
        knowledge: Mode name -> (description, phrases).

    Returns:
        ``(text, mode)`` pairs, the mode spelt as in ``modes``.
    """
    known = {_key(name): entry for name, entry in (knowledge or ISO14224_FAILURE_MODES).items()}
    pairs: list[tuple[str, str]] = []
    for mode in sorted(set(modes)):
        entry = known.get(_key(mode))
        if entry is None:
            continue
        description, phrases = entry
        pairs.append((description, mode))
        pairs.extend((phrase, mode) for phrase in phrases)
    return pairs


def _key(name: str) -> str:
    return " ".join(str(name).lower().replace("/", " / ").split())


__all__ = ["ISO14224_FAILURE_MODES", "MAINTENANCE_ABBREVIATIONS", "prior_texts"]
