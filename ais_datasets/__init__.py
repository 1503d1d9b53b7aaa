"""PyTorch datasets for AIStore: a drop-in replacement for ``aistore.pytorch``.

Every class of ``aistore.pytorch`` is here under its upstream name and module
(``ais_datasets.shard_reader.AISShardReader`` ...), plus ``AISBatchIterDataset`` and
``AISParallelMapDataset`` at the package root, the retry policy and the error types::

    from ais_datasets import AISShardReader, RetryPolicy, ShardReadError
"""

from ais_datasets.base_iter_dataset import AISBaseIterDataset
from ais_datasets.base_map_dataset import AISBaseMapDataset
from ais_datasets.batch_iter_dataset import AISBatchIterDataset
from ais_datasets.dynamic_sampler import DynamicBatchSampler
from ais_datasets.errors import (
    ChecksumError,
    ErrorBudgetExceeded,
    ReadRetriesExhausted,
    ShardReadError,
    ShardReadWarning,
    TruncatedShardError,
)
from ais_datasets.iter_dataset import AISIterDataset
from ais_datasets.map_dataset import AISMapDataset
from ais_datasets.multishard_dataset import AISMultiShardStream
from ais_datasets.parallel_map_dataset import AISParallelMapDataset
from ais_datasets.retry import RetryPolicy
from ais_datasets.shard_reader import AISShardReader

__all__ = [
    "AISBaseIterDataset",
    "AISBaseMapDataset",
    "AISBatchIterDataset",
    "AISIterDataset",
    "AISMapDataset",
    "AISMultiShardStream",
    "AISParallelMapDataset",
    "AISShardReader",
    "ChecksumError",
    "DynamicBatchSampler",
    "ErrorBudgetExceeded",
    "ReadRetriesExhausted",
    "RetryPolicy",
    "ShardReadError",
    "ShardReadWarning",
    "TruncatedShardError",
]
