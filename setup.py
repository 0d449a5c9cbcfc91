"""Packaging beyond what setup.cfg can say: the experiment configs of the top-level ``pipelines/``
folder (their one copy in git) are shipped inside the package as ``mgc/configs/*.toml``, so an
installed wheel can ``mgc run demo`` from any folder. Everything else is in setup.cfg."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mgc", "mgc.*"]) + ["mgc.configs"],
    package_dir={"mgc.configs": "pipelines"},
    package_data={"mgc.configs": ["*.toml"], "mgc.datasets": ["*.csv"]},
)
