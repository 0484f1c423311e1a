"""Design points shared by the engine tests (Amaranth simulator and Verilator benches)."""
from functools import lru_cache

from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout


@lru_cache(maxsize=None)
def table(func, fin, fout, M, K, step="mul", rounding="nearest-even", t_bits=8, domain=None):
    """A fitted table; ``domain`` (lo, hi) keeps f inside the output format (clamped outside)."""
    lay = TableLayout(fin, fout, M, K, step, t_bits=t_bits, mul_bits=max(14, t_bits + K.bit_length() + 1),
                      rounding=rounding)
    return fit(func, lay, grid=256, domain=domain).table


def spec(func, fin, fout, M, K, step="mul", rounding="nearest-even", t_bits=8, domain=None):
    return (func, fin, fout, M, K, step, rounding, t_bits, domain)


# name -> (tables, arch, lanes, storage)
POINTS = {
    "s8-M2-K1-parallel-rom": ((spec("silu", "s4.4", "s4.4", 2, 1),), "parallel", 1, "rom"),
    "s8-M9-K8-binary-ram-2func": ((spec("silu", "s3.5", "s2.6", 9, 8, domain=(-4, 2)),
                                   spec("tanh", "s3.5", "s2.6", 9, 8)), "binary", 1, "ram"),
    "u8-M33-K1-binary-4lane-floor": ((spec("sigmoid", "u4.4", "u0.8", 33, 1, "mul", "floor", domain=(0, 5)),),
                                     "binary", 4, "rom"),
    "s12-M17-K32-parallel-4lane-pow2": ((spec("gelu", "s4.8", "s4.8", 17, 32, "pow2"),), "parallel", 4, "rom"),
    "s12-M5-K8-parallel-ram-away": ((spec("exp", "s4.8", "u1.11", 5, 8, "mul", "nearest-away", domain=(-8, 0.5)),),
                                    "parallel", 2, "ram"),
    "s12-M11-K32-binary-tozero": ((spec("softplus", "s4.8", "u4.8", 11, 32, "mul", "toward-zero", 10),),
                                  "binary", 1, "rom"),
    # signed outputs (both signs) for the rounding modes that depend on the sign; the first is also
    # the three-table engine: func 3 selects the last table
    "s8-M9-K8-parallel-3func-tozero": ((spec("tanh", "s3.5", "s2.6", 9, 8, "mul", "toward-zero"),
                                        spec("silu", "s3.5", "s2.6", 9, 8, "mul", "toward-zero", domain=(-4, 2)),
                                        spec("gelu", "s3.5", "s2.6", 9, 8, "mul", "toward-zero", domain=(-4, 1.9))),
                                       "parallel", 1, "rom"),
    "s8-M7-K8-binary-2lane-pow2-away": ((spec("tanh", "s3.5", "s2.6", 7, 8, "pow2", "nearest-away"),),
                                   "binary", 2, "rom"),
    "s8-M7-K8-parallel-ram-floor": ((spec("tanh", "s3.5", "s2.6", 7, 8, "mul", "floor"),), "parallel", 1, "ram"),
}


def params(name, top="nli_engine") -> NLIEngineParams:
    specs, arch, lanes, storage = POINTS[name]
    return NLIEngineParams(tuple(table(*s) for s in specs), arch=arch, lanes=lanes, storage=storage,
                           top_name=top)


def reload_table(name):
    """Another function fitted to the layout of ``name``'s last table (sigmoid fits every layout here)."""
    f, *layout, domain = POINTS[name][0][-1]
    return table("sigmoid", *layout)


def baseline_params(kind, func="silu", fin="s4.4", fout="s4.4", seg_log2=4, lanes=1, domain=None):
    """Uniform-PWL or full-LUT engines (the baselines) in the same flow."""
    from nlihw.luts.baselines import full_lut_table, uniform_table
    t = uniform_table(func, fin, fout, seg_log2, domain) if kind == "uniform" \
        else full_lut_table(func, fin, fout, domain)
    return NLIEngineParams((t,), arch=kind, lanes=lanes)


def check_bench(sim, cfg, workdir, test="test_stream"):
    """Run one cocotb engine bench and assert that it ran and passed (naming the failing beat)."""
    from nlihw.sim.nli import bench as eb
    r = eb.run_bench(sim, cfg, workdir, test)
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"bench failed: {eb.first_failure(r.log)} (log {r.log})"
    return r
