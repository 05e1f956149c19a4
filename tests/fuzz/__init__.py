"""Differential fuzzing of symnet. Hypothesis keeps its working files (the constants it
extracts from the sources, explanation patches) in a temporary directory, not in the
checkout; no example database is kept at all (``database=None`` in the tests)."""

import os
import tempfile

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "symnet-hypothesis"))
