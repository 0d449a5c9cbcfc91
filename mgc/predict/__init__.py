"""Genre predictions for audio files with a trained or exported model (the ``predict`` stage).

Each file is decoded once and cut into the model's clip-length windows (:mod:`.windows`), the
windows' views are computed in parallel worker processes, the model runs on batches of windows
gathered across files (:mod:`.batch`) through one of three backends (:mod:`.runners`: an
exported SavedModel, a ``.keras`` checkpoint, or TensorFlow Serving), each file's window
probabilities are averaged, and the rows are written as CSV, JSON or a text table, optionally
sorting the files into genre folders (:mod:`.table`).
"""

from mgc.predict.batch import Row, predict_files, window_settings
from mgc.predict.files import expand_paths
from mgc.predict.runners import KerasRunner, Runner, SavedModelRunner, ServerRunner, open_runner
from mgc.predict.table import columns, organize, output_format, to_text, write_table
from mgc.predict.windows import WindowSettings, track_windows, window_starts

__all__ = [
    "KerasRunner", "Row", "Runner", "SavedModelRunner", "ServerRunner", "WindowSettings", "columns",
    "expand_paths", "open_runner", "organize", "output_format", "predict_files", "to_text", "track_windows",
    "window_settings", "window_starts", "write_table",
]
