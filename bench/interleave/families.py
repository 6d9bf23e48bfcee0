"""The benchmark families of the interleaving engine, as spec text.

(a) ring deadlock: N threads, each takes K private filler locks (lock, unlock)
    and then two ring locks, R[i] then R[(i+1) % N]: a deadlock needs every
    thread to hold its first ring lock.
(b) the same with a consistent order (the last thread takes R[0] first):
    deadlock-free, so a verdict needs the whole space.
(c) a revoke race: one revoker and N faulting clients of one revocable
    buffer (DESIGN.md's first example); buggy when the client checks
    `revoked` before taking the lock, fixed when it checks under it.
"""
from __future__ import annotations

from dataclasses import dataclass

FILLERS = 3          # K


@dataclass(frozen=True)
class Case:
    family: str
    n: int
    name: str
    text: str
    expected: str    # the verdict: a finding code or "pass"


def ring(n: int, fillers: int = FILLERS, ordered: bool = False) -> Case:
    lines = ['spec "ring of %d threads, %d filler locks each%s"' % (
        n, fillers, ", consistent order" if ordered else ""), "import kernel"]
    lines.append("lock " + ", ".join(f"R{i}" for i in range(n)) + " : mutex")
    lines.append("lock " + ", ".join(f"F{i}_{j}" for i in range(n) for j in range(fillers))
                 + " : mutex")
    for i in range(n):
        first, second = i, (i + 1) % n
        if ordered and second < first:
            first, second = second, first
        body = [f"mutex_lock(F{i}_{j}); mutex_unlock(F{i}_{j});" for j in range(fillers)]
        body += [f"mutex_lock(R{first});", f"mutex_lock(R{second});",
                 f"mutex_unlock(R{second});", f"mutex_unlock(R{first});"]
        lines.append(f"path t{i} in process {{ " + " ".join(body) + " }")
    lines.append("scenario s = " + " || ".join(f"t{i}()" for i in range(n)))
    expected = "pass" if ordered else "deadlock"
    lines.append(f"expect s: {expected}")
    family = "b" if ordered else "a"
    return Case(family, n, f"{family}_ring{'_ordered' if ordered else ''}_{n}",
                "\n".join(lines) + "\n", expected)


REVOKE = """spec "revoke race: one revoker, %(n)d faulting clients (%(variant)s)"
import kernel
lock memory_lock : rwsem
lock resv        : ww_mutex class reservation_ww_class_mutex
object buf       : revocable
fn zap(b) { i_mmap_lock_write(); unmap(b); i_mmap_unlock_write(); }
path fault(b) in process {
%(fault)s
}
path revoke_ioctl(b) in process {
    down_write(memory_lock);
    dma_resv_lock(resv, NULL);
    revoke(b);
    zap(b);
    dma_resv_unlock(resv);
    up_write(memory_lock);
    assert !mapped(b);
}
scenario race = revoke_ioctl(buf) || %(n)d * fault(buf)
expect race: %(expected)s
"""

FAULT_FIXED = """    mmap_read_lock();
    down_read(memory_lock);
    if revoked(b) { up_read(memory_lock); mmap_read_unlock(); return; }
    map(b);
    up_read(memory_lock);
    mmap_read_unlock();"""

FAULT_BUGGY = """    if revoked(b) { return; }
    mmap_read_lock();
    down_read(memory_lock);
    map(b);
    up_read(memory_lock);
    mmap_read_unlock();"""


def revoke_race(n: int, buggy: bool) -> Case:
    expected = "use-after-revoke" if buggy else "pass"
    variant = "buggy" if buggy else "fixed"
    text = REVOKE % {"n": n, "variant": variant, "expected": expected,
                     "fault": FAULT_BUGGY if buggy else FAULT_FIXED}
    return Case("c", n, f"c_revoke_{variant}_{n}", text, expected)


def all_cases(max_ring: int = 16, max_ordered: int = 8, max_clients: int = 4) -> list[Case]:
    cases = [ring(n) for n in range(2, max_ring + 1)]
    cases += [ring(n, ordered=True) for n in range(2, max_ordered + 1)]
    for n in range(1, max_clients + 1):
        cases += [revoke_race(n, buggy=True), revoke_race(n, buggy=False)]
    return cases
