"""The fused Mamba selective-scan unit: params, RTL and generator."""
