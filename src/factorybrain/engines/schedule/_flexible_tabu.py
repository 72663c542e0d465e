"""Tabu search for the flexible job shop (makespan): move a critical operation anywhere.

A move takes one operation on a critical path out of its machine sequence and inserts it at any
position of the sequence of any machine eligible for it (its own included), in the spirit of
Mastrolilli and Gambardella (2000). Each candidate is rated exactly enough to rank moves: with
heads ``r`` and tails ``q`` recomputed on the graph without the operation (``G-``), inserting it
between ``u`` and ``w`` gives a makespan of at most ``max(Cmax(G-), max(r_JP, r_u + p_u) + p +
max(q_JS, p_w + q_w))``. Insertions that would close a cycle (``u`` after the operation's job
successor, or ``w`` before its job predecessor, in ``G-``) are skipped, so every schedule visited is
feasible. Moved operations are tabu for a random tenure; after a long stall the search returns to
the best schedule and perturbs it.

The inner loops are compiled with numba (cached on disk) because each step rates thousands of
insertions; the Python class keeps the state between chunks of steps so that the caller's wall
clock is checked between chunks.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

CHUNK_SECONDS = 0.05
STALL_STEPS = 3000


_ARRAY = "int64[::1]"
# Explicit signatures compile (or load from the disk cache) at import, so the first solve does
# not spend its time limit compiling.
_HEADS_TAILS_SIGNATURE = f"int64({', '.join([_ARRAY] * 12)})"
_SEARCH_SIGNATURE = f"void(int64, int64, int64, int64, {', '.join([_ARRAY] * 25)})"


@njit(_HEADS_TAILS_SIGNATURE, cache=True)
def _heads_tails(
    dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
):  # pragma: no cover - compiled
    """Topological order, heads and tails of the current graph; the makespan, -1 on a cycle."""
    n = len(dur)
    indegree = np.empty(n, np.int64)
    filled = 0
    for k in range(n):
        indegree[k] = jp_off[k + 1] - jp_off[k] + (1 if mp[k] >= 0 else 0)
        r[k] = release[k]
        if indegree[k] == 0:
            order[filled] = k
            filled += 1
    head = 0
    while head < filled:
        k = order[head]
        head += 1
        end = r[k] + dur[k]
        for i in range(js_off[k], js_off[k + 1]):
            s = js_idx[i]
            if end > r[s]:
                r[s] = end
            indegree[s] -= 1
            if indegree[s] == 0:
                order[filled] = s
                filled += 1
        s = ms[k]
        if s >= 0:
            if end > r[s]:
                r[s] = end
            indegree[s] -= 1
            if indegree[s] == 0:
                order[filled] = s
                filled += 1
    if filled < n:
        return -1
    makespan = 0
    for index in range(n - 1, -1, -1):
        k = order[index]
        position[k] = index
        best = 0
        for i in range(js_off[k], js_off[k + 1]):
            s = js_idx[i]
            if q[s] + dur[s] > best:
                best = q[s] + dur[s]
        s = ms[k]
        if s >= 0 and q[s] + dur[s] > best:
            best = q[s] + dur[s]
        q[k] = best
        if r[k] + dur[k] + best > makespan:
            makespan = r[k] + dur[k] + best
    return makespan


@njit(cache=True)
def _unlink(v, mp, ms, first, machine_of):  # pragma: no cover - compiled
    a, b = mp[v], ms[v]
    if a >= 0:
        ms[a] = b
    else:
        first[machine_of[v]] = b
    if b >= 0:
        mp[b] = a
    mp[v] = -1
    ms[v] = -1


@njit(cache=True)
def _link(v, m, prev, nxt, mp, ms, first, machine_of):  # pragma: no cover - compiled
    machine_of[v] = m
    mp[v] = prev
    ms[v] = nxt
    if prev >= 0:
        ms[prev] = v
    else:
        first[m] = v
    if nxt >= 0:
        mp[nxt] = v


@njit(cache=True)
def _perturb(
    current,
    alt_off,
    alt_machine,
    alt_dur,
    release,
    jp_off,
    jp_idx,
    js_off,
    js_idx,
    assign,
    machine_of,
    dur,
    mp,
    ms,
    first,
    order,
    position,
    r,
    q,
):  # pragma: no cover - compiled
    """A few random moves of critical operations (undone when they close a cycle)."""
    n = len(dur)
    for _ in range(3):
        critical = np.empty(n, np.int64)
        count = 0
        for k in range(n):
            if r[k] + dur[k] + q[k] == current:
                critical[count] = k
                count += 1
        v = critical[np.random.randint(count)]
        a = alt_off[v] + np.random.randint(alt_off[v + 1] - alt_off[v])
        m = alt_machine[a]
        old_machine, old_prev, old_next, old_alt = machine_of[v], mp[v], ms[v], assign[v]
        _unlink(v, mp, ms, first, machine_of)
        length = 0
        w = first[m]
        while w >= 0:
            length += 1
            w = ms[w]
        slot = np.random.randint(length + 1)
        prev = -1
        w = first[m]
        for _ in range(slot):
            prev = w
            w = ms[w]
        _link(v, m, prev, w, mp, ms, first, machine_of)
        assign[v] = a
        dur[v] = alt_dur[a]
        value = _heads_tails(
            dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
        )
        if value < 0:
            _unlink(v, mp, ms, first, machine_of)
            _link(v, old_machine, old_prev, old_next, mp, ms, first, machine_of)
            assign[v] = old_alt
            dur[v] = alt_dur[old_alt]
            value = _heads_tails(
                dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
            )
        current = value
    return current


@njit(_SEARCH_SIGNATURE, cache=True)
def _search(
    steps,
    target,
    tenure_low,
    tenure_high,
    alt_off,
    alt_machine,
    alt_dur,
    release,
    jp_off,
    jp_idx,
    js_off,
    js_idx,
    state,
    assign,
    machine_of,
    dur,
    mp,
    ms,
    first,
    tabu,
    order,
    position,
    r,
    q,
    best_assign,
    best_start,
    best_mp,
    best_ms,
    best_first,
):  # pragma: no cover - compiled
    """Run ``steps`` tabu steps; ``state`` = [step, current, best, stall, seed flag]."""
    n = len(dur)
    if state[4] >= 0:
        np.random.seed(state[4])
        state[4] = -1
    rm = np.empty(n, np.int64)
    qm = np.empty(n, np.int64)
    descendant = np.full(n, -1, np.int64)
    ancestor = np.full(n, -1, np.int64)
    step = state[0]
    current = state[1]
    best = state[2]
    stall = state[3]
    for _ in range(steps):
        if best <= target:
            break
        step += 1
        chosen_v = -1
        chosen_alt = -1
        chosen_prev = -1
        chosen_next = -1
        chosen_value = np.int64(1) << 60
        ties = 0
        for v in range(n):
            if r[v] + dur[v] + q[v] != current:
                continue
            is_tabu = tabu[v] >= step
            pos_v = position[v]
            # Heads of G- (v removed, its machine neighbours linked); earlier ones are unchanged.
            for index in range(pos_v):
                rm[order[index]] = r[order[index]]
            for index in range(pos_v + 1, n):
                k = order[index]
                h = release[k]
                is_desc = False
                for i in range(jp_off[k], jp_off[k + 1]):
                    p = jp_idx[i]
                    if p == v:
                        is_desc = True
                        continue
                    if rm[p] + dur[p] > h:
                        h = rm[p] + dur[p]
                    if descendant[p] == step * n + v:
                        is_desc = True
                p = mp[k]
                if p == v:
                    p = mp[v]
                if p >= 0:
                    if rm[p] + dur[p] > h:
                        h = rm[p] + dur[p]
                    if descendant[p] == step * n + v:
                        is_desc = True
                rm[k] = h
                if is_desc:
                    descendant[k] = step * n + v
            for index in range(pos_v + 1, n):
                qm[order[index]] = q[order[index]]
            for index in range(pos_v - 1, -1, -1):
                k = order[index]
                t = 0
                is_anc = False
                for i in range(js_off[k], js_off[k + 1]):
                    s = js_idx[i]
                    if s == v:
                        is_anc = True
                        continue
                    if qm[s] + dur[s] > t:
                        t = qm[s] + dur[s]
                    if ancestor[s] == step * n + v:
                        is_anc = True
                s = ms[k]
                if s == v:
                    s = ms[v]
                if s >= 0:
                    if qm[s] + dur[s] > t:
                        t = qm[s] + dur[s]
                    if ancestor[s] == step * n + v:
                        is_anc = True
                qm[k] = t
                if is_anc:
                    ancestor[k] = step * n + v
            reduced = 0
            for k in range(n):
                if k != v and rm[k] + dur[k] + qm[k] > reduced:
                    reduced = rm[k] + dur[k] + qm[k]
            head_v = release[v]
            for i in range(jp_off[v], jp_off[v + 1]):
                p = jp_idx[i]
                if rm[p] + dur[p] > head_v:
                    head_v = rm[p] + dur[p]
            tail_v = 0
            for i in range(js_off[v], js_off[v + 1]):
                s = js_idx[i]
                if qm[s] + dur[s] > tail_v:
                    tail_v = qm[s] + dur[s]
            for a in range(alt_off[v], alt_off[v + 1]):
                m = alt_machine[a]
                p_v = alt_dur[a]
                prev = -1
                w = first[m]
                if w == v:
                    w = ms[v]
                while True:
                    if prev >= 0 and descendant[prev] == step * n + v:
                        break
                    if not (w >= 0 and ancestor[w] == step * n + v) and not (
                        m == machine_of[v] and prev == mp[v] and w == ms[v]
                    ):
                        h = head_v
                        if prev >= 0 and rm[prev] + dur[prev] > h:
                            h = rm[prev] + dur[prev]
                        t = tail_v
                        if w >= 0 and qm[w] + dur[w] > t:
                            t = qm[w] + dur[w]
                        value = max(h + p_v + t, reduced)
                        if not is_tabu or value < best:
                            if value < chosen_value:
                                chosen_value = value
                                ties = 1
                                chosen_v, chosen_alt, chosen_prev, chosen_next = v, a, prev, w
                            elif value == chosen_value:
                                ties += 1
                                if np.random.randint(ties) == 0:
                                    chosen_v, chosen_alt, chosen_prev, chosen_next = v, a, prev, w
                    if w < 0:
                        break
                    prev = w
                    w = ms[w]
                    if w == v:
                        w = ms[v]
        if chosen_v < 0:
            # Everything is tabu: release the oldest tabu and try again next step.
            tabu[:] = 0
            continue
        v = chosen_v
        old_machine, old_prev, old_next, old_alt = machine_of[v], mp[v], ms[v], assign[v]
        _unlink(v, mp, ms, first, machine_of)
        _link(v, alt_machine[chosen_alt], chosen_prev, chosen_next, mp, ms, first, machine_of)
        assign[v] = chosen_alt
        dur[v] = alt_dur[chosen_alt]
        value = _heads_tails(
            dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
        )
        if value < 0:
            _unlink(v, mp, ms, first, machine_of)
            _link(v, old_machine, old_prev, old_next, mp, ms, first, machine_of)
            assign[v] = old_alt
            dur[v] = alt_dur[old_alt]
            value = _heads_tails(
                dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
            )
            tabu[v] = step + tenure_high
            current = value
            continue
        tabu[v] = step + tenure_low + np.random.randint(tenure_high - tenure_low + 1)
        current = value
        if current < best:
            best = current
            stall = 0
            best_assign[:] = assign
            best_start[:] = r
            best_mp[:] = mp
            best_ms[:] = ms
            best_first[:] = first
        else:
            stall += 1
        if stall > STALL_STEPS:
            assign[:] = best_assign
            mp[:] = best_mp
            ms[:] = best_ms
            first[:] = best_first
            for k in range(n):
                dur[k] = alt_dur[assign[k]]
                machine_of[k] = alt_machine[assign[k]]
            current = _heads_tails(
                dur, release, jp_off, jp_idx, js_off, js_idx, mp, ms, order, position, r, q
            )
            tabu[:] = 0
            stall = 0
            current = _perturb(
                current,
                alt_off,
                alt_machine,
                alt_dur,
                release,
                jp_off,
                jp_idx,
                js_off,
                js_idx,
                assign,
                machine_of,
                dur,
                mp,
                ms,
                first,
                order,
                position,
                r,
                q,
            )
    state[0] = step
    state[1] = current
    state[2] = best
    state[3] = stall


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offset = np.zeros(len(lists) + 1, dtype=np.int64)
    offset[1:] = np.cumsum([len(items) for items in lists])
    index = np.fromiter((i for items in lists for i in items), dtype=np.int64, count=offset[-1])
    return offset, index


class FlexibleTabuSearch:
    """Tabu search over machine assignments and sequences, from a feasible schedule.

    Args:
        alt_offset: Alternatives of operation ``k`` are ``alt_offset[k]:alt_offset[k + 1]``.
        alt_machine: Machine of each alternative.
        alt_duration: Duration of each alternative.
        predecessors: Job predecessors of each operation.
        successors: Job successors of each operation.
        release: Earliest start of each operation (its job's release date).
        alternative: Chosen alternative of each operation in the starting schedule.
        start: Start times of the starting schedule (they give the machine sequences).
        seed: Seed of the random tie-breaking and tenures.
    """

    def __init__(
        self,
        alt_offset: np.ndarray,
        alt_machine: np.ndarray,
        alt_duration: np.ndarray,
        predecessors: list[list[int]],
        successors: list[list[int]],
        release: np.ndarray,
        alternative: np.ndarray,
        start: np.ndarray,
        seed: int = 0,
    ) -> None:
        n = len(alternative)
        n_machines = int(alt_machine.max()) + 1
        self.alt_offset = np.ascontiguousarray(alt_offset, dtype=np.int64)
        self.alt_machine = np.ascontiguousarray(alt_machine, dtype=np.int64)
        self.alt_duration = np.ascontiguousarray(alt_duration, dtype=np.int64)
        self.release = np.ascontiguousarray(release, dtype=np.int64)
        self.jp_off, self.jp_idx = _csr(predecessors)
        self.js_off, self.js_idx = _csr(successors)
        self.assign = np.ascontiguousarray(alternative, dtype=np.int64).copy()
        self.machine_of = self.alt_machine[self.assign].copy()
        self.dur = self.alt_duration[self.assign].copy()
        self.mp = np.full(n, -1, dtype=np.int64)
        self.ms = np.full(n, -1, dtype=np.int64)
        self.first = np.full(n_machines, -1, dtype=np.int64)
        for m in range(n_machines):
            on_machine = np.flatnonzero(self.machine_of == m)
            sequence = on_machine[np.argsort(start[on_machine], kind="stable")]
            if len(sequence):
                self.first[m] = sequence[0]
                self.ms[sequence[:-1]] = sequence[1:]
                self.mp[sequence[1:]] = sequence[:-1]
        self.tabu = np.zeros(n, dtype=np.int64)
        self.order = np.zeros(n, dtype=np.int64)
        self.position = np.zeros(n, dtype=np.int64)
        self.r = np.zeros(n, dtype=np.int64)
        self.q = np.zeros(n, dtype=np.int64)
        makespan = _heads_tails(
            self.dur,
            self.release,
            self.jp_off,
            self.jp_idx,
            self.js_off,
            self.js_idx,
            self.mp,
            self.ms,
            self.order,
            self.position,
            self.r,
            self.q,
        )
        if makespan < 0:
            raise ValueError("The starting schedule's machine sequences contain a cycle.")
        self.best_assign = self.assign.copy()
        self.best_start = self.r.copy()
        self.best_mp, self.best_ms = self.mp.copy(), self.ms.copy()
        self.best_first = self.first.copy()
        self.state = np.array([0, makespan, makespan, 0, seed % (1 << 31)], dtype=np.int64)
        average = max(1.0, n / n_machines)
        # Moved operations stay put for a random number of steps that grows with the number of
        # operations per machine (the length of the sequences a move can reach).
        self.tenure_low = int(4 + average / 2)
        self.tenure_high = int(16 + 3 * average)

    @property
    def best_makespan(self) -> int:
        """Makespan of the best schedule found."""
        return int(self.state[2])

    @property
    def steps(self) -> int:
        """Number of tabu steps made."""
        return int(self.state[0])

    def run(
        self, deadline: float, target: int = 0, max_steps: int | None = None
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """Search until ``deadline`` (``time.perf_counter()``), ``target`` or ``max_steps``.

        ``max_steps`` counts the steps of every call so far (reproducible runs for tests).

        Returns:
            The best makespan, its chosen alternative per operation and its start times.
        """
        limit = max_steps if max_steps is not None else np.iinfo(np.int64).max
        chunk = 1
        while self.best_makespan > target and time.perf_counter() < deadline and self.steps < limit:
            # Chunks of about CHUNK_SECONDS, so that a large instance cannot overrun the deadline.
            before = time.perf_counter()
            self._steps(min(chunk, limit - self.steps), target)
            took = time.perf_counter() - before
            chunk = max(1, min(4 * chunk, int(chunk * CHUNK_SECONDS / max(took, 1e-6))))
        return self.best_makespan, self.best_assign.copy(), self.best_start.copy()

    def _steps(self, steps: int, target: int) -> None:
        _search(
            steps,
            target,
            self.tenure_low,
            self.tenure_high,
            self.alt_offset,
            self.alt_machine,
            self.alt_duration,
            self.release,
            self.jp_off,
            self.jp_idx,
            self.js_off,
            self.js_idx,
            self.state,
            self.assign,
            self.machine_of,
            self.dur,
            self.mp,
            self.ms,
            self.first,
            self.tabu,
            self.order,
            self.position,
            self.r,
            self.q,
            self.best_assign,
            self.best_start,
            self.best_mp,
            self.best_ms,
            self.best_first,
        )
