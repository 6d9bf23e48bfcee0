"""Who a grace period waits for: the read sections of an RCU or SRCU domain.

A thread is in a read section of an SRCU domain while it holds that domain's
lock (srcu_read_lock). Since the RCU flavours were consolidated (v4.20),
synchronize_rcu() waits for every rcu_read_lock(), rcu_read_lock_bh() and
rcu_read_lock_sched() section and for every region that cannot be preempted:
interrupt handlers, code with hardirqs, bh or preemption disabled, and code
holding a spinning lock. The engines and the Promela export ask this module,
so they agree on it.
"""
from __future__ import annotations

from model import ir, walk

# Holding one of these makes a thread an RCU reader (spinning locks disable
# preemption in a kernel without PREEMPT_RT).
RCU_READ_SIDE_KINDS = frozenset({"rcu", "rcu_sched"}) | ir.SPINNING_KINDS

GRACE_DOMAIN_KINDS = frozenset({"rcu", "rcu_sched", "srcu"})


def in_read_section(program: ir.Program, domain: str, local: walk.ThreadState,
                    context: ir.Context) -> bool:
    """Whether a thread in this local state is a reader that a grace period of
    `domain` waits for."""
    if program.locks[domain].kind == "srcu":
        return any(h.lock == domain for h in local.held)
    if context.is_interrupt or local.hardirqs_off or local.softirq_off or local.preempt_off:
        return True
    return any(program.locks[h.lock].kind in RCU_READ_SIDE_KINDS for h in local.held)


# lockdep's maps of a work item and of the workqueue, as lockdep names them.
WORKQUEUE_MAP = "(wq_completion)events"


def work_map(work: str) -> str:
    return f"(work_completion)({work})"


def is_flush_map(lock: str) -> bool:
    return lock == WORKQUEUE_MAP or lock.startswith("(work_completion)(")


def grace_domains(program: ir.Program) -> frozenset[str]:
    """The domains some code of the program waits a grace period of."""
    domains = set()
    for code in program.codes.values():
        for op in code.ops:
            if isinstance(op, ir.Grace) and op.what == "readers":
                domains.add(op.target)
            elif isinstance(op, ir.Spawn) and op.after_grace is not None:
                domains.add(op.after_grace)
    return frozenset(domains)


def cancelled_codes(program: ir.Program) -> frozenset[str]:
    """Codes whose queued instances a cancel may take off the queue."""
    return frozenset(op.target for code in program.codes.values() for op in code.ops
                     if isinstance(op, ir.Grace) and op.what == "cancel"
                     and op.target in program.codes)


def flushed_codes(program: ir.Program) -> frozenset[str]:
    """Codes whose instances some flush waits for (every workqueue item, once a
    workqueue is flushed). Work nothing queues has no code and no instance."""
    waits = [op for code in program.codes.values() for op in code.ops
             if isinstance(op, ir.Grace) and op.what != "readers"]
    if any(op.what == "workqueue" for op in waits):
        return frozenset(cid for cid, code in program.codes.items()
                         if code.context is ir.Context.WORKQUEUE)
    return frozenset(op.target for op in waits if op.target in program.codes)


def stopped_kthread(op: ir.Grace) -> str | None:
    """The kthread function whose exit this wait is (kthread_stop()), or None."""
    fn, _, context = op.target.rpartition("@")
    return fn if op.what == "work" and context == ir.Context.PROCESS.value else None


def waits_for_instance(what: str, target: str, code: ir.Code) -> bool:
    """A flush (`ir.Grace.what`, `.target`) waits for instances of this code."""
    if what in ("work", "cancel"):
        return code.id == target
    return what == "workqueue" and code.context is ir.Context.WORKQUEUE
