"""Verification pieces shared by the designs: stream sources and sinks for cocotb benches."""
