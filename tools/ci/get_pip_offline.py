"""Stand-in for ansible-test's pip bootstrap script, for machines that reach PyPI only.

ansible-test creates its sanity virtual environments without pip and runs a bootstrap
script it normally downloads from its own CI file host (unreachable here). This script
takes the same arguments (pip install options and packages): it installs pip from the
interpreter's bundled wheel (ensurepip), then lets that pip install the requested
packages from the configured package index.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
