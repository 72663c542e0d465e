"""A small multilingual seed set: phrases a customer or technician writes, with the failure mode.

The fallback when a plant has no claims with a coded failure mode to learn from. Modes are the
field symptoms of rotating equipment (pumps, motors, fans, compressors), close to the failure
modes of ISO 14224: ``leak``, ``noise``, ``vibration``, ``electrical``, ``overheating``,
``blockage``, ``fail_to_start``, ``low_output``, ``breakage``. English, German and Chinese, in the
registers a service desk meets: full sentences, fragments, typos.
"""

from __future__ import annotations

#: ``(phrase, failure mode)`` pairs.
SEED_PHRASES: tuple[tuple[str, str], ...] = (
    # -- leak ------------------------------------------------------------------------------------
    ("water leaking from the pump", "leak"),
    ("leak at the shaft seal", "leak"),
    ("seal is leaking, puddle under the unit", "leak"),
    ("dripping water near the shaft", "leak"),
    ("housing wet, water coming out", "leak"),
    ("leaks at the flange", "leak"),
    ("mechanical seal leaking after a few weeks", "leak"),
    ("fluid seeping out of the casing", "leak"),
    ("loses water, floor wet", "leak"),
    ("leakage", "leak"),
    ("Pumpe undicht", "leak"),
    ("Gleitringdichtung undicht, Wasser tritt aus", "leak"),
    ("Wasser tropft an der Welle", "leak"),
    ("Leckage am Gehäuse", "leak"),
    ("Dichtung leckt, Pfütze unter der Pumpe", "leak"),
    ("tropft", "leak"),
    ("Undichtigkeit an der Dichtung", "leak"),
    ("水泵漏水", "leak"),
    ("机械密封漏水", "leak"),
    ("轴封处滴水", "leak"),
    ("泵体渗水，地面有水", "leak"),
    ("法兰漏液", "leak"),
    # -- noise -----------------------------------------------------------------------------------
    ("loud noise when running", "noise"),
    ("grinding noise from the bearing", "noise"),
    ("pump is very noisy", "noise"),
    ("whining sound getting louder", "noise"),
    ("rattling noise inside the motor", "noise"),
    ("squealing bearing", "noise"),
    ("bearing noise, then seized", "noise"),
    ("humming and scraping sound", "noise"),
    ("Lautes Laufgeräusch", "noise"),
    ("Lager defekt, Pumpe macht Geräusche", "noise"),
    ("Pumpe brummt und kratzt", "noise"),
    ("quietschendes Geräusch beim Anlauf", "noise"),
    ("Mahlgeräusch aus dem Motor", "noise"),
    ("sehr laut", "noise"),
    ("噪音很大", "noise"),
    ("轴承异响", "noise"),
    ("运行时有摩擦声", "noise"),
    ("泵发出刺耳的声音", "noise"),
    ("声音越来越大，最后卡死", "noise"),
    # -- vibration -------------------------------------------------------------------------------
    ("strong vibration", "vibration"),
    ("pump vibrates at full speed", "vibration"),
    ("pipes shaking when the pump runs", "vibration"),
    ("shaft wobbles", "vibration"),
    ("unit shakes and rocks", "vibration"),
    ("imbalance, vibrating", "vibration"),
    ("excessive vibration reported by customer", "vibration"),
    ("Starke Vibrationen", "vibration"),
    ("Pumpe vibriert", "vibration"),
    ("Welle eiert, Unwucht", "vibration"),
    ("Rohre wackeln beim Betrieb", "vibration"),
    ("Schwingungen am Gehäuse", "vibration"),
    ("振动很大", "vibration"),
    ("泵体抖动", "vibration"),
    ("管道跟着震动", "vibration"),
    ("轴摆动，不平衡", "vibration"),
    # -- electrical ------------------------------------------------------------------------------
    ("trips the breaker", "electrical"),
    ("no power, display dead", "electrical"),
    ("short circuit in the motor", "electrical"),
    ("earth fault, RCD trips", "electrical"),
    ("capacitor failed, motor hums but does not turn", "electrical"),
    ("electronics dead after thunderstorm", "electrical"),
    ("intermittent stops, power cuts out", "electrical"),
    ("burnt smell from the terminal box, fuse blown", "electrical"),
    ("control board faulty", "electrical"),
    ("FI-Schalter löst aus", "electrical"),
    ("Sicherung fliegt raus", "electrical"),
    ("Kein Strom, Display aus", "electrical"),
    ("Elektronik defekt nach Gewitter", "electrical"),
    ("Kondensator defekt", "electrical"),
    ("Kurzschluss im Motor", "electrical"),
    ("跳闸", "electrical"),
    ("漏电保护器动作", "electrical"),
    ("显示屏不亮，没有电", "electrical"),
    ("电机短路", "electrical"),
    ("电容坏了，电机嗡嗡响不转", "electrical"),
    ("控制板故障", "electrical"),
    # -- overheating -----------------------------------------------------------------------------
    ("motor overheating", "overheating"),
    ("gets very hot and switches off", "overheating"),
    ("thermal cut-out trips", "overheating"),
    ("smoke from the motor, burnt", "overheating"),
    ("casing too hot to touch", "overheating"),
    ("Motor überhitzt", "overheating"),
    ("wird sehr heiß und schaltet ab", "overheating"),
    ("Thermoschutz löst aus", "overheating"),
    ("Rauch aus dem Motor", "overheating"),
    ("电机过热", "overheating"),
    ("外壳很烫，自动停机", "overheating"),
    ("冒烟，烧焦味", "overheating"),
    # -- blockage --------------------------------------------------------------------------------
    ("impeller blocked", "blockage"),
    ("clogged with debris", "blockage"),
    ("pump jammed, does not turn", "blockage"),
    ("blocked by dirt, no flow", "blockage"),
    ("choked inlet", "blockage"),
    ("Laufrad blockiert", "blockage"),
    ("verstopft", "blockage"),
    ("Pumpe sitzt fest, Schmutz im Laufrad", "blockage"),
    ("叶轮堵塞", "blockage"),
    ("被杂物卡住", "blockage"),
    ("进口堵了，不出水", "blockage"),
    # -- fail to start ---------------------------------------------------------------------------
    ("does not start", "fail_to_start"),
    ("won't start when switched on", "fail_to_start"),
    ("pump fails to start on demand", "fail_to_start"),
    ("no start after installation", "fail_to_start"),
    ("läuft nicht an", "fail_to_start"),
    ("Pumpe startet nicht", "fail_to_start"),
    ("springt nicht an", "fail_to_start"),
    ("无法启动", "fail_to_start"),
    ("开机不启动", "fail_to_start"),
    ("启动不了", "fail_to_start"),
    # -- low output ------------------------------------------------------------------------------
    ("low pressure", "low_output"),
    ("weak flow, not enough water", "low_output"),
    ("pump runs but delivers little", "low_output"),
    ("output dropped", "low_output"),
    ("Förderleistung zu gering", "low_output"),
    ("zu wenig Druck", "low_output"),
    ("Pumpe fördert kaum", "low_output"),
    ("压力不足", "low_output"),
    ("流量很小", "low_output"),
    ("出水量下降", "low_output"),
    # -- breakage --------------------------------------------------------------------------------
    ("cracked housing", "breakage"),
    ("broken shaft", "breakage"),
    ("impeller broken", "breakage"),
    ("casing burst", "breakage"),
    ("Gehäuse gerissen", "breakage"),
    ("Welle gebrochen", "breakage"),
    ("Laufrad gebrochen", "breakage"),
    ("泵壳开裂", "breakage"),
    ("轴断了", "breakage"),
    ("叶轮破损", "breakage"),
)

