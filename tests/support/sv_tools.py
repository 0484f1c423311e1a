"""Helpers the emitted-testbench tests share: running a simulator command and corrupting one
vector word (a planted fault the testbench must report)."""
import subprocess
from pathlib import Path


def run(cmd, cwd, timeout=300, env=None):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def corrupt(hex_file: Path, line: int) -> int:
    """Flip bit 0 of one word; returns the new word."""
    words = hex_file.read_text().split()
    words[line] = f"{int(words[line], 16) ^ 1:0{len(words[line])}x}"
    hex_file.write_text("\n".join(words) + "\n")
    return int(words[line], 16)
