"""A witness interleaving as an SVG swimlane: a column per thread, grouped by CPU.

Rows are the steps in execution order; each step sits in its thread's column
and links to its line in the spec source beside it (`href="#L12"`). Bars at
the right of a column show which locks the thread holds from which step to
which; a lightning marker shows an interrupt taking the CPU, a diamond a
revoke, and at a deadlock a red arrow runs from each blocked thread to the
thread that holds the lock it waits for. Text is escaped; the layout is pure
arithmetic on the witness, so the same witness gives the same bytes.
"""
from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from checker.findings import Finding
from checker.interleave.witness_model import Hold, WitnessModel, analyse

CHAR_WIDTH = 7.3
ROW = 26
GUTTER = 34
CPU_BAND = 20
THREAD_BAND = 22
BAR_WIDTH = 5
BAR_GAP = 3
MIN_COLUMN, MAX_COLUMN = 170, 300
PALETTE = ("#1e88e5", "#8e24aa", "#00897b", "#f4511e", "#6d4c41", "#3949ab", "#c0ca33",
           "#d81b60")
BLOCK_STAGGER = 9
RED = "#c62828"
AMBER = "#ef6c00"


def _columns(model: WitnessModel, finding: Finding) -> list[tuple[str, int | None]]:
    """Threads grouped by CPU (CPU order, then first appearance)."""
    first = {name: i for i, (name, _) in enumerate(model.threads)}
    return sorted(model.threads, key=lambda t: (t[1] is None, t[1] or 0, first[t[0]]))


def _bar_slots(holds: list[Hold]) -> dict[Hold, int]:
    """Stack a thread's overlapping holds side by side."""
    slots: dict[Hold, int] = {}
    for hold in holds:
        busy = {slots[h] for h in slots if h.thread == hold.thread
                and not (h.end < hold.start or hold.end < h.start)}
        slots[hold] = min(set(range(len(busy) + 1)) - busy)
    return slots


def render_swimlane(finding: Finding, link: Callable, ident: str) -> Markup:
    """`link(span)` gives the anchor of a span in the source pane, or None."""
    model = analyse(finding)
    columns = _columns(model, finding)
    slots = _bar_slots(model.holds)
    depth = {name: 1 + max([s for h, s in slots.items() if h.thread == name], default=-1)
             for name, _ in columns}
    widths = {}
    for name, _ in columns:
        longest = max([len(s.action) for s in finding.witness if s.thread == name] + [len(name)])
        text_width = int(longest * CHAR_WIDTH) + 20
        widths[name] = max(MIN_COLUMN, min(MAX_COLUMN, text_width)) + depth[name] * (
            BAR_WIDTH + BAR_GAP)
    x_of, x = {}, GUTTER
    for name, _ in columns:
        x_of[name] = x
        x += widths[name]
    final_blocks = [b for b in model.blocks if b.at_end]
    stuck_row = bool(final_blocks or model.preempted)
    top = CPU_BAND + THREAD_BAND
    blocked_height = ROW + BLOCK_STAGGER * len(final_blocks) if stuck_row else 0
    bottom = top + len(finding.witness) * ROW + blocked_height
    width, height = x + 8, bottom + 30
    geometry = (x_of, widths, top)
    if stuck_row:      # a lock still held at the deadlock is held through the blocked row
        model.holds = [h if h.released else Hold(h.thread, h.lock, h.start, h.end + 1, h.shared,
                                                  False) for h in model.holds]
        slots = {(h.thread, h.lock, h.start): s for h, s in slots.items()}
        slots = {h: slots[(h.thread, h.lock, h.start)] for h in model.holds}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="swimlane" id="{ident}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="witness interleaving">', _defs(ident)]
    out += _headers(columns, geometry, height)
    boxes = {name: widths[name] - 6 - depth[name] * (BAR_WIDTH + BAR_GAP) for name in widths}
    out += _steps(finding, model, geometry, boxes, link)
    out += _bars(model, slots, geometry)
    out += _markers(finding, model, geometry, columns)
    out += _blocks(finding, model, geometry, slots, final_blocks, ident)
    out += _preempted(finding, model, geometry)
    out.append(_legend(model, bottom + 18))
    out.append("</svg>")
    return Markup("\n".join(out))


def _defs(ident: str) -> str:
    return (f'<defs><marker id="{ident}-block" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{RED}"/></marker></defs>')


