"""One check of a generated module's name (verilog_names.check_module_name), used by the NLI engine
and the scan unit alike: the same names refused with the same one-line messages."""
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.common.verilog_names import check_module_name
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.hdl.scan.params import preset
from nlihw.luts.fitter import fit
from nlihw.luts.layout import TableLayout

BAD = {"module": "keyword", "endmodule": "keyword", "always_comb": "keyword",
       "a b": "identifier", "1abc": "identifier", "": "identifier", "act\n": "identifier",
       "a$b": "identifier", "\\escaped": "identifier", 7: "identifier", None: "identifier",
       "x" * 200 + "-": "identifier"}


@pytest.fixture(scope="module")
def table():
    return fit("silu", TableLayout("s4.4", "s4.4", 2, 1), grid=64).table


def _message(make, name) -> str:
    with pytest.raises(ParamsError) as e:
        make(name)
    return str(e.value)


@pytest.mark.parametrize("name", BAD, ids=[repr(n)[:20] for n in BAD])
def test_both_units_refuse_the_same_names_with_one_message(name, table):
    nli = _message(lambda n: NLIEngineParams((table,), top_name=n), name)
    scan = _message(lambda n: preset("int8", d_inner=2, d_state=4, top_name=n), name)
    assert nli == scan == _message(check_module_name, name)
    assert nli.startswith("top_name ") and BAD[name] in nli
    assert "\n" not in nli and len(nli) < 200


@pytest.mark.parametrize("name", ["Module", "_x", "nli_engine", "a1_B2", "module_top"])
def test_plain_identifiers_pass(name, table):
    assert check_module_name(name) == name
    assert NLIEngineParams((table,), top_name=name).top_name == name
    assert preset("int8", d_inner=2, d_state=4, top_name=name).top_name == name


def test_keyword_message_suggests_a_legal_name():
    msg = _message(check_module_name, "wire")
    assert msg == ("top_name 'wire' is a Verilog/SystemVerilog keyword; choose a module name that "
                   "is not a keyword (e.g. wire_top)")
    check_module_name("wire_top")
    assert _message(lambda n: check_module_name(n, "--top"), "a b").startswith("--top must be ")
