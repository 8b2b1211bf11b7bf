"""The domain: immutable values (campaign, step, group, run states), located problems and the error tree.

Nothing here reads a file, starts a process or talks to a service; every other layer imports it.
"""
