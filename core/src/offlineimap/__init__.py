"""offlineimap: two-way IMAP and Maildir sync, with every concrete behaviour in plugins.

The public API for plugin authors: :mod:`offlineimap.hookspecs` (the ``hookimpl`` marker and
every hook), :mod:`offlineimap.repository` and :mod:`offlineimap.status` (the driver
interfaces), :mod:`offlineimap.ui` (the UI base class) and :mod:`offlineimap.errors`.
"""

__version__ = "0.1.0"
