"""Allocation programmes, pure: rubrics, conflict rules, review normalisation, the award
optimiser and stage gates. No I/O; the service layer stores and serves them."""
