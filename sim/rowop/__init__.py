"""Row operations (issue [J]): float64 references (``reference.py``, torch semantics), bit-exact
integer golden models of the softmax and RMSNorm/LayerNorm units (``golden.py``), and their
accuracy on realistic rows with an error budget per approximation (``accuracy.py``)."""
