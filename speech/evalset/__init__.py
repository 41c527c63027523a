"""Evaluation material and the protocol that keeps it out of everything trained or tuned."""