#: Components whose defect shows in the field as each failure mode (words of a material's name,
#: English, German and Chinese). Used to break ties between component lots that were built into
#: exactly the same units: a leak points at the seal, noise at the bearing.
COMPONENT_HINTS: dict[str, tuple[str, ...]] = {
    "leak": ("seal", "gasket", "o-ring", "oring", "dichtung", "密封", "垫"),
    "noise": ("bearing", "gear", "lager", "getriebe", "轴承", "齿轮"),
    "vibration": ("bearing", "shaft", "rotor", "impeller", "coupling", "lager", "welle",
                  "laufrad", "kupplung", "轴承", "轴", "转子", "叶轮", "联轴器"),
    "electrical": ("capacitor", "wire", "winding", "stator", "board", "cable", "switch",
                   "kondensator", "draht", "wicklung", "platine", "kabel", "电容", "线", "绕组",
                   "定子", "电路板"),
    "overheating": ("wire", "winding", "stator", "bearing", "draht", "wicklung", "lager",
                    "绕组", "轴承"),
    "blockage": ("impeller", "filter", "valve", "laufrad", "ventil", "叶轮", "过滤", "阀"),
    "low_output": ("impeller", "valve", "laufrad", "ventil", "叶轮", "阀"),
    "breakage": ("housing", "casting", "shaft", "impeller", "gehäuse", "guss", "welle",
                 "laufrad", "壳", "铸", "轴", "叶轮"),
    "fail_to_start": ("capacitor", "switch", "board", "kondensator", "schalter", "电容",
                      "开关"),
}  # fmt: skip


