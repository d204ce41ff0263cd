"""`sharder.plugin`: the name pytest's `pytest11` entry point and `-p sharder.plugin` load; the plugin itself lives in
`sharder.pytest_plugin.plugin`.

The name is public (users write it in `-p`, in `pytest_plugins` and in `-p no:` lists), so it stays, and it must
stay one module: a second module object with the same hooks would run every hook twice. Importing this name hands
back the plugin module itself.
"""

import sys

from sharder.pytest_plugin import plugin as _plugin

sys.modules[__name__] = _plugin
