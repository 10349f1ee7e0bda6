"""Build script: the C extension is declared here (metadata is in pyproject.toml)."""

from setuptools import setup

setup()
