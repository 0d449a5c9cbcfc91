"""Batches that split evenly across data-parallel replicas (:meth:`mgc.training.distribute.Replicas.data`).

A batch whose size the replicas divide passes unchanged (with sample weights 1). A last, smaller
batch that they do not divide is repeated once per replica, with sample weights ``1 / replicas``:
its sample-weighted mean loss, gradients and accuracy equal the single-device ones. Under JAX
multi-process training each process then keeps its part of every (evened) global batch, since
``keras.distribution`` assembles the global batch from each process's part.
"""

from __future__ import annotations


def split_evenly(dataset, replicas: int, processes: int = 1, index: int = 0, *, shard_by_data: bool = False):
    """``dataset`` of ``(inputs, labels)`` batches as ``(inputs, labels, weights)`` batches that
    split evenly across ``replicas``; this process (``index`` of ``processes``) keeps its part.

    ``shard_by_data``: the strategy distributes the dataset itself (``tf.distribute``); every worker
    then reads the same batches and keeps its replicas' slices of each (``AutoShardPolicy.DATA``;
    the default would shard TFRecord files between workers: another order than one device).
    """
    import tensorflow as tf

    def even(x, y):
        n = tf.shape(y)[0]
        copies = tf.where(n % replicas == 0, 1, replicas)

        def tile(t):
            return tf.tile(t, tf.concat([[copies], tf.ones([tf.rank(t) - 1], tf.int32)], 0))

        x, y = tf.nest.map_structure(tile, (x, y))
        w = tf.fill([n * copies], 1.0 / tf.cast(copies, tf.float32))
        if processes > 1:  # keras.distribution assembles the global batch from each process's part
            part = n * copies // processes
            x, y, w = tf.nest.map_structure(lambda t: t[index * part:(index + 1) * part], (x, y, w))
        return x, y, w

    dataset = dataset.map(even)
    if shard_by_data:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(options)
    return dataset
