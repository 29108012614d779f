# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap its virtualenvs.

ansible-test sanity makes one virtualenv per sanity test and fills it with pip by running
``~/.ansible/test/cache/get_pip_<version>.py`` as ``__main__`` inside that virtualenv, with
pip-install arguments such as ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.
When that file is missing it downloads it from ci-files.testing.ansible.com, which these machines
cannot reach. tools/test.sh installs this script under that name instead: it bootstraps pip from
the interpreter's own ``ensurepip`` (no network), then lets that pip install the requested
packages from the package index the machine is configured for (PyPI), as get-pip.py would.

ensurepip runs in a subprocess on purpose: in-process, it sets PIP_CONFIG_FILE=/dev/null in the
environment, and the pip after it would then ignore /etc/pip.conf (index, CA certificates).
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that are not pip-install options.
_GET_PIP_ONLY = {'--no-setuptools': 'setuptools', '--no-wheel': 'wheel'}


def main(argv):
    unwanted = [pkg for flag, pkg in _GET_PIP_ONLY.items() if flag in argv]
    install_args = [arg for arg in argv if arg not in _GET_PIP_ONLY]
    python = sys.executable
    subprocess.run([python, '-m', 'ensurepip', '--default-pip'], check=True)
    subprocess.run([python, '-m', 'pip', 'install'] + install_args, check=True)
    # ensurepip of Python 3.11 also brings setuptools, which get-pip.py was asked to leave out.
    if unwanted:
        subprocess.run([python, '-m', 'pip', 'uninstall', '--yes', '--disable-pip-version-check'] + unwanted, check=True)


if __name__ == '__main__':
    main(sys.argv[1:])
