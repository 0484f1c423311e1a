"""Row operations built from NLI engines (issue [J]): softmax, RMSNorm and LayerNorm.

``params.py`` holds the frozen parameter objects (``SoftmaxParams``, ``NormParams``) and their
presets; the bit-exact golden models are in ``nlihw.sim.rowop``. No RTL yet.
"""
