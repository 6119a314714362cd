"""Alembic's migrations. The wheel carries this folder as the package ``engine.migrations``
(see setup.py); ``engine.migrate`` finds it there, and ``alembic.ini`` points developers here."""
