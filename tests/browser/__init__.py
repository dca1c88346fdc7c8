# A package, so that pytest imports this folder's conftest as `browser.conftest`:
# as a plain folder its conftest would take the name `conftest`, and the
# `from conftest import ROOT` of the other test modules would find it instead of tests/conftest.py.