def _headers(columns, geometry, height: int) -> list[str]:
    x_of, widths, top = geometry
    out = []
    cpus: dict[int | None, list[str]] = {}
    for name, cpu in columns:
        cpus.setdefault(cpu, []).append(name)
    for cpu, names in cpus.items():
        left = x_of[names[0]]
        span = sum(widths[n] for n in names)
        label = f"CPU{cpu}" if cpu is not None else "CPU ?"
        out.append(f'<g class="cpu"><rect x="{left}" y="0" width="{span - 2}" '
                   f'height="{CPU_BAND - 2}" fill="#37474f"/>'
                   f'<text x="{left + span // 2}" y="14" text-anchor="middle" '
                   f'font-family="sans-serif" font-size="12" fill="#fff">{label}</text></g>')
    for name, _ in columns:
        left = x_of[name]
        out.append(f'<g class="thread" data-thread="{escape(name)}"><rect x="{left}" '
                   f'y="{CPU_BAND}" width="{widths[name] - 2}" height="{THREAD_BAND - 2}" '
                   f'fill="#cfd8dc"/><text x="{left + 6}" y="{CPU_BAND + 15}" '
                   f'font-family="monospace" font-size="12" fill="#1c2733">{escape(name)}</text>'
                   f'<line x1="{left + widths[name] - 1}" y1="{CPU_BAND}" '
                   f'x2="{left + widths[name] - 1}" y2="{height - 26}" stroke="#e0e4e8"/></g>')
    return out


def _row_y(top: int, step: int) -> int:
    return top + (step - 1) * ROW


def _steps(finding: Finding, model: WitnessModel, geometry, boxes, link) -> list[str]:
    """A box per step in its thread's column, left of the lock bars."""
    x_of, widths, top = geometry
    out = []
    for number, step in enumerate(finding.witness, 1):
        y = _row_y(top, number)
        out.append(f'<text x="{GUTTER - 6}" y="{y + 17}" text-anchor="end" '
                   f'font-family="monospace" font-size="11" fill="#90a4ae">{number}</text>')
        left = x_of[step.thread]
        room = int((boxes[step.thread] - 12) / CHAR_WIDTH)
        shown = step.action if len(step.action) <= room else step.action[:room - 1] + "\u2026"
        tip = f"{number}. {step.thread}: {step.action}" + (f" ({step.note})" if step.note else "")
        tip += f"\n{step.span.file}:{step.span.line}"
        body = (f'<rect x="{left + 2}" y="{y + 3}" width="{boxes[step.thread]}" '
                f'height="{ROW - 6}" rx="4" class="step-box" fill="#eef3f8" stroke="#b0bec5"/>'
                f'<text x="{left + 8}" y="{y + 17}" '
                f'font-family="monospace" font-size="12">{escape(shown)}</text>')
        anchor = link(step.span)
        kinds = " ".join(model.kinds.get(number, ()))
        group = (f'<g class="step" data-step="{number}" data-thread="{escape(step.thread)}" '
                 f'data-kinds="{escape(kinds)}"><title>{escape(tip)}</title>')
        if anchor:
            out.append(f'{group}<a href="#{escape(anchor)}">{body}</a></g>')
        else:
            out.append(f"{group}{body}</g>")
    return out


def _lock_colours(model: WitnessModel) -> dict[str, str]:
    locks = sorted({h.lock for h in model.holds})
    return {lock: PALETTE[i % len(PALETTE)] for i, lock in enumerate(locks)}


def _bar_x(hold: Hold, slots: dict[Hold, int], geometry) -> int:
    x_of, widths, _ = geometry
    right = x_of[hold.thread] + widths[hold.thread] - 4
    return right - (slots[hold] + 1) * (BAR_WIDTH + BAR_GAP)


def _bars(model: WitnessModel, slots: dict[Hold, int], geometry) -> list[str]:
    x_of, widths, top = geometry
    colours = _lock_colours(model)
    out = []
    for hold in model.holds:
        x = _bar_x(hold, slots, geometry)
        y1 = _row_y(top, hold.start) + 4
        y2 = _row_y(top, hold.end) + ROW - 4
        dash = "" if hold.released else ' stroke-dasharray="3,2" stroke="#000"'
        out.append(f'<g class="hold" data-lock="{escape(hold.lock)}" '
                   f'data-thread="{escape(hold.thread)}"><title>{escape(hold.thread)} holds '
                   f'{escape(hold.lock)}{" (shared)" if hold.shared else ""}, steps {hold.start}'
                   f'-{hold.end}{"" if hold.released else ", still held"}</title>'
                   f'<rect x="{x}" y="{y1}" width="{BAR_WIDTH}" height="{y2 - y1}" '
                   f'fill="{colours[hold.lock]}"{dash}/></g>')
    return out


