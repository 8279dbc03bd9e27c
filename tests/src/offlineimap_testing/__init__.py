"""Test infrastructure for OfflineIMAP: a real Dovecot server fixture and message builders.

Installed as the pytest plugin ``offlineimap`` (entry point group ``pytest11``), so every test in
the repository can ask for ``dovecot_server``, ``imap_account``, ``dovecot_factory`` and
``offline_home`` without a conftest.py.
"""
