"""SavedModel export for TensorFlow Serving (TensorFlow-specific, like the input pipeline).

``export_model`` writes one Keras model as the next version under ``<export_dir>/<name>/``;
``export_run`` exports a run's trained models; ``read_assets`` / ``latest_version`` let clients
find an export's metadata (labels, audio and spectrogram settings, feature statistics).
"""

from mgc.export.run import export_run, run_assets
from mgc.export.savedmodel import (
    SIGNATURES,
    export_model,
    latest_version,
    read_assets,
    versions,
    write_models_config,
)

__all__ = ["SIGNATURES", "export_model", "export_run", "latest_version", "read_assets", "run_assets", "versions",
           "write_models_config"]
