"""How the router reads a question: folding, the three languages, and the domain's vocabulary.

No translation service and no model: each *concept* of the domain (OEE, downtime, spare part,
supplier, claim, late order, ...) has its words in English, German and Chinese, and the router
combines concepts into intents. A Latin word matches a cue as written, with an inflection
(``claims``, ``Ersatzteile``), inside a German compound (``Lieferantenreklamation``) or with a
typo (``suplier``, ``staus``); a Chinese cue matches as a substring. Machine kinds (``Presse``,
``车床``, ``2号线``) are read as the English words the name matching compares.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

#: Languages the router reads.
LANGUAGES = ("en", "de", "zh")

# Words of the domain per concept and language (folded: lower case, umlauts as ae/oe/ue/ss).
CONCEPTS: dict[str, dict[str, tuple[str, ...]]] = {
    "oee": {
        "en": ("oee", "overall equipment effectiveness", "equipment effectiveness",
               "availability", "utilization", "utilisation", "performance", "efficiency",
               "perform", "performed", "performing", "scrap rate", "quality rate", "yield",
               "first pass yield", "capacity"),
        "de": ("gesamtanlageneffektivitaet", "anlageneffektivitaet", "anlageneffizienz",
               "verfuegbarkeit", "leistungsgrad", "leistung", "auslastung", "effektivitaet",
               "effizienz", "nutzungsgrad", "ausschussquote", "ausbeute", "kapazitaet"),
        "zh": ("设备综合效率", "综合效率", "设备效率", "稼动率", "开动率", "可用率", "效率",
               "利用率", "报废率", "良率", "合格率", "产能"),
    },
    "slow": {
        "en": ("slow", "slowly", "loss", "losses", "downtime", "downtimes", "stoppage",
               "stoppages", "stops", "stopped", "bottleneck", "underperform", "underperforming",
               "low output", "lost time", "down so often", "standing still"),
        "de": ("langsam", "verlust", "verluste", "stillstand", "stillstaende", "stillstandszeit",
               "stillstandszeiten", "ausfallzeit", "ausfallzeiten", "stoerung", "stoerungen",
               "engpass", "steht still", "stand still", "zu wenig"),
        "zh": ("慢", "损失", "停机", "停线", "停产", "瓶颈", "效率低", "产量低", "停工", "停止"),
    },
    "why": {
        "en": ("why", "reason", "reasons", "what explains"),
        "de": ("warum", "wieso", "weshalb", "grund", "gruende"),
        "zh": ("为什么", "为何", "原因", "怎么回事"),
    },
    "cause": {
        "en": ("cause", "causes", "caused", "causing", "behind", "responsible", "root cause",
               "source of", "to blame", "leads to", "come from", "comes from", "origin"),
        "de": ("verursacht", "verursachen", "ursache", "ursachen", "schuld", "verantwortlich",
               "steckt hinter", "fuehrt zu", "woher", "herkunft", "kommen von"),
        "zh": ("导致", "造成", "引起", "根因", "原因", "引发", "来自", "从哪"),
    },
    "spare": {
        "en": ("spare", "spares", "spare part", "spare parts", "replacement part",
               "replacement parts"),
        "de": ("ersatzteil", "ersatzteile", "verschleissteil", "verschleissteile"),
        "zh": ("备件", "备品", "备用件", "配件", "零备件"),
    },
    "material": {
        "en": ("part", "parts", "material", "materials", "component", "components", "stock",
               "inventory", "stockout", "stock-out", "shortage", "shortages", "run out",
               "running out", "reorder point"),
        "de": ("teile", "bauteile", "material", "materialien", "komponenten", "bestand",
               "bestaende", "lager", "lagerbestand", "fehlteile", "knapp", "meldebestand"),
        "zh": ("零件", "物料", "材料", "库存", "缺货", "缺料", "短缺", "原材料", "补货"),
    },
    "buy": {
        # "order" as a verb only: "orders" are work orders
        "en": ("to order", "we order", "i order", "order more", "reorder", "buy", "purchase",
               "procure", "replenish"),
        "de": ("bestellen", "nachbestellen", "bestellung", "kaufen", "beschaffen", "einkaufen",
               "nachkaufen"),
        "zh": ("订购", "采购", "下单", "订货", "购买", "补充", "要买"),
    },
    "supplier": {
        "en": ("supplier", "suppliers", "vendor", "vendors"),
        "de": ("lieferant", "lieferanten", "zulieferer"),
        "zh": ("供应商", "供货商", "厂商", "供方"),
    },
    "claim": {
        "en": ("claim", "claims", "complaint", "complaints", "warranty", "returns",
               "field failure", "field failures", "failures in the field", "rma"),
        "de": ("reklamation", "reklamationen", "beanstandung", "beanstandungen", "garantie",
               "gewaehrleistung", "garantiefall", "garantiefaelle", "feldausfall",
               "feldausfaelle", "ruecklaeufer", "kundenbeschwerde"),
        "zh": ("索赔", "投诉", "保修", "客诉", "退货", "返修", "售后"),
    },
    "defect": {
        "en": ("defect", "defects", "scrap", "rejects", "nonconforming"),
        "de": ("ausschuss", "fehlerhaft", "nacharbeit", "qualitaetsmangel", "maengel"),
        "zh": ("不良", "缺陷", "报废", "次品"),
    },
    "lot": {
        "en": ("lot", "lots", "batch", "batches"),
        "de": ("charge", "chargen"),
        "zh": ("批次", "批号"),
    },
    "late": {
        "en": ("late", "delayed", "delay", "delays", "overdue", "behind schedule", "missed",
               "miss the due date", "tardy", "tardiness", "on time", "due date", "due dates",
               "will miss", "we miss", "miss their", "miss its", "behind plan"),
        "de": ("verspaetet", "verspaetung", "verspaetungen", "verzug", "verzoegert",
               "verzoegerung", "rueckstand", "zu spaet", "ueberfaellig", "termintreue",
               "liefertermin", "termin", "termine", "liefertreue"),
        "zh": ("延误", "延迟", "逾期", "拖期", "误期", "晚交", "交期", "迟交", "延期", "准时",
               "晚了", "拖延"),
    },
    "orders": {
        "en": ("order", "orders", "work order", "work orders", "job", "jobs", "delivery",
               "deliveries", "shipment", "shipments"),
        "de": ("auftrag", "auftraege", "fertigungsauftrag", "fertigungsauftraege",
               "bestellungen", "lieferung", "lieferungen"),
        "zh": ("订单", "工单", "生产订单", "交付", "交货"),
    },
    "status": {
        "en": ("status", "state", "health", "condition", "how is", "how's", "hows", "how are",
               "doing", "what's up with", "whats up with", "overview of", "report on",
               "wrong with", "problem with", "problems with", "issue with", "issues with",
               "what happened to"),
        "de": ("status", "zustand", "wie geht es", "wie steht es", "wie laeuft", "gesundheit",
               "lage", "stand der", "stand von", "los", "problem mit", "probleme mit"),
        "zh": ("状态", "状况", "情况", "健康", "怎么样", "如何", "什么问题"),
    },
    "fail": {
        "en": ("fail", "fails", "failing", "failure", "break", "break down", "breaks down",
               "at risk", "risk", "risks", "remaining useful life", "remaining life", "rul",
               "wear out", "predicted to", "about to", "down", "maintenance", "repair"),
        # "fallen" and "faellt" alone: German splits "ausfallen" ("fallen diese Woche aus")
        "de": ("ausfallen", "ausfall", "kaputt", "kaputtgehen", "versagen", "restlebensdauer",
               "risiko", "risiken", "gefaehrdet", "faellt", "fallen", "verschleiss", "wartung",
               "instandhaltung", "reparatur"),
        "zh": ("故障", "失效", "损坏", "会坏", "坏掉", "剩余寿命", "风险", "出问题", "维护", "保养",
               "维修"),
    },
    "trace": {
        "en": ("trace", "traceability", "genealogy", "where did", "where used", "trace back"),
        "de": ("rueckverfolgung", "rueckverfolgen", "verfolgen", "verfolge", "nachverfolgen"),
        "zh": ("追溯", "追踪", "溯源", "去向"),
    },
    "serial": {
        "en": ("serial", "serials", "serial number", "unit"),
        "de": ("seriennummer", "seriennummern", "geraet"),
        "zh": ("序列号", "序号", "产品编号"),
    },
    "what_if": {
        "en": ("what if", "what happens if", "what would happen if", "goes down", "go down",
               "went down", "breaks down for", "is down for"),
        "de": ("was wenn", "was passiert wenn", "was passiert, wenn", "angenommen", "falls"),
        "zh": ("如果", "假如", "要是", "万一"),
    },
    "setpoint": {
        "en": ("setpoint", "setpoints", "set point", "set points", "settings", "parameters",
               "recipe"),
        "de": ("sollwert", "sollwerte", "einstellung", "einstellungen", "parameter", "rezept",
               "rezeptur"),
        "zh": ("设定值", "参数", "配方", "工艺参数"),
    },
    "raise": {
        "en": ("raise", "increase", "improve", "boost", "better", "higher", "optimise",
               "optimize", "lower", "reduce"),
        "de": ("erhoehen", "steigern", "verbessern", "optimieren", "senken", "verringern",
               "hoeher", "besser"),
        "zh": ("提高", "提升", "改善", "优化", "降低", "增加"),
    },
    "reliability": {
        "en": ("weibull", "reliability", "reliable", "field life", "lifetime", "b10"),
        "de": ("zuverlaessigkeit", "zuverlaessig", "feldlebensdauer", "b10"),
        "zh": ("可靠性", "可靠度", "使用寿命", "b10"),
    },
    "which": {
        "en": ("which", "what"),
        "de": ("welche", "welcher", "welches", "welchen", "was"),
        "zh": ("哪", "什么"),
    },
    "help": {
        "en": ("help", "what can you do", "what can i ask", "what do you know"),
        "de": ("hilfe", "was kannst du", "was kann ich fragen"),
        "zh": ("帮助", "你能做什么", "能做什么", "怎么用"),
    },
    # Subjects the platform has no data about: a question about them gets "out of scope".
    "out_of_scope": {
        "en": ("weather", "poem", "poetry", "joke", "jokes", "song", "sing", "lyrics",
               "football", "soccer", "who won", "the match", "movie", "film", "news",
               "president", "election", "bitcoin", "stock price", "share price", "cook",
               "cooking", "restaurant", "holiday", "vacation", "birthday", "translate",
               "capital of", "girlfriend", "boyfriend", "horoscope", "write me a",
               "write a story", "write a poem", "write a song", "haiku", "limerick"),
        "de": ("wetter", "gedicht", "witz", "witze", "lied", "singen", "fussball",
               "bundesliga", "gewonnen", "nachrichten", "kochen", "urlaub", "aktienkurs",
               "hauptstadt", "uebersetze", "geburtstag", "horoskop", "schreib mir"),
        "zh": ("天气", "写诗", "一首诗", "笑话", "唱歌", "一首歌", "足球", "比赛", "谁赢",
               "电影", "新闻", "股价", "股票", "做饭", "菜谱", "旅游", "首都", "翻译", "生日",
               "星座"),
    },
}  # fmt: skip

#: Words that say how the OEE is to be grouped.
GROUPINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "line": {
        "en": ("by line", "per line", "each line", "every line", "all lines", "the lines",
               "lines", "line by line", "which line"),
        "de": ("pro linie", "je linie", "nach linie", "nach linien", "jede linie",
               "alle linien", "linien", "welche linie"),
        "zh": ("每条线", "各条线", "各线", "各产线", "按产线", "按线", "每条产线", "各生产线",
               "每条生产线", "各条产线", "哪条线", "哪条产线"),
    },
    "machine": {
        "en": ("by machine", "per machine", "each machine", "every machine", "all machines",
               "machines", "which machine"),
        "de": ("pro maschine", "je maschine", "jede maschine", "alle maschinen", "maschinen",
               "welche maschine"),
        "zh": ("每台", "各设备", "按设备", "每台设备", "各机器", "各台", "哪台"),
    },
    "shift": {
        "en": ("by shift", "per shift", "each shift", "shifts"),
        "de": ("pro schicht", "je schicht", "nach schicht", "schichten"),
        "zh": ("每个班次", "按班次", "各班次", "班次"),
    },
}  # fmt: skip

#: Words that carry no subject, dropped before names are looked for.
STOPWORDS = frozenset(
    """
    a an the of for is are was were be been what which who whom how why when where do does did
    we i me my our us you your to in on at by with and or it its this that these those there
    will would should can could shall show tell give list please about any all so far much many
    most more than now currently right from have has had get got need needs must going s up top
    one ones biggest largest main some our each every per me let know see into over under
    der die das den dem des ein eine einen einem einer ist sind war waren wie was welche welcher
    welches welchen warum wann wo ich wir mir uns mein meine unsere unser zu im in am an auf bei
    mit von fuer und oder es bitte zeig zeige zeigen gib muss muessen soll sollen hoch viel viele
    gerade aktuell jetzt noch schon nach pro je hat haben wird werden gibt geht steht laeuft
    kann koennen sich nicht ueber aus um zurueck go goes went gone
    """.split()
)
#: Words that ask for something without saying what: "tell me about PRS-03" asks for its status.
REQUEST_WORDS = frozenset(
    """
    tell show say says info information details detail know overview summary ok okay fine
    running working zeig zeige sag infos details ueberblick laeuft laufen
    """.split()
)
#: Words that tell a German question from an English one (neither shares them).
_GERMAN = frozenset(
    """
    der die das den dem des ein eine einen ist sind war waren wie welche welcher welches warum
    wieso wann wo ich wir mir uns zu im am auf bei mit von fuer und oder es bitte zeig zeige gib
    muss muessen soll letzte letzten letzter vergangene vergangenen vorige vorigen woche monat
    gestern heute linie maschine maschinen hoch viele gerade jetzt noch schon nach pro je hat
    haben wird werden gibt geht steht nicht ueber
    """.split()
)
_ENGLISH = frozenset(
    """
    the is are was were what which who how why when where do does did we i me my our to in on
    at by with and or it this that will would should can could show tell give list please
    about last week month yesterday today line machine machines order orders of for
    """.split()
)
# Inflections a cue may take: "claims", "failed", "Ersatzteile", "Lieferanten".
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers", "e", "en", "n", "ern", "ure", "ures")
_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Chinese machine kinds, and German ones, as the English words names are compared with.
_KINDS_ZH = {
    "生产线": "line", "产线": "line", "线": "line", "压力机": "press", "液压机": "press",
    "冲压机": "press", "压机": "press", "车床": "lathe", "绕线机": "winder", "测试台": "tester",
    "试验台": "tester", "检测台": "tester", "设备": "machine", "机器": "machine", "机": "machine",
}  # fmt: skip
_KINDS_DE = {
    "linie": "line", "presse": "press", "drehmaschine": "lathe", "drehbank": "lathe",
    "wickelmaschine": "winder", "wickler": "winder", "pruefstand": "tester",
    "pruefstation": "tester", "maschine": "machine", "anlage": "machine",
}  # fmt: skip
_ZH_DIGITS = {
    "一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
    "八": "8", "九": "9", "十": "10",
}  # fmt: skip
_ZH_NUMERAL = re.compile(r"([一二两三四五六七八九十])(?=\s*号)")
_ZH_KIND = "|".join(sorted(map(re.escape, _KINDS_ZH), key=len, reverse=True))
_ZH_NUMBER_KIND = re.compile(rf"(\d+)\s*号?\s*({_ZH_KIND})")
_ZH_KIND_NUMBER = re.compile(rf"({_ZH_KIND})\s*(\d+)\s*号?")


def fold(text: str) -> str:
    """Lower case, full-width forms as ASCII, umlauts as ``ae``, accents dropped."""
    normal = unicodedata.normalize("NFKC", str(text)).lower().translate(_TRANSLITERATION)
    decomposed = unicodedata.normalize("NFKD", normal)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(folded: str) -> list[str]:
    """Latin words and numbers, and each Chinese character, in order."""
    return _WORD.findall(folded)


def language_of(text: str) -> str:
    """``zh`` when the question has Chinese characters, ``de`` when it reads German, else ``en``."""
    if _CJK.search(text):
        return "zh"
    if re.search(r"[äöüßÄÖÜ]", text):
        return "de"
    tokens = words_of(fold(text))
    german = sum(t in _GERMAN for t in tokens)
    english = sum(t in _ENGLISH for t in tokens)
    return "de" if german > english else "en"


def same_word(token: str, cue: str) -> bool:
    """Whether a question's word is the cue: as written, inflected, in a compound, or mistyped."""
    if token == cue:
        return True
    if len(cue) >= 4 and token.startswith(cue) and token[len(cue) :] in _SUFFIXES:
        return True
    if (
        len(cue) >= 6 and cue in token
    ):  # compounds: "ersatzteilbestellung", "lieferantenreklamation"
        head = token.startswith(cue)
        return head or any(token.endswith(cue + suffix) for suffix in ("", *_SUFFIXES))
    if len(token) < 4 or any(c.isdigit() for c in token):
        return False  # "line2" names a line, it is no mistyped "lines"
    if len(cue) >= 5:
        allowed = 1 if len(cue) < 8 or len(token) < 6 else 2
        return OSA.distance(token, cue, score_cutoff=allowed) <= allowed
    # four letters: only two swapped ("fial", "lsat"), another word is too close otherwise
    return len(cue) == 4 and sorted(token) == sorted(cue) and OSA.distance(token, cue) == 1


