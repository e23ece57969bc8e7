"""The configuration file: one module per section, each key declared once (settings.py).

Importers name the module that defines what they use; nothing is re-exported here.
"""
