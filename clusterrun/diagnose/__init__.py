"""Why a run failed, and the concrete fix: an ordered list of rules over the evidence."""
