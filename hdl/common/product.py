"""How the RTL builds a product: ``a * b`` for the synthesis tool to map (``infer``), or, for a target
whose DSP block multiplies signed A x B bits, one such multiply of the operands' low parts plus
the rest as shift-and-add logic in the fabric (``Multipliers``). Every form is the exact
product: only the netlist changes.

``Product`` puts a product in a module of its own, so that hierarchical synthesis maps one
multiplier of a kind once and counts it per instance (the scan unit's per-lane products).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from nlihw.formats import Rounding, parse_rounding
from .fixed_point import round_shift
from .multipliers import Multipliers


def signed_width(shape: Shape) -> int:
    """Bits of ``shape`` as a signed multiplier operand (an unsigned one needs a zero sign bit)."""
    return shape.width + (0 if shape.signed else 1)


def _signed_high(v: Value, lo: int) -> Value:
    """``v``'s bits from ``lo`` up, keeping its signedness (v = high << lo + v[:lo])."""
    high = v[lo:]
    return high.as_signed() if v.shape().signed else high


def _extend(m: Module, v: Value, width: int) -> Value:
    """``v`` sign- or zero-extended (as its shape says) or cut to ``width`` bits, unsigned: its
    value modulo 2**width. ``v`` is first a signal of ``m`` (one net for its sign bit's copies)."""
    v = Value.cast(v)
    if len(v) >= width:
        return v[:width]
    if not isinstance(v, Signal):
        sig = Signal(v.shape(), name="ext")
        m.d.comb += sig.eq(v)
        v = sig
    fill = v[-1].replicate(width - len(v)) if v.shape().signed else Const(0, width - len(v))
    return Cat(v, fill)


BOOTH_MIN_BITS = 4     # from this many bits of ``small`` on, radix-4 Booth rows (half as many)


