"""The NLI engine's golden model, float64 references and cocotb bench."""
