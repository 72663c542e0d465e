"""Similarity features of a (source record, candidate entity) pair.

Each feature is a number a reviewer can read: shared numbers, n-gram similarity of the texts and
of the codes, agreement of maker and model, and what the matcher learned about type words
(``Presse`` next to the same numbers as ``press``) from the matches it is already sure of.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import cast

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from factorybrain.context._normalize import compact, key_number, numbers, own_part, tokens, words
from factorybrain.model import site_of

FEATURES = (
    "code_equal",
    "key_number",
    "numbers_found",
    "numbers_conflict",
    "text_cosine",
    "code_cosine",
    "attributes",
    "type_words",
    "field_hint",
    "code_gap",
    "text_gap",
    "numbers_gap",
)


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1)


def _cosine_rows(left: np.ndarray, right: np.ndarray, matrix_left, matrix_right) -> np.ndarray:
    """Cosine of row pairs of two L2-normalised sparse matrices."""
    products = matrix_left[left].multiply(matrix_right[right])
    return np.asarray(products.sum(axis=1)).ravel()


class TypeWords:
    """Which words of a source go with which kind of entity, learned from sure matches.

    A word counts for a label (``equipment/hydraulic press``) each time a confident match puts a
    record with the word on an entity with that label; the feature is the share of the word's
    matches on the candidate's label, so ``Drehmaschine`` is learned wherever the same numbers
    point at lathes, in any language, without a word list.
    """

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def learn(self, source_texts: list[str], labels: list[str]) -> TypeWords:
        """Count the words of each source text against the label of its matched entity."""
        for text, label in zip(source_texts, labels, strict=True):
            for word in set(words(text)):
                self.counts[word][label] += 1
        return self

    def _known_parts(self, word: str) -> list[str]:
        """The word if known, else two known words it is written together from (testbench)."""
        if word in self.counts:
            return [word]
        for cut in range(2, len(word) - 1):
            head, tail = word[:cut], word[cut:]
            if head in self.counts and tail in self.counts:
                return [head, tail]
        return []

    def score(self, text: str, label: str) -> float:
        """The largest share of matches with ``label`` among the source's known words.

        Words every kind shares (``running``, ``temperature``, ``line``) name no kind: they are
        left out, and a text with no word that names a kind scores a neutral 0.5; the word that
        names the kind (``winder``) decides.
        """
        shares = []
        for word in set(words(text)):
            for part in self._known_parts(word):
                counter = self.counts[part]
                total = sum(counter.values())
                if total >= 2 and max(counter.values()) * 2 > total:
                    shares.append(counter[label] / total)
        return float(max(shares)) if shares else 0.5


def candidate_pairs(
    sources: pd.DataFrame, targets: pd.DataFrame, *, top_k: int = 8
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Block the pairs worth scoring: top text neighbours plus targets sharing the key number.

    A source and a target of two sites (``hamburg/mes``, ``bremen/erp``; see
    :mod:`factorybrain.model._spaces`) are never a pair: each site's records are blocked
    against the same site's targets only.
    """
    texts = [compact(t) for t in sources.text] + [compact(t) for t in targets.text]
    vectorizer = _vectorizer().fit(texts)
    source_matrix = vectorizer.transform(texts[: len(sources)])
    target_matrix = vectorizer.transform(texts[len(sources) :])
    codes = [" ".join(compact(k) for k in keys) for keys in sources["keys"]] + [
        " ".join(compact(k) for k in keys) for keys in targets["keys"]
    ]
    code_vectorizer = _vectorizer().fit(codes)
    source_codes = code_vectorizer.transform(codes[: len(sources)])
    target_codes = code_vectorizer.transform(codes[len(sources) :])

    source_sites = np.array([site_of(space) for space in sources.space], dtype=object)
    target_sites = np.array([site_of(space) for space in targets.space], dtype=object)
    by_number: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_affix: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for position, (site, keys) in enumerate(zip(target_sites, targets["keys"], strict=True)):
        # Removing None leaves only the key numbers found, all strings.
        for key in cast(set[str], {key_number(k) for k in keys} - {None}):
            by_number[site, key].append(position)
        ends: set[tuple[str, ...]] = set()
        for key in keys:
            parts = tokens(key)
            for size in range(2, len(parts)):
                ends.update({tuple(parts[:size]), tuple(parts[-size:])})
        for end in ends:
            by_affix[site, end].append(position)
    pairs_left: list[int] = []
    pairs_right: list[int] = []
    for site in sorted(set(source_sites)):
        in_site = np.flatnonzero(target_sites == site)
        if not in_site.size:
            continue
        target_transposed = target_matrix[in_site].T.tocsc()
        site_sources = np.flatnonzero(source_sites == site)
        for chunk_start in range(0, site_sources.size, 256):
            # Chunks keep the similarity matrix small when both sides have thousands of records.
            chunk = site_sources[chunk_start : chunk_start + 256]
            similarity = (source_matrix[chunk] @ target_transposed).tocsr()
            for offset, position in enumerate(chunk.tolist()):
                start, stop = similarity.indptr[offset], similarity.indptr[offset + 1]
                data, indices = similarity.data[start:stop], similarity.indices[start:stop]
                chosen = set()
                if len(data):
                    order = np.argsort(-data)[:top_k]
                    chosen.update(in_site[indices[order]].tolist())
                number = key_number(sources.identifier.iloc[position])
                if number is not None and len(number) >= 3:
                    chosen.update(by_number.get((site, number), [])[:top_k])
                # Codes the source is the start or end of (L4 of 7300-HAM-L4), whatever their text.
                for key in sources["keys"].iloc[position]:
                    parts = tokens(key)
                    if _is_code(parts):
                        chosen.update(by_affix.get((site, tuple(parts)), [])[:top_k])
                pairs_left.extend([position] * len(chosen))
                pairs_right.extend(sorted(chosen))
    pairs = pd.DataFrame({"source": pairs_left, "target": pairs_right}, dtype="int64")
    # One order whatever the sites: by source, then target (a single site's is that already).
    pairs = pairs.sort_values(["source", "target"], kind="stable", ignore_index=True)
    matrices = {
        "source_text": source_matrix,
        "target_text": target_matrix,
        "source_code": source_codes,
        "target_code": target_codes,
    }
    return pairs, matrices


