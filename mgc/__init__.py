"""mgc: music genre classification by multi-modal fusion (Keras 3).

Data flow: datasets -> audio -> features -> cache -> input (tf.data) -> models -> pipelines.
"""

__version__ = "0.1.0"
