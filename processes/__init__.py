"""The BPMN and DMN files Sift ships, loaded as version 1 on first start.

The wheel carries this folder as the package ``engine.processes.shipped`` (see setup.py).
"""