def _all_numbers(text: str, codes: list[str]) -> set[str]:
    """The numbers of a record's text and of its codes (a path code: of its own part only)."""
    return numbers(text).union(*[numbers(own_part(code)) for code in codes])


def abbreviates(short: str, long: str) -> bool:
    """Whether ``short`` is ``long`` written short: same first letter, letters in order.

    ``prs`` and ``pr`` abbreviate ``press``; ``lth`` abbreviates ``lathe``; ``lgr`` does not.
    """
    if len(short) < 2 or not long or short[0] != long[0] or len(short) > len(long):
        return False
    letters = iter(long)
    return all(letter in letters for letter in short)


#: ``code_equal`` of a code that is a whole-segment end of the candidate's code (``L4`` of
#: ``7300-HAM-L4``): evidence, weaker than the same code.
AFFIX = 0.5


def affixes(short: list[str], long: list[str]) -> bool:
    """Whether the tokens ``short`` are the start or the end of the longer code ``long``.

    A silo drops the prefix the other writes (``L4`` and the functional location
    ``7300-HAM-L4``; ``MX07`` and ``SITE2-MX07``): the shorter code must have a letter and a
    number, so that a bare ordinal (``4``) or a word never stands for a code.
    """
    if not _is_code(short) or len(short) >= len(long):
        return False
    return long[: len(short)] == short or long[-len(short) :] == short


def _is_code(parts: list[str]) -> bool:
    """Whether tokens make a code that may stand for a longer one: letters and a number."""
    digits = sum(part.isdigit() for part in parts)
    return len(parts) >= 2 and 0 < digits < len(parts)


def _words_agree(source: list[str], target: set[str]) -> bool:
    """Whether a word of the source names a word of the target, in full or abbreviated."""
    return any(
        abbreviates(word, other) or abbreviates(other, word) or word in other
        for word in source
        for other in target
    )


