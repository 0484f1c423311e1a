"""The scan unit's timing: latency of each part, the state loop's depth and when it needs bubbles;
all from ``ScanParams.pipeline`` (``PIPELINE``) and the engines' own latencies."""
from __future__ import annotations

from nlihw.hdl.common import credit_queue
from .datapath import engine_params
from .params import ScanParams

STATE_LOOP = ("state_read", "state_in", "state_mult", "state_add")


def pipeline_depths(p: ScanParams) -> dict[str, int]:
    """Register stages of each part, input transfer to output transfer (the latency adds them)."""
    pl = p.pipeline
    d = {"front": 1 + pl.cycles_through("front_sum"), "softplus": engine_params(p, "softplus").latency,
         "dt_a": 1 + pl.cycles_through("dta_in", "dta_mult", "dta_round", "skid_exp"),
         "exp": engine_params(p, "exp").latency,
         "state": 4 + pl.cycles_through("state_copy", *STATE_LOOP, "dot_mult", "dot_rows", "skid_dot")}
    if p.gate:
        d["silu"] = engine_params(p, "silu").latency
    d["output"] = 3 + pl.cycles_through("du_in", "du_mult", "out_mult", "out_round")
    if p.backpressure == "credit":
        d["credit"] = credit_queue.LATENCY
    return d


def latency(p: ScanParams) -> int:
    """Cycles from a (token, channel) input transfer (its last step) to its output transfer.

    The A, D and delta_bias reads are synchronous (block RAM) and issued a cycle ahead (the next
    item's address is known), so their output registers add no cycle to any stage."""
    return sum(pipeline_depths(p).values())


def credit_depth(p: ScanParams) -> int:
    """Words of the credit queue at the unit's output (``backpressure="credit"``): one for each
    channel that can be between the front's issue and the queue's output at one result per
    clock, one for the read whose credit is on its way back (``CREDIT_RETURN``) and one more, so
    that the credits never hold the unit below its rate."""
    return latency(p) + 1 + credit_queue.CREDIT_RETURN


def token_queue_depth(p: ScanParams) -> int:
    """Tokens the B and C queues hold (``TokenQueue``): every token with an item between the
    front's issue and C . h's input at one item per clock (at most its stages and the skid
    buffers' second words), one more being pushed, one more so the front never waits on them."""
    d = pipeline_depths(p)
    in_flight = d["front"] + d["softplus"] + d["dt_a"] + d["exp"] + d["state"] + 2
    return -(-in_flight // (p.d_inner * p.steps)) + 2


def config_read_latency(p: ScanParams) -> int:
    """Cycles from a configuration read's acceptance on ``cfg`` to ``rdata.valid``: one for the
    memories' synchronous read, one to register their words (nothing between a block RAM's output
    and a flip-flop), one to select the word and register it. After every command (and after
    reset) the front waits one cycle more while its bias read is reissued."""
    return 3


def loop_depth(p: ScanParams) -> int:
    """Advances from a state read to the write of its update: 1 plus the enabled state_* points."""
    return 1 + p.pipeline.cycles_through(*STATE_LOOP)


def needs_forwarding(p: ScanParams) -> bool:
    """Whether a state word can be read in the cycle its update is written, so the state memories'
    read ports must forward the write (transparent ports: a mux behind the block RAM's output).
    Reads of a word are ``d_inner * steps`` items apart and its write comes ``loop_depth``
    advances after its read, so with more items than that between reads the write always lands
    first and the ports need not forward."""
    return p.d_inner * p.steps <= loop_depth(p)


def hazard_free(p: ScanParams) -> bool:
    """Whether every state read comes after the write it depends on without waiting.

    The unit issues (token, channel, step) in order, so a state word is read again
    ``d_inner * steps`` items after its last read; the update is written ``loop_depth`` advances
    after the read (a write in the same cycle as the read is forwarded by the memory). With
    ``d_inner * steps >= loop_depth`` the next read always sees the update. Otherwise the unit
    holds an item whose word is still being updated (one-cycle bubbles, fewer results per clock,
    same values).
    """
    return p.d_inner * p.steps >= loop_depth(p)