def _markers(finding: Finding, model: WitnessModel, geometry, columns) -> list[str]:
    x_of, widths, top = geometry
    out = []
    for number, text in sorted(model.interrupts.items()):
        step = finding.witness[number - 1]
        y = _row_y(top, number)
        same_cpu = [name for name, cpu in columns if cpu == step.cpu]
        left = x_of[same_cpu[0]]
        right = x_of[same_cpu[-1]] + widths[same_cpu[-1]]
        out.append(f'<g class="marker interrupt" data-step="{number}"><title>{escape(text)}'
                   f'{": " + escape(step.note) if step.note else ""}</title>'
                   f'<line x1="{left}" y1="{y + 1}" x2="{right}" y2="{y + 1}" stroke="{AMBER}" '
                   f'stroke-width="2" stroke-dasharray="6,3"/>'
                   f'<path d="M{x_of[step.thread] - 12},{y + 4} l6,0 l-4,8 l6,0 l-9,11 l3,-9 '
                   f'l-5,0 z" fill="{AMBER}"/></g>')
    for number, text in sorted(model.revokes.items()):
        step = finding.witness[number - 1]
        cx, cy = x_of[step.thread] - 7, _row_y(top, number) + ROW // 2
        out.append(f'<g class="marker revoke" data-step="{number}"><title>{escape(text)}</title>'
                   f'<path d="M{cx},{cy - 6} l6,6 l-6,6 l-6,-6 z" fill="{RED}"/></g>')
    return out


def _blocks(finding: Finding, model: WitnessModel, geometry, slots, final_blocks,
            ident) -> list[str]:
    """Red arrows from each blocked thread to the bar of the lock it waits for."""
    x_of, widths, top = geometry
    out = []
    row_top = _row_y(top, len(finding.witness) + 1)
    for index, block in enumerate(model.blocks):
        final = block in final_blocks
        y = (row_top + 22 + BLOCK_STAGGER * final_blocks.index(block) if final
             else _row_y(top, block.step) + ROW // 2)
        holds = [h for h in model.holds if h.thread == block.holder and h.lock == block.lock]
        target_x = (_bar_x(holds[-1], slots, geometry) + BAR_WIDTH // 2 if holds
                    else x_of[block.holder] + widths[block.holder] // 2)
        source_x = x_of[block.thread] + (widths[block.thread] // 2 if final else 8)
        label = f"waits for {block.lock}, held by {block.holder}"
        text = ""
        if final:
            room = int((widths[block.thread] - 16) / CHAR_WIDTH)
            shown = f"blocked on {block.lock}"
            text = (f'<text x="{x_of[block.thread] + 8}" y="{row_top + 14}" '
                    f'font-family="monospace" font-size="11" fill="{RED}">'
                    f'{escape(shown[:room])}</text>')
        out.append(f'<g class="block" data-thread="{escape(block.thread)}" '
                   f'data-lock="{escape(block.lock)}" data-holder="{escape(block.holder)}">'
                   f'<title>{escape(block.thread)} {escape(label)}</title>{text}'
                   f'<path d="M{source_x},{y} L{target_x},{y}" fill="none" stroke="{RED}" '
                   f'stroke-width="2" marker-end="url(#{ident}-block)"/></g>')
    return out


def _preempted(finding: Finding, model: WitnessModel, geometry) -> list[str]:
    """Threads stuck because an interrupt on their CPU cannot finish."""
    x_of, widths, top = geometry
    row_top = _row_y(top, len(finding.witness) + 1)
    out = []
    for thread, irq in sorted(model.preempted.items()):
        if thread not in x_of:
            continue
        room = int((widths[thread] - 16) / CHAR_WIDTH)
        out.append(f'<g class="preempted" data-thread="{escape(thread)}" '
                   f'data-interrupt="{escape(irq)}"><title>{escape(thread)} is interrupted by '
                   f'{escape(irq)}, which cannot finish</title><text x="{x_of[thread] + 8}" '
                   f'y="{row_top + 14}" font-family="monospace" font-size="11" '
                   f'fill="{AMBER}">{escape(("interrupted by " + irq)[:room])}</text></g>')
    return out


def _legend(model: WitnessModel, y: int) -> str:
    colours = _lock_colours(model)
    items, x = [], GUTTER
    for lock, colour in colours.items():
        items.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}" font-family="monospace" font-size="11">'
                     f'{escape(lock)}</text>')
        x += 24 + int(len(lock) * CHAR_WIDTH)
    return f'<g class="legend">{"".join(items)}</g>'
