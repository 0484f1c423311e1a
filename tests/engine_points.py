"""Design points shared by the engine tests (Amaranth simulator and Verilator benches)."""
from functools import lru_cache

from nlihw.hdl.params import NLIEngineParams
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout


@lru_cache(maxsize=None)
def table(func, fin, fout, M, K, step="mul", rounding="nearest-even", t_bits=8):
    lay = TableLayout(fin, fout, M, K, step, t_bits=t_bits, mul_bits=max(14, t_bits + K.bit_length() + 1),
                      rounding=rounding)
    return fit(func, lay, grid=256).table


# name -> (tables, arch, lanes, storage)
POINTS = {
    "s8-M2-K1-parallel-rom": ((("silu", "s4.4", "s4.4", 2, 1),), "parallel", 1, "rom"),
    "s8-M9-K8-binary-ram-2func": ((("silu", "s3.5", "s2.6", 9, 8), ("tanh", "s3.5", "s2.6", 9, 8)), "binary", 1, "ram"),
    "u8-M33-K1-binary-4lane-floor": ((("sigmoid", "u4.4", "u0.8", 33, 1, "mul", "floor"),), "binary", 4, "rom"),
    "s12-M17-K32-parallel-4lane-pow2": ((("gelu", "s4.8", "s4.8", 17, 32, "pow2"),), "parallel", 4, "rom"),
    "s12-M5-K8-parallel-ram-away": ((("exp", "s4.8", "u1.11", 5, 8, "mul", "nearest-away"),), "parallel", 2, "ram"),
    "s12-M11-K32-binary-tozero": ((("softplus", "s4.8", "u4.8", 11, 32, "mul", "toward-zero", 10),), "binary", 1, "rom"),
}


def params(name, top="nli_engine") -> NLIEngineParams:
    specs, arch, lanes, storage = POINTS[name]
    return NLIEngineParams(tuple(table(*s) for s in specs), arch=arch, lanes=lanes, storage=storage,
                           top_name=top)


def baseline_params(kind, func="silu", fin="s4.4", fout="s4.4", seg_log2=4, lanes=1):
    """Uniform-PWL or full-LUT engines (the baselines) in the same flow."""
    from nlihw.luts.baselines import full_lut_table, uniform_table
    t = uniform_table(func, fin, fout, seg_log2) if kind == "uniform" else full_lut_table(func, fin, fout)
    return NLIEngineParams((t,), arch=kind, lanes=lanes)
