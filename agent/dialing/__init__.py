"""Placing calls: the Dialer seam (base), one dialer per network, and the one gated path (place)."""
