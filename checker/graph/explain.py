"""How graph findings explain themselves: locations in the user's spec, the
dependency chain as text, and lockdep's "Possible unsafe locking scenario"."""
from __future__ import annotations

from checker.findings import Link
from model import ir
from model.lockgraph import Dependency
from model.span import Span, display_name
from model.span import is_prelude as is_prelude_file


def is_prelude(span: Span) -> bool:
    return is_prelude_file(span.file)


def user_span(site: ir.Site) -> Span:
    """Where the user sees an op: the innermost frame outside the kernel prelude
    (a `spin_lock(A)` line rather than the `acquire` inside the prelude's verb)."""
    frames = site.frames()
    for span in reversed(frames):
        if not is_prelude(span):
            return span
    return frames[0]


def where(site: ir.Site) -> str:
    span = user_span(site)
    return f"{display_name(span.file)}:{span.line}"


def span_key(span: Span) -> tuple:
    return (span.file, span.line, span.col, span.end_line, span.end_col)


def holding(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "nothing"


def dependency_link(dep: Dependency) -> Link:
    """One edge of a chain: which path created it, where, holding what."""
    text = (f"{dep.prev} -> {dep.next} [{dep.type}]: {dep.code} takes `{dep.next_lock}` "
            f"holding {holding(dep.held)} (`{dep.prev_lock}` taken at {where(dep.prev_site)})")
    return Link(text, user_span(dep.site))


def lock_verb(read: int) -> str:
    return "rlock" if read else "lock"


def circular_scenario(chain: list[Dependency]) -> tuple[tuple[int, str], ...]:
    """print_circular_lock_scenario(): the last edge prev -> next closes the cycle."""
    closing = chain[-1]
    parent = chain[-2].prev if len(chain) > 1 else closing.next
    return circular_rows(closing.prev, parent, closing.next,
                         closing.prev_read, closing.next_read)


def circular_rows(target: str, parent: str, source: str, target_read: int = 0,
                  source_read: int = 0) -> tuple[tuple[int, str], ...]:
    """lockdep's two-CPU table for a cycle closed by target -> source: CPU0 holds
    target and wants source; CPU1 holds parent (the class before target on the
    cycle) and wants target."""
    return ((0, f"{lock_verb(target_read)}({target});"),
            (1, f"lock({parent});"),
            (1, f"lock({target});"),
            (0, f"{lock_verb(source_read)}({source});"))


def chain_exists(chain: list[Dependency]) -> str:
    """lockdep's "Chain exists of:" line, for cycles through more than two classes."""
    closing = chain[-1]
    if len(chain) <= 2:
        return ""
    return f"chain exists of {closing.next} --> {chain[-2].prev} --> {closing.prev}"


def irq_scenario(safe: str, middle: str, unsafe: str) -> tuple[tuple[int, str], ...]:
    """print_irq_lock_scenario(), as lockdep prints it (also for softirqs): `middle`
    is the class the safe lock is held over (the unsafe one for a direct edge)."""
    return ((0, f"lock({unsafe});"),
            (1, "local_irq_disable();"),
            (1, f"lock({safe});"),
            (1, f"lock({middle});"),
            (0, "<Interrupt>"),
            (0, f"  lock({safe});"))


def usage_scenario(lock_class: str) -> tuple[tuple[int, str], ...]:
    """print_usage_bug_scenario(): one CPU, interrupted while holding the lock."""
    return ((0, f"lock({lock_class});"), (0, "<Interrupt>"), (0, f"  lock({lock_class});"))


def recursion_scenario(prev_class: str, next_class: str) -> tuple[tuple[int, str], ...]:
    """print_deadlock_scenario()."""
    return ((0, f"lock({prev_class});"), (0, f"lock({next_class});"))
