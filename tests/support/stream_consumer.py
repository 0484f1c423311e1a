"""The output side of a stream testbench in the Amaranth simulator: random back-pressure, every
transferred beat recorded, stream rule 3 checked on every cycle, a hang and any extra beat failing."""
from __future__ import annotations


def consumer(port, n_out: int, *, stall: float, rng, limit: int, drain: int, got: list, t_out: list):
    """An async testbench taking ``n_out`` beats from stream ``port`` (``ready`` low with
    probability ``stall``) into ``got`` (dicts of the payload's fields) and their cycles into
    ``t_out``; fails after ``limit`` cycles, or on a beat within ``drain`` cycles after the last."""
    fields = list(port.payload.shape().members)

    async def run(ctx):
        cycle = 0
        while len(got) < n_out:
            # o.valid must not depend on o.ready (stream rule 3)
            ctx.set(port.ready, 0)
            v0 = ctx.get(port.valid)
            ctx.set(port.ready, 1)
            assert ctx.get(port.valid) == v0, f"o.valid depends on o.ready at cycle {cycle}"
            ctx.set(port.ready, int(rng.random() >= stall))
            _, _, valid, ready, pay = await ctx.tick().sample(port.valid, port.ready, port.payload)
            if valid and ready:
                got.append({f: int(getattr(pay, f)) for f in fields})
                t_out.append(cycle)
            cycle += 1
            assert cycle < limit, f"stalled: {len(got)} of {n_out} beats after {cycle} cycles"
        ctx.set(port.ready, 1)                          # nothing more may come out
        for _ in range(drain):
            _, _, valid = await ctx.tick().sample(port.valid)
            assert not valid, "an extra output beat after the last row"

    return run
