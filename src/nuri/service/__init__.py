"""Use cases of the commons. Each public method is one transaction and checks who may do it."""
