"""The NLI engine: params, Amaranth RTL (search, micro bin, table storage, interpolation) and generator."""