def _booth_rows(m: Module, small: Value, big: Value, shift: int, width: int) -> list[Value]:
    """small * big << shift as rows modulo 2**width by radix-4 Booth recoding: small = sum of
    d_j 4^j with digits d_j in -2..2 from bits (2j+1, 2j, 2j-1); one row d_j * big per digit (a
    negative digit's row is ~(|d_j| big), its +1 gathered with the others' into one last row)."""
    bits = [small[i] for i in range(len(small))]
    if not small.shape().signed:
        bits.append(Const(0, 1))                        # as a signed value, one bit longer
    if len(bits) % 2:
        bits.append(bits[-1])                            # sign-extended to an even length
    big2 = Signal(signed(len(big) + 2) if big.shape().signed else len(big) + 1, name="booth_2x")
    m.d.comb += big2.eq(big << 1)
    rows, ones = [], []
    for j in range(len(bits) // 2):
        p = shift + 2 * j
        if p >= width:
            break
        hi, mid, lo = bits[2 * j + 1], bits[2 * j], bits[2 * j - 1] if j else Const(0, 1)
        one, two = mid ^ lo, (hi & ~mid & ~lo) | (~hi & mid & lo)
        neg = hi & ~(mid & lo)
        mag = _extend(m, Mux(one, big, Mux(two, big2, 0)), width - p)
        row = Signal(width - p, name="booth")
        m.d.comb += row.eq(Mux(neg, ~mag, mag))
        rows.append(_extend(m, row << p, width))
        ones.append((p, neg))
    fix = Signal(width, name="booth_ones")
    m.d.comb += [fix[p].eq(neg) for p, neg in ones]
    return rows + [fix]


def _partial_rows(m: Module, small: Value, big: Value, shift: int, width: int) -> list[Value]:
    """small * big << shift as rows modulo 2**width: one shifted copy of ``big`` per bit of
    ``small``, its top row negated (~row + 1) when ``small`` is signed; Booth rows
    (``_booth_rows``) from ``BOOTH_MIN_BITS`` bits of ``small`` on."""
    n = len(small)
    if n >= BOOTH_MIN_BITS:
        return _booth_rows(m, small, big, shift, width)
    rows = [_extend(m, Mux(small[i], big, 0), width - shift - i) << (shift + i) for i in range(n)
            if shift + i < width]
    if small.shape().signed and shift + n - 1 < width:
        rows[-1] = _extend(m, ~rows[-1], width)           # -row = ~row + 1
        rows.append(Const(1, width))
    return [_extend(m, r, width) for r in rows]


def _carry_save(m: Module, rows: list[Value], width: int) -> list[Value]:
    """Reduce ``rows`` to at most two with the same sum modulo 2**width, by 3:2 compressors (each
    bit one full adder: logic levels instead of a carry chain per pair of rows). Every row is a
    signal of ``m``, so each is one net however many gates read it."""
    def net(v):
        sig = Signal(width, name="csa")
        m.d.comb += sig.eq(v)
        return sig
    rows = [net(r) for r in rows]
    while len(rows) > 2:
        out = []
        full = len(rows) - len(rows) % 3
        for k in range(0, full, 3):
            a, b, c = rows[k:k + 3]
            out += [net(a ^ b ^ c), net(((a & b) | (a & c) | (b & c)) << 1)]
        rows = out + rows[full:]
    return rows


def compress_terms(m: Module, terms: list[Value], width: int) -> list[Value]:
    """``terms`` reduced to at most two rows with the same sum modulo 2**width (a carry-save
    tree: logic levels, no carry chain), so a register may sit between the tree and its add."""
    return _carry_save(m, [_extend(m, t, width) for t in terms], width)


def sum_terms(m: Module, terms: list[Value], width: int) -> Value:
    """The sum of ``terms`` modulo 2**width as a signed value: a carry-save tree to two rows, then
    one carry-propagate add."""
    rows = _carry_save(m, [_extend(m, t, width) for t in terms], width)
    total = rows[0] if len(rows) == 1 else rows[0] + rows[1]
    return total[:width].as_signed()


def round_terms(m: Module, terms: list[Value], width: int, s: int, rounding) -> Value:
    """The sum of ``terms`` (modulo 2**width, signed: a product's terms, so its magnitude is at
    most 2**(width-2)) divided by 2**s and rounded as ``round_shift`` does. Nearest-even adds the
    half as one more carry-save row and clears the result's last bit on an exact tie (no dropped
    bit left after the half), so the sum and its rounding share one carry chain instead of two."""
    if not 0 < s <= width - 3 or parse_rounding(rounding) is not Rounding.NEAREST_EVEN:
        return round_shift(sum_terms(m, terms, width), s, rounding)
    t = sum_terms(m, [*terms, Const(1 << (s - 1), width)], width)
    tie = ~t[:s].any()
    return Cat(t[s] & ~tie, t[s + 1:]).as_signed()


def plus_ready(width: int, s: int, rounding, addend_width: int) -> bool:
    """Whether ``round_terms_plus`` takes its one-chain form: nearest-even, a shift it can take,
    and terms whose modulus holds the whole sum (width >= s + addend_width + 2)."""
    return 0 < s <= width - 3 and parse_rounding(rounding) is Rounding.NEAREST_EVEN \
        and width >= s + addend_width + 2


def round_plus_rows(m: Module, rows: list[Value], width: int, s: int, addend: Value) -> list[Value]:
    """The carry-save rows (at most two) of T = rows + half + addend * 2**s, the sum that
    ``round_plus_select`` rounds (``plus_ready`` must hold): the half sits below the addend's bits
    in one row, so the addend costs the tree one row and no carry chain."""
    row = Cat(Const(1 << (s - 1), s), _extend(m, Value.cast(addend), width - s))
    return compress_terms(m, [*rows, row], width)


def round_plus_select(m: Module, terms: list[Value], width: int, s: int, addend_lsb) -> Value:
    """From T's terms (``round_plus_rows``, plus any other term, e.g. a DSP block's product):
    T >> s, or (T - 2**s) >> s when T is an exact tie whose rounded value (T >> s minus the
    addend) is odd. The two candidates are two carry chains side by side (the second adds the
    constant -2**s as one more carry-save row) and a mux picks one; signed, ``width - s`` bits."""
    rows = compress_terms(m, terms, width)
    hi = sum_terms(m, rows, width)
    lo = sum_terms(m, [*rows, Const(-(1 << s) % (1 << width), width)], width)
    fix = ~hi[:s].any() & (hi[s] ^ addend_lsb)
    return Mux(fix, lo[s:], hi[s:]).as_signed()


def round_terms_plus(m: Module, terms: list[Value], width: int, s: int, rounding, addend: Value) -> Value:
    """``round_terms(terms, width, s, rounding) + addend`` (signed, ``width - s`` bits) in one
    carry chain per candidate: the addend joins the carry-save tree at 2**s, and for nearest-even a
    second sum, one less at 2**s, is the result when the tie's cleared last bit was 1. The two
    chains run side by side and a mux picks one, instead of a chain, the tie test and a second
    chain for the add. Without ``plus_ready`` the plain form."""
    addend = Value.cast(addend)
    if not plus_ready(width, s, rounding, len(addend)):
        return round_terms(m, terms, width, s, rounding) + addend
    return round_plus_select(m, round_plus_rows(m, terms, width, s, addend), width, s, addend[0])


def product_parts(m: Module, a: Value, b: Value, mult: Multipliers, width: int | None = None):
    """a * b as (rows, blocks): the fabric's partial products, not yet compressed, and the
    multiplies left to the DSP block or the tool (``[a * b]``, the block's product of the low
    parts, or none); their sum modulo 2**width is the product. ``product_terms`` compresses the
    rows; a caller may add rows of its own to that tree first."""
    a, b = Value.cast(a), Value.cast(b)
    if mult.dsp is None:
        return [], [a * b]
    wide, narrow = (a, b) if signed_width(a.shape()) >= signed_width(b.shape()) else (b, a)
    ww, wn = signed_width(wide.shape()), signed_width(narrow.shape())
    width = max(width or 0, ww + wn)
    if wn <= mult.fabric_bits:
        return _partial_rows(m, narrow, wide, 0, width), []
    port_a, port_b = mult.dsp
    if ww <= port_a and wn <= port_b:
        return [], [wide * narrow]
    if (mult.unsigned and not wide.shape().signed and not narrow.shape().signed
            and max(len(a), len(b)) <= port_a and min(len(a), len(b)) <= port_b):
        return [], [a * b]                 # the block's unsigned mode
    # wide = wide_hi * 2^la + wide_lo with wide_lo unsigned (A-1 bits: a signed A-bit input);
    # likewise narrow when it exceeds B. The block multiplies the low parts; the high parts'
    # partial products are compressed while it does, and its product joins them last.
    la = port_a - 1 if ww > port_a else None
    lb = port_b - 1 if wn > port_b else None
    wide_lo = wide[:la] if la is not None else wide
    narrow_lo = narrow[:lb] if lb is not None else narrow
    rows = []
    if la is not None:
        rows += _partial_rows(m, _signed_high(wide, la), narrow, la, width)
    if lb is not None:
        rows += _partial_rows(m, _signed_high(narrow, lb), wide_lo, lb, width)
    return rows, [wide_lo * narrow_lo]


def product_terms(m: Module, a: Value, b: Value, mult: Multipliers, width: int | None = None) -> list[Value]:
    """a * b as at most three values whose sum modulo 2**width (width: the operands' signed
    widths added, or more when given, e.g. to add several products' terms in one carry-save tree)
    is the product: ``[a * b]`` when one multiply builds it (or the tool infers it);
    else the fabric's partial products compressed to two rows and, last, the DSP block's product
    of the low parts, so that a register on each term holds the block's product in its own
    output register and the carry-propagate add moves behind it."""
    a, b = Value.cast(a), Value.cast(b)
    w = max(width or 0, signed_width(a.shape()) + signed_width(b.shape()))
    rows, blocks = product_parts(m, a, b, mult, w)
    return (_carry_save(m, rows, w) if rows else []) + blocks


def fabric_product(m: Module, small: Value, big: Value) -> Value:
    """small * big from shifted partial products (one row per bit of ``small``, its top row
    subtracted when signed) in a carry-save tree and one final add, built in ``m``: no multiplier
    for a tool to put in a DSP block."""
    width = signed_width(small.shape()) + signed_width(big.shape())
    return sum_terms(m, _partial_rows(m, small, big, 0, width), width)


def multiply(m: Module, a: Value, b: Value, mult: Multipliers) -> Value:
    """The exact product a * b built as ``mult`` says (its adder tree, if any, in ``m``)."""
    terms = product_terms(m, a, b, mult)
    if len(terms) == 1:
        return terms[0]
    a, b = Value.cast(a), Value.cast(b)
    return sum_terms(m, terms, signed_width(a.shape()) + signed_width(b.shape()))


class Product(wiring.Component):
    """``p`` = ``a`` * ``b``, combinational, built as ``mult`` says; ``p``'s shape is the caller's
    (wide enough: exact).

    Parameters: ``a_shape``, ``b_shape``, ``p_shape``: the operands' and the product's shapes;
    ``mult`` (``Multipliers``): ``infer`` or the target's DSP operand widths.
    Members: ``a``: In(a_shape). ``b``: In(b_shape). ``p``: Out(p_shape).
    """

    def __init__(self, a_shape, b_shape, p_shape, mult: Multipliers | None = None):
        a, b, p = Shape.cast(a_shape), Shape.cast(b_shape), Shape.cast(p_shape)
        self._mult = mult or Multipliers()
        super().__init__({"a": In(a), "b": In(b), "p": Out(p)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(multiply(m, self.a, self.b, self._mult))
        return m


def product(m: Module, name: str, a, b, p_shape, mult: Multipliers | None = None):
    """Instantiate ``Product`` as submodule ``name`` of ``m`` on ``a`` and ``b``; its output."""
    m.submodules[name] = mul = Product(a.shape(), b.shape(), p_shape, mult)
    m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
    return mul.p


def term_count(a_shape, b_shape, mult: Multipliers | None = None) -> int:
    """How many terms ``product_terms`` gives for these operands (1 to 3)."""
    scratch = Module()
    scratch._MustUse__silence = True               # built to count, never elaborated
    return len(product_terms(scratch, Signal(Shape.cast(a_shape)), Signal(Shape.cast(b_shape)),
                             mult or Multipliers()))


class ProductTerms(wiring.Component):
    """``t``: the values whose sum modulo 2**width is ``a`` * ``b`` (``product_terms``: one, or
    the fabric's rows and the DSP block's product), width = the operands' signed widths added. A
    register on each term puts a pipeline stage inside the product: the block's product in its
    own output register, the carry-propagate add behind it (``round_terms`` adds and rounds there
    in one carry chain).

    Parameters: ``a_shape``, ``b_shape``, ``mult`` as ``Product``'s; ``width``: the terms' width
    when more than the operands' signed widths added. Members: ``a``, ``b`` (in), ``t`` (out,
    ``ArrayLayout(unsigned(width), term_count(...))``), ``width`` (attribute).
    """

    def __init__(self, a_shape, b_shape, mult: Multipliers | None = None, width: int | None = None):
        a, b = Shape.cast(a_shape), Shape.cast(b_shape)
        self._mult = mult or Multipliers()
        self.width = max(width or 0, signed_width(a) + signed_width(b))
        count = term_count(a, b, self._mult)
        super().__init__({"a": In(a), "b": In(b), "t": Out(data.ArrayLayout(self.width, count))})

    def elaborate(self, platform):
        m = Module()
        terms = product_terms(m, self.a, self.b, self._mult, self.width)
        m.d.comb += [self.t[k].eq(_extend(m, v, self.width)) for k, v in enumerate(terms)]
        return m


def product_terms_of(m: Module, name: str, a, b, mult: Multipliers | None = None,
                     width: int | None = None) -> list[Value]:
    """Instantiate ``ProductTerms`` as submodule ``name`` of ``m`` on ``a`` and ``b``; its terms."""
    m.submodules[name] = mul = ProductTerms(a.shape(), b.shape(), mult, width)
    m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
    return [mul.t[k] for k in range(len(mul.t))]