@dataclass(frozen=True)
class Question:
    """A question as the router reads it.

    Attributes:
        text: As asked.
        folded: Folded (:func:`fold`).
        words: Its words in order (:func:`words_of`).
        offsets: Where each word is in ``folded`` (``[start, end)`` characters).
        language: ``en``, ``de`` or ``zh``.
    """

    text: str
    folded: str
    words: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]
    language: str

    @classmethod
    def read(cls, text: str) -> Question:
        """Read a question."""
        folded = fold(text)
        found = list(_WORD.finditer(folded))
        return cls(
            text,
            folded,
            tuple(m.group(0) for m in found),
            tuple(m.span() for m in found),
            language_of(text),
        )

    def spans(self, cues: Iterable[str]) -> list[tuple[int, int]]:
        """Word positions ``[start, end)`` where a cue matches (Chinese cues: characters)."""
        found = []
        for cue in cues:
            parts = words_of(cue)
            if not parts:
                continue
            if _CJK.match(parts[0]):
                found += [
                    (i, i + len(parts))
                    for i in range(len(self.words) - len(parts) + 1)
                    if list(self.words[i : i + len(parts)]) == parts
                ]
                continue
            for i in range(len(self.words) - len(parts) + 1):
                if all(
                    same_word(self.words[i + k], part)
                    if len(parts) == 1 or len(part) > 3
                    # short words of a phrase ("how is", "on time") match as written
                    else self.words[i + k] == part
                    for k, part in enumerate(parts)
                ):
                    found.append((i, i + len(parts)))
        return found

    def has(self, concept: str, table: dict[str, dict[str, tuple[str, ...]]] = CONCEPTS) -> bool:
        """Whether a word of the concept (in any language) is in the question."""
        return bool(self.spans(cues_of(concept, table)))

    def any_of(self, *concepts: str) -> bool:
        """Whether any of the concepts is in the question."""
        return any(self.has(concept) for concept in concepts)


