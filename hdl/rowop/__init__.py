"""Row operations built from NLI engines (issue [J]): softmax, RMSNorm and LayerNorm.

``params.py`` holds the frozen parameter objects (``SoftmaxParams``, ``NormParams``) and their
presets; ``softmax.py`` and ``norm.py`` the one-lane RTL, ``generate.py`` its deliverables; the
bit-exact golden models are in ``nlihw.sim.rowop``.
"""
