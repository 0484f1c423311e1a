"""The control of a row unit's last pass: the row buffer read back in order to ``o``."""
from __future__ import annotations


def readout_pass(m, o, r, fire, clears) -> None:
    """Inside the FSM's output state: issue reads 0..n-1 (``r.oa`` up to ``r.n``) as the output
    pipeline advances (``fire`` = ``r.adv`` and a read left); when the row's last beat transfers
    on ``o``, clear the write address and ``clears`` and go back to ``LOAD`` for the next row."""
    m.d.comb += fire.eq(r.adv & (r.oa < r.n))
    with m.If(fire):
        m.d.sync += r.oa.eq(r.oa + 1)
    with m.If(o.valid & o.ready & o.payload.last):
        m.d.sync += [r.wa.eq(0), *clears]
        m.next = "LOAD"
