# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A node's own settings: kernel modules, sysctls, base packages, swap."""