def cues_of(
    concept: str, table: dict[str, dict[str, tuple[str, ...]]] = CONCEPTS
) -> tuple[str, ...]:
    """Every language's words of a concept."""
    return tuple(cue for language in LANGUAGES for cue in table[concept].get(language, ()))


def vocabulary_spans(
    question: Question, *, stopwords: bool = True, before_numbers: bool = False
) -> set[int]:
    """Positions of the words of the vocabulary (concepts, groupings, and stop words if asked).

    A word followed by a number is kept out unless ``before_numbers``: ``line 2`` and
    ``Maschine 3`` name something, where ``lot 3100526`` only says what the number is.
    """
    taken: set[int] = set()
    for table in (CONCEPTS, GROUPINGS):
        for concept in table:
            for start, end in question.spans(cues_of(concept, table)):
                taken.update(range(start, end))
    if stopwords:
        taken.update(i for i, word in enumerate(question.words) if word in STOPWORDS)
    if before_numbers:
        return taken
    words = question.words
    return {i for i in taken if not (i + 1 < len(words) and words[i + 1].isdigit())}


def kinds_in_english(folded: str) -> str:
    """The text with machine kinds in English: ``2号线`` as ``line 2``, ``Presse`` as ``press``."""
    text = _ZH_NUMERAL.sub(lambda m: _ZH_DIGITS[m.group(1)], folded)  # "二号线" is "2号线"
    text = _ZH_NUMBER_KIND.sub(lambda m: f" {_KINDS_ZH[m.group(2)]} {m.group(1)} ", text)
    text = _ZH_KIND_NUMBER.sub(lambda m: f" {_KINDS_ZH[m.group(1)]} {m.group(2)} ", text)
    return re.sub(r"[a-z]+", lambda m: _KINDS_DE.get(m.group(0), m.group(0)), text)


__all__ = [
    "CONCEPTS",
    "GROUPINGS",
    "LANGUAGES",
    "REQUEST_WORDS",
    "STOPWORDS",
    "Question",
    "cues_of",
    "fold",
    "kinds_in_english",
    "language_of",
    "same_word",
    "vocabulary_spans",
    "words_of",
]