def component_affinity(mode: str, component_name: str) -> bool:
    """Whether a component's name (a material name) suggests it fails as ``mode``."""
    name = str(component_name or "").lower()
    return any(word in name for word in COMPONENT_HINTS.get(mode, ()))


#: Words of a machine's name or class for the processes whose defects show in the field as each
#: failure mode (a process FMEA in a few words): a badly turned shaft or a bearing pressed askew
#: vibrates, a badly wound stator fails electrically; English, German, Chinese.
PROCESS_HINTS: dict[str, tuple[str, ...]] = {
    "vibration": ("lathe", "turning", "machining", "mill", "grind", "balanc", "press",
                  "dreh", "fräs", "schleif", "wucht", "车床", "铣", "磨", "平衡", "压"),
    "noise": ("press", "grind", "lathe", "turning", "dreh", "schleif", "压", "磨", "车床"),
    "leak": ("press", "weld", "seal", "braz", "assembl", "schweiß", "dicht", "montage",
             "压", "焊", "装配"),
    "electrical": ("wind", "stator", "coil", "solder", "wickel", "spule", "löt", "绕", "线圈",
                   "焊"),
    "overheating": ("wind", "stator", "coil", "wickel", "spule", "绕", "线圈"),
    "breakage": ("cast", "lathe", "turning", "machining", "mill", "weld", "guss", "dreh", "fräs",
                 "schweiß", "铸", "车床", "铣", "焊"),
    "blockage": ("cast", "mould", "mold", "guss", "铸"),
    "low_output": ("lathe", "turning", "machining", "cast", "balanc", "dreh", "guss", "车床",
                   "铸"),
    "fail_to_start": ("wind", "solder", "assembl", "wickel", "löt", "montage", "绕", "焊",
                      "装配"),
}  # fmt: skip


def process_affinity(mode: str, machine_name: str) -> bool:
    """Whether a machine's name or class suggests its process's defects fail as ``mode``."""
    name = str(machine_name or "").lower()
    return any(word in name for word in PROCESS_HINTS.get(mode, ()))


#: The failure modes of :data:`SEED_PHRASES`.
SEED_MODES: tuple[str, ...] = tuple(sorted({mode for _, mode in SEED_PHRASES}))

__all__ = [
    "COMPONENT_HINTS",
    "PROCESS_HINTS",
    "SEED_MODES",
    "SEED_PHRASES",
    "component_affinity",
    "process_affinity",
]
