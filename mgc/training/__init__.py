"""Training: fit, k-fold grid search, the FMA fusion study's protocol, data-parallel [distribute].

Import the modules themselves (``mgc.training.fit``, ``.search``, ``.protocol``, ``.experiment``,
``.distribute``): this package imports nothing eagerly, so ``import mgc.training`` stays cheap.
"""
