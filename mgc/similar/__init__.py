""""More like this": the tracks of a library nearest to a song, or to a genre, in a model's embedding space
(the ``similar`` stage).

A model's embedding of a track is the mean over its windows of the input of the model's last Dense
layer (:mod:`.embedder`: the fusion models' fused representation, musicnn's 200-d penultimate layer),
made unit length; its genre is the model's prediction. A library's embeddings are computed once with
predict's machinery and cached in an index that a rerun only updates, for new, changed and vanished
files (:mod:`.index`, :mod:`.build`); queries are exact cosine searches with scikit-learn's
``NearestNeighbors`` (:mod:`.query`). Keras and numpy only: no TensorFlow code here.
"""

from mgc.similar.build import Built, build_index, embed_file, library_files
from mgc.similar.embedder import EmbeddingRunner, open_embedder, split_model, unit
from mgc.similar.index import Entries, Index, cache_root, index_dir
from mgc.similar.query import Match, centroid, genre_named, matches, nearest, to_text, write_matches

__all__ = [
    "Built", "EmbeddingRunner", "Entries", "Index", "Match", "build_index", "cache_root", "centroid", "embed_file",
    "genre_named", "index_dir", "library_files", "matches", "nearest", "open_embedder", "split_model", "to_text",
    "unit", "write_matches",
]
