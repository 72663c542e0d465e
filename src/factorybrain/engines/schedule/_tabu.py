"""Tabu search on machine sequences for makespan (the N5 neighbourhood of Nowicki and Smutnicki).

Used on job shops (one machine per operation after assignment) without calendars or setups,
where CP-SAT alone struggles on large rectangular instances. A move swaps two adjacent operations
at the start or end of a critical block; moves are ranked with the head/tail estimate of
Taillard (1994) and the best non-tabu move is applied. Heads and tails are recomputed exactly after
each move; the best sequence found is returned with its semi-active start times.
"""

from __future__ import annotations

import time

import numpy as np


class TabuSearch:
    """State of the search; plain Python lists because each step touches single elements."""

    def __init__(
        self,
        duration: np.ndarray,
        job_predecessors: list[list[int]],
        job_successors: list[list[int]],
        release: np.ndarray,
        machine_of: np.ndarray,
        start: np.ndarray,
        seed: int = 0,
    ) -> None:
        self.n = len(duration)
        self.d = [int(x) for x in duration]
        self.jp = job_predecessors
        self.js = job_successors
        self.release = [int(x) for x in release]
        self.rng = np.random.default_rng(seed)
        n_machines = int(machine_of.max()) + 1 if self.n else 0
        self.sequences: list[list[int]] = [[] for _ in range(n_machines)]
        for k in np.lexsort((start, machine_of)):
            self.sequences[int(machine_of[k])].append(int(k))
        self.machine_of = [int(x) for x in machine_of]
        self._links()

    def _links(self) -> None:
        n = self.n
        self.mp = [-1] * n
        self.ms = [-1] * n
        for sequence in self.sequences:
            for a, b in zip(sequence, sequence[1:], strict=False):
                self.ms[a] = b
                self.mp[b] = a

    def evaluate(self) -> int:
        """Recompute heads ``r`` and tails ``q`` (longest paths); return the makespan."""
        n, d, jp, js, mp, ms = self.n, self.d, self.jp, self.js, self.mp, self.ms
        indegree = [len(jp[k]) + (mp[k] >= 0) for k in range(n)]
        r = list(self.release)
        order = [k for k in range(n) if indegree[k] == 0]
        head = 0
        while head < len(order):
            k = order[head]
            head += 1
            end = r[k] + d[k]
            successors = js[k] if ms[k] < 0 else [*js[k], ms[k]]
            for s in successors:
                if end > r[s]:
                    r[s] = end
                indegree[s] -= 1
                if indegree[s] == 0:
                    order.append(s)
        if len(order) < n:
            return -1
        q = [0] * n
        for k in reversed(order):
            best = 0
            for s in js[k]:
                value = q[s] + d[s]
                if value > best:
                    best = value
            s = ms[k]
            if s >= 0 and q[s] + d[s] > best:
                best = q[s] + d[s]
            q[k] = best
        self.r, self.q = r, q
        return max(r[k] + d[k] for k in range(n))

    def critical_blocks(self, makespan: int) -> list[list[int]]:
        """Blocks (runs of operations on one machine) of one critical path."""
        r, q, d = self.r, self.q, self.d
        ends = [k for k in range(self.n) if r[k] + d[k] == makespan and q[k] == 0]
        k = ends[int(self.rng.integers(len(ends)))]
        path = [k]
        while True:
            m = self.mp[k]
            if m >= 0 and r[m] + d[m] == r[k]:
                k = m
            else:
                found = -1
                for p in self.jp[k]:
                    if r[p] + d[p] == r[k]:
                        found = p
                        break
                if found < 0:
                    break
                k = found
            path.append(k)
        path.reverse()
        blocks: list[list[int]] = []
        for k in path:
            if blocks and self.mp[k] == blocks[-1][-1]:
                blocks[-1].append(k)
            else:
                blocks.append([k])
        return blocks

    def _estimate(self, u: int, v: int) -> int:
        """Makespan estimate after swapping adjacent ``u`` -> ``v`` on their machine."""
        r, q, d, jp, js = self.r, self.q, self.d, self.jp, self.js
        head_v = self.release[v]
        for p in jp[v]:
            head_v = max(head_v, r[p] + d[p])
        a = self.mp[u]
        if a >= 0:
            head_v = max(head_v, r[a] + d[a])
        head_u = self.release[u]
        for p in jp[u]:
            head_u = max(head_u, r[p] + d[p])
        head_u = max(head_u, head_v + d[v])
        tail_u = 0
        for s in js[u]:
            tail_u = max(tail_u, q[s] + d[s])
        b = self.ms[v]
        if b >= 0:
            tail_u = max(tail_u, q[b] + d[b])
        tail_v = 0
        for s in js[v]:
            tail_v = max(tail_v, q[s] + d[s])
        tail_v = max(tail_v, tail_u + d[u])
        return max(head_v + d[v] + tail_v, head_u + d[u] + tail_u)

    def _swap(self, u: int, v: int) -> None:
        sequence = self.sequences[self.machine_of[u]]
        i = sequence.index(u)
        sequence[i], sequence[i + 1] = v, u
        a, b = self.mp[u], self.ms[v]
        if a >= 0:
            self.ms[a] = v
        if b >= 0:
            self.mp[b] = u
        self.mp[v], self.ms[v] = a, u
        self.mp[u], self.ms[u] = v, b

    def run(self, deadline: float, target: int = 0) -> tuple[int, np.ndarray, int]:
        """Search until ``deadline`` or ``target``; return best makespan, its starts, steps."""
        current = self.evaluate()
        best = current
        best_start = np.asarray(self.r, dtype=np.int64)
        best_sequences = [list(s) for s in self.sequences]
        tabu: dict[tuple[int, int], int] = {}
        tenure = 8 + self.n // 100
        step = 0
        stall = 0
        while best > target and time.perf_counter() < deadline:
            step += 1
            moves = []
            blocks = self.critical_blocks(current)
            last = len(blocks) - 1
            for index, block in enumerate(blocks):
                if len(block) < 2:
                    continue
                if index > 0:
                    moves.append((block[0], block[1]))
                if index < last and (len(block) > 2 or index == 0):
                    moves.append((block[-2], block[-1]))
            moves = [(u, v) for u, v in moves if v not in self.js[u]]
            if not moves:
                break
            chosen = None
            chosen_value = None
            for u, v in moves:
                value = self._estimate(u, v)
                allowed = tabu.get((v, u), -1) < step or value < best
                if allowed and (chosen_value is None or value < chosen_value):
                    chosen, chosen_value = (u, v), value
            if chosen is None:
                chosen = moves[int(self.rng.integers(len(moves)))]
            u, v = chosen
            self._swap(u, v)
            tabu[(u, v)] = step + tenure + int(self.rng.integers(0, tenure))
            current = self.evaluate()
            if current < 0:
                self._swap(v, u)
                current = self.evaluate()
                continue
            if current < best:
                best = current
                best_start = np.asarray(self.r, dtype=np.int64)
                best_sequences = [list(s) for s in self.sequences]
                stall = 0
            else:
                stall += 1
            if stall > 2500:
                self.sequences = [list(s) for s in best_sequences]
                self._links()
                current = self.evaluate()
                for _ in range(3):
                    blocks = [b for b in self.critical_blocks(current) if len(b) > 1]
                    if not blocks:
                        break
                    block = blocks[int(self.rng.integers(len(blocks)))]
                    i = int(self.rng.integers(len(block) - 1))
                    u, v = block[i], block[i + 1]
                    if v in self.js[u]:
                        continue
                    self._swap(u, v)
                    current = self.evaluate()
                    if current < 0:
                        self._swap(v, u)
                        current = self.evaluate()
                tabu.clear()
                stall = 0
        return best, best_start, step
