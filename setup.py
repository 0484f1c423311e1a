"""Package discovery for the one distribution ``nlihw``: each top-level folder maps into its namespace.

Every subpackage under a mapped folder is found automatically, so no module can be left out of a
wheel, and no bare ``hdl``/``sim``/``luts``/``synth``/``explore`` lands in site-packages.
"""
from setuptools import find_packages, setup

FOLDERS = {"nlihw": "nlihw", "nlihw.hdl": "hdl", "nlihw.sim": "sim", "nlihw.luts": "luts",
           "nlihw.synth": "synth", "nlihw.explore": "explore"}

packages = []
for name, folder in FOLDERS.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=FOLDERS)
