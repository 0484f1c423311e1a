"""The tables ``make bench`` prints, one module per section (``nlihw.bench`` runs them): the only
place that measures the whole stack, so it sits above every layer it measures."""