def _contradicts(key: str | None, known: set[str], candidate: set[str]) -> bool:
    """Whether the source's key number is another entity's key in this candidate's numbering.

    It is, when some entity is filed under it, the candidate's own codes do not carry it (line
    2 in ``7300-HAM-L2`` does), and the candidate's codes are numbered on the same scale: an
    ordinal ``03`` says nothing against the equipment ``000000000010004711``.
    """
    if key is None or key not in known or key in candidate:
        return False
    return _same_scale(key, candidate)


def _same_scale(key: str, candidate: set[str]) -> bool:
    """Whether one of the candidate's code numbers has about as many digits as ``key``."""
    return any(abs(len(number) - len(key)) <= 1 for number in candidate)


def _attribute_agreement(source: dict, target: dict) -> float:
    """Share of maker and model fields that agree, case, separators and padding aside.

    ``DMG MORI`` is ``DMG Mori`` and ``CTX-450`` is ``CTX 450``; 0.5 when nothing compares.
    """
    agree = compared = 0
    for field in ("manufacturer", "model_number"):
        left, right = source.get(field), target.get(field)
        if isinstance(left, str) and isinstance(right, str) and left and right:
            compared += 1
            agree += compact(left).replace(" ", "") == compact(right).replace(" ", "")
    return agree / compared if compared else 0.5


