# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Versions across the fleet: the skew rules between layers and the steps of an upgrade."""
