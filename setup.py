"""Which packages the wheel holds; everything else about packaging is in pyproject.toml.

The folders ``processes/`` and ``migrations/`` stay at the top of the repository, and the wheel
carries them inside ``engine`` so an installed Sift finds them with ``importlib.resources``
wherever it is run from. pyproject.toml cannot both discover packages (``packages.find``) and
map folders to packages of other names, and a hand-kept list of every package would leave a new
one out of the wheel without a word: hence these few lines of code.
"""

from setuptools import find_namespace_packages, setup

# package in the wheel -> folder in the repository
FOLDERS = {
    "engine.processes.shipped": "processes",
    "engine.migrations": "migrations",
}
SKIP = ["__pycache__", "*.__pycache__"]

# namespace packages too: data folders such as engine/nlp/model have no __init__.py
packages = find_namespace_packages(include=["engine", "engine.*", "api", "api.*"], exclude=SKIP)
for package, folder in FOLDERS.items():
    packages += [
        package,
        *(f"{package}.{sub}" for sub in find_namespace_packages(where=folder, exclude=SKIP)),
    ]

setup(packages=packages, package_dir=FOLDERS)