def pair_features(
    sources: pd.DataFrame,
    targets: pd.DataFrame,
    pairs: pd.DataFrame,
    matrices: dict[str, object],
    type_words: TypeWords | None = None,
) -> pd.DataFrame:
    """Compute :data:`FEATURES` for every blocked pair."""
    left = pairs.source.to_numpy()
    right = pairs.target.to_numpy()
    out = pairs.copy()
    out["text_cosine"] = _cosine_rows(left, right, matrices["source_text"], matrices["target_text"])
    out["code_cosine"] = _cosine_rows(left, right, matrices["source_code"], matrices["target_code"])
    source_keys = [key_number(i) for i in sources.identifier]
    # Every code of a source is evidence, not only the one it is filed under: an element of a
    # hierarchy that carries the ERP equipment number as an alias is that equipment.
    alias_keys = [
        {k for k in (key_number(key) for key in keys) if k is not None and len(k) >= 3}
        for keys in sources["keys"]
    ]
    target_keys = [
        {k for k in (key_number(key) for key in keys) if k is not None} for keys in targets["keys"]
    ]
    known_numbers: set[str] = set().union(*target_keys) if target_keys else set()
    key_owners = Counter(k for keys in target_keys for k in keys)
    target_numbers = [
        _all_numbers(t, keys) for t, keys in zip(targets.text, targets["keys"], strict=True)
    ]
    number_owners = Counter(n for found in target_numbers for n in found)
    code_numbers = [_all_numbers("", keys) for keys in targets["keys"]]
    # A record's own key number that no target carries is a local id: it says nothing.
    source_numbers = [
        _all_numbers(t, keys) - ({k} if k is not None and k not in number_owners else set())
        for t, k, keys in zip(sources.text, source_keys, sources["keys"], strict=True)
    ]
    # A bare short number (a storage bin "0013", a slot "7") is an ordinal, not an identity: on
    # its own it names nothing, however many machines carry the same ordinal.
    ordinal = np.zeros(len(sources), dtype=bool)
    for position, identifier in enumerate(sources.identifier):
        code = compact(identifier).replace(" ", "")
        key = source_keys[position]
        if code.isdigit() and len(code) < 3 and not words(str(sources.text.iloc[position])):
            source_keys[position] = None
            source_numbers[position] = set()
        elif key is not None and len(key) < 3 and words(identifier):
            ordinal[position] = True
    # A short key number written only in the record's own code (not again in its line or
    # description) is the record's ordinal in its own silo's numbering.
    own_ordinal = [
        key is not None
        and len(key) < 3
        and tokens(str(text)).count(key) <= tokens(own_part(identifier)).count(key)
        for key, text, identifier in zip(source_keys, sources.text, sources.identifier, strict=True)
    ]
    source_words = [words(identifier) for identifier in sources.identifier]
    target_words = [
        set(words(" ".join([str(t), *map(str, keys)])))
        for t, keys in zip(targets.text, targets["keys"], strict=True)
    ]
    # A number most records of a space carry (the plant in every functional location) says
    # nothing about which entity a record is.
    by_space: dict[str, list[int]] = defaultdict(list)
    for position, space in enumerate(sources.space):
        by_space[space].append(position)
    for positions in by_space.values():
        if len(positions) < 4:
            continue
        frequency = Counter(n for p in positions for n in source_numbers[p])
        common = {n for n, count in frequency.items() if count > len(positions) / 2}
        for p in positions:
            source_numbers[p] = source_numbers[p] - common
    source_rows = sources.to_dict("records")
    target_rows = targets.to_dict("records")
    source_codes = [{compact(k).replace(" ", "") for k in keys} for keys in sources["keys"]]
    target_codes = [{compact(k).replace(" ", "") for k in keys} for keys in targets["keys"]]
    source_segments = [[tokens(k) for k in keys] for keys in sources["keys"]]
    target_segments = [[tokens(k) for k in keys] for keys in targets["keys"]]
    key_match, jaccard, conflict, attributes, type_score, equal, hint = [], [], [], [], [], [], []
    for s, t in zip(left, right, strict=True):
        sn, tn = source_numbers[s], target_numbers[t]
        if ordinal[s] and not _words_agree(source_words[s], target_words[t]):
            # A short ordinal under a name of another kind ("LGR-0013", a storage bin, against
            # press 13): the shared number says nothing.
            sn = set()
        key = source_keys[s]
        if own_ordinal[s] and key in sn - tn and not _same_scale(str(key), code_numbers[t]):
            # The source's own ordinal in a numbering the candidate does not use (grinder 04
            # of the historian, equipment 10004711 of the ERP) is no conflict.
            sn = sn - {key}
        if source_codes[s] & target_codes[t]:
            equal.append(1.0)
        elif any(
            affixes(short, long) for short in source_segments[s] for long in target_segments[t]
        ):
            equal.append(AFFIX)
        else:
            equal.append(0.0)
        # 1: same key number; -1: the number is another entity's key; 0: nobody's key.
        if not sn and ordinal[s]:
            key_match.append(0.0)
        elif source_keys[s] is not None and source_keys[s] in target_keys[t]:
            # A number many entities share (a date code) says less than a unique one.
            key_match.append(1.0 / key_owners[source_keys[s]])
        elif alias_keys[s] & target_keys[t]:
            owners = min(key_owners[k] for k in alias_keys[s] & target_keys[t])
            key_match.append(1.0 / owners)
        elif any(len(n) >= 2 and number_owners[n] == 1 for n in sn & tn):
            # A number of the source that only this candidate carries (6204 in a bearing's name).
            key_match.append(1.0)
        elif _contradicts(source_keys[s], known_numbers, code_numbers[t]):
            key_match.append(-1.0)
        else:
            key_match.append(0.0)
        jaccard.append(len(sn & tn) / len(sn) if sn else 0.0)
        conflict.append(len(sn - tn) / len(sn) if sn else 0.0)
        attributes.append(_attribute_agreement(source_rows[s], target_rows[t]))
        label = target_rows[t].get("label") or ""
        # A reference made by a field named like the candidate's kind (work_order.line -> line).
        field = source_rows[s].get("field")
        hint.append(float(isinstance(field, str) and field.rsplit(".", 1)[-1] in words(label)))
        type_score.append(type_words.score(source_rows[s]["text"], label) if type_words else 0.5)
    out["code_equal"] = equal
    out["field_hint"] = hint
    out["key_number"] = key_match
    out["numbers_found"] = jaccard
    out["numbers_conflict"] = conflict
    out["attributes"] = attributes
    out["type_words"] = type_score
    # How far a candidate stands out from the source's other candidates.
    for feature, gap in (
        ("text_cosine", "text_gap"),
        ("numbers_found", "numbers_gap"),
        ("code_equal", "code_gap"),
    ):
        values = out[feature].to_numpy()
        best_other = np.zeros(len(out))
        for _, index in out.groupby("source").indices.items():
            group = values[index]
            if len(group) == 1:
                best_other[index] = 0.0
                continue
            order = np.argsort(-group)
            first, second = group[order[0]], group[order[1]]
            best_other[index] = np.where(group == first, second, first)
        out[gap] = values - best_other
    return out
