"""conftest_lib: cleanup fixtures and markers that keep long sequential pytest runs from running out of memory.

Enable with `pytest_plugins = ["conftest_lib"]` in a conftest.py.
"""
